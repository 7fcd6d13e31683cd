"""Digests and bodies recomputed by implementations we did not write (docs/testing.md).

- warcio's ArchiveIterator with ``check_digests`` (block and payload digests, as warcio reads them);
- FastWARC's ``verify_block_digest`` / ``verify_payload_digest``;
- h11 (the HTTP/1.1 parser behind uvicorn) for the entity body: transfer coding removed, so
  its sha256 must equal the ``sha256`` archiver stores.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import h11
from fastwarc.warc import ArchiveIterator as FastIterator
from warcio.archiveiterator import ArchiveIterator


@dataclass
class Checked:
    rec_type: str
    record_id: str
    target: str | None
    warcio_problems: list
    fastwarc_block: bool | None = None
    fastwarc_payload: bool | None = None  # None: no payload digest to check
    entity_sha256: str | None = None  # h11's entity body, hashed; None when h11 cannot parse it

    @property
    def ok(self) -> bool:
        return not self.warcio_problems and self.fastwarc_block is True and self.fastwarc_payload is not False


def h11_entity(block: bytes) -> bytes | None:
    """The entity body of an HTTP response block as h11 reads it (None if h11 refuses it)."""
    conn = h11.Connection(our_role=h11.CLIENT)
    conn.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
    conn.send(h11.EndOfMessage())
    try:
        conn.receive_data(block)
        conn.receive_data(b"")
        body = bytearray()
        while True:
            ev = conn.next_event()
            if isinstance(ev, h11.Data):
                body += ev.data
            elif isinstance(ev, (h11.InformationalResponse, h11.Response)):
                continue
            else:
                return bytes(body)
    except h11.RemoteProtocolError:
        return None


def check_warc(path: Path) -> list[Checked]:
    """Every record of a WARC file, checked by warcio, FastWARC and (for responses) h11."""
    out: list[Checked] = []
    with open(path, "rb") as fh:
        for rec in ArchiveIterator(fh, check_digests=True):
            rec.raw_stream.read()
            out.append(Checked(rec.rec_type, rec.rec_headers.get_header("WARC-Record-ID"),
                               rec.rec_headers.get_header("WARC-Target-URI"), list(rec.digest_checker.problems)))
    by_id = {c.record_id: c for c in out}
    with open(path, "rb") as fh:  # the raw block, HTTP head included, for h11
        for rec in ArchiveIterator(fh, no_record_parse=True):
            c = by_id[rec.rec_headers.get_header("WARC-Record-ID")]
            block = rec.raw_stream.read()
            if c.rec_type == "response" and rec.rec_headers.get_header("Content-Type", "").startswith("application/http"):
                body = h11_entity(block)
                c.entity_sha256 = hashlib.sha256(body).hexdigest() if body is not None else None
    with open(path, "rb") as fh:
        for rec in FastIterator(fh, parse_http=False):
            c = by_id[rec.record_id]
            c.fastwarc_block = rec.verify_block_digest(consume=False)
            # FastWARC defines the payload of HTTP records only (warcio checks the others)
            if rec.headers.get("WARC-Payload-Digest") and c.rec_type != "revisit" and rec.is_http:
                rec.parse_http()
                c.fastwarc_payload = rec.verify_payload_digest(consume=True)
    return out


def check_store(root: Path) -> list[Checked]:
    """check_warc over every WARC file under ``root/warcs``."""
    return [c for p in sorted((Path(root) / "warcs").glob("*.warc.gz")) for c in check_warc(p)]
