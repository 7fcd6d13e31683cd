"""Recorder: one request → request + response (or revisit) records, as transmitted.

The response is recorded at the socket level (the HttpClient wire tap): the
status line and headers exactly as received (order, case, spacing), and the body
undecoded *including* any chunked transfer framing, like warcio's
``capture_http``. It is spooled to a temp file while every digest is computed by
:class:`archiver.digests.BlockDigester` over exactly the bytes stored (the one
definition ``verify``, ``export`` and revisit detection use too), so a response is
never held in memory whole. The resolver and the capture stage get an
:class:`Exchange` with the first ``keep_body`` bytes of the payload decoded
(chunking and Content-Encoding undone) for parsing.

Interim ``1xx`` answers (``100 Continue``, ``103 Early Hints``) are not the response:
they are kept verbatim in a ``metadata`` record beside it, and the response record
holds the final answer.
"""
from __future__ import annotations

import base64
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timezone
from io import BytesIO
from typing import Callable, Mapping

from warcio.limitreader import LimitReader
from warcio.statusandheaders import StatusAndHeadersParser
from warcio.timeutils import datetime_to_iso_date

from .. import digests
from ..config import Settings
from ..errors import ArchiveError, FetchError, FetchTimeout
from ..model import WarcRef
from ..net.decode import DecodeError, Decoder
from ..net.http import HttpClient
from .known_urls import KnownUrls
from .warcfile import WarcSink

SPOOL_MEMORY = 1 << 20  # a response is spooled in memory up to 1 MiB a fetch in flight, then on disk
SEEN_MAX = 4096  # recent captures remembered in memory; older ones are found through the lookup
RevisitLookup = Callable[[str, str], "WarcRef | None"]  # (url, sha256) -> an earlier full capture


@dataclass(frozen=True)
class Exchange:
    url: str
    status: int
    reason: str
    headers: Mapping[str, str]  # case-insensitive
    peer_ip: str | None
    warc: WarcRef  # the response (or revisit) record
    body: bytes  # first keep_body bytes of the payload, chunking and Content-Encoding undone
    truncated: bool
    payload_length: int
    sha256: str
    request_warc: WarcRef | None = None


def header_end(buf: bytes | bytearray) -> int | None:
    """Offset just past the blank line ending an HTTP header block (see digests.http_head_end)."""
    return digests.http_head_end(buf)


def _status_of(head: bytes) -> int | None:
    parts = head.split(None, 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


class _WireSpool:
    """Wire tap: request bytes in memory, response bytes to a temp file, digests on the way.

    Everything written to the file goes through one BlockDigester, so the record's digests
    are those of the bytes stored. The record is the HTTP message as its own framing delimits
    it (RFC 9112 §6.3): bytes a server sends past its Content-Length or last chunk are not part
    of it and are only counted (``excess``); a body cut at ``max_payload`` sets ``overflow``.
    """

    def __init__(self, spool_dir, max_payload: int):
        self.request = bytearray()
        # in memory up to SPOOL_MEMORY (most pages), on the data disk past it: a file created and
        # removed per exchange cost more system calls than the rest of its recording
        self.file = tempfile.SpooledTemporaryFile(SPOOL_MEMORY, dir=spool_dir, prefix=".spool-")
        self.digester = digests.BlockDigester()
        self.max_payload = max_payload
        self.header_len: int | None = None
        self.payload_len = 0
        self.overflow = False
        self.excess = 0  # bytes received after the end of the message
        self.interim: list[bytes] = []  # 1xx answers before the response, verbatim
        self.failed: OSError | None = None  # writing the spool failed (disk full...)
        self._head = bytearray()
        self._framing = ("close", 0)
        self._left = 0  # Content-Length bytes still expected
        self._ended = False
        self._chunks: digests.Dechunker | None = None

    def sent(self, data: bytes) -> None:
        self.request += data

    def received(self, mv: memoryview) -> None:
        data = bytes(mv)
        while self.header_len is None:
            self._head += data
            end = header_end(self._head)
            if end is None:
                if len(self._head) > digests.MAX_HTTP_HEAD:  # not HTTP we can parse: keep it all
                    self.header_len, data = 0, bytes(self._head)
                    self._head = bytearray()
                    break
                return
            head, data = bytes(self._head[:end]), bytes(self._head[end:])
            self._head = bytearray()
            status = _status_of(head)
            if status is not None and 100 <= status < 200 and status != 101:
                self.interim.append(head)  # not the response: the real one follows
                if not data:
                    return
                continue
            self.header_len = end
            self._write(head)
            self._start_body(head)
        self._body(data)

    def _start_body(self, head: bytes) -> None:
        method = bytes(self.request[:16]).split(b" ", 1)[0].decode("latin-1") or "GET"
        self._framing = digests.body_framing(head, method)
        kind, n = self._framing
        self._left = n
        self._ended = kind == "none" or (kind == "length" and n == 0)
        self._chunks = digests.Dechunker() if kind == "chunked" else None

    def _body(self, data: bytes) -> None:
        if not data:
            return
        if self._ended:
            self.excess += len(data)
            return
        kind = self._framing[0]
        if kind == "length":
            if len(data) >= self._left:
                data, self.excess, self._ended = data[:self._left], self.excess + len(data) - self._left, True
            self._left -= len(data)
        elif kind == "chunked" and self._chunks is not None:
            self._chunks.feed(data)
            if self._chunks.state == "done":
                cut = self._chunks.done_at or 0
                data, self.excess, self._ended = data[:cut], self.excess + len(data) - cut, True
        room = self.max_payload - self.payload_len
        if len(data) > room:
            data, self.overflow = data[:room], True
        if data:
            self._write(data)
            self.payload_len += len(data)

    def _write(self, data: bytes) -> None:
        if self.failed is not None:
            return
        try:
            self.file.write(data)
        except OSError as exc:  # our disk, not the server: the fetch fails, nothing is recorded
            self.failed = exc
            return
        self.digester.update(data)

    def head_bytes(self) -> bytes:
        self.file.seek(0)
        return self.file.read(self.header_len or 0)


def exact_http_headers(raw: bytes):
    """warcio StatusAndHeaders that serialise to exactly ``raw`` (warcio would re-format them)."""
    parsed = StatusAndHeadersParser([], verify=False).parse(BytesIO(raw))
    parsed.headers_buff = bytes(raw)
    parsed.compute_headers_buffer = lambda *a, **k: None  # keep the bytes as received
    return parsed


class Recorder:
    """Fetch one URL and write what crossed the wire into the WARC sink."""

    def __init__(self, settings: Settings, client: HttpClient, sink: WarcSink, *,
                 revisit_lookup: RevisitLookup | None = None):
        self.settings = settings
        self.client = client
        self.sink = sink
        if revisit_lookup is None and sink.sessionmaker is not None:
            revisit_lookup = db_revisit_lookup(sink.sessionmaker)
        self._lookup = revisit_lookup
        self._seen: OrderedDict[tuple[str, str], WarcRef] = OrderedDict()  # recent full captures, for revisits
        self._seen_lock = threading.Lock()

    def fetch(self, url: str, *, headers: Mapping[str, str] | None = None, keep_body: int = 2_000_000,
              method: str = "GET", body: bytes | None = None) -> Exchange:
        """One request (no redirect following), recorded. Raises FetchError subclasses (nothing written).

        ``method``/``body``: a browser's POST (capture/browser_route.py); its request record keeps the body
        as sent, and its answer is never written as a revisit (the same URL answers each body differently)."""
        max_bytes = self.settings.fetch.max_bytes
        spool = _WireSpool(self.sink.dir, max_bytes)
        started = datetime.now(timezone.utc)
        n = 0  # payload bytes read (de-chunked), to stop at max_bytes
        kept = bytearray()
        truncated: str | None = None
        with spool.file:
            with self.client.open(url, method=method, headers=headers, tap=spool, body=body) as f:
                # only the first keep_body decoded bytes are made: a bomb stays on disk, encoded
                decode = Decoder(f.headers.get("Content-Encoding"), keep_body)
                decoding = keep_body > 0
                try:
                    for chunk in f.iter_raw():
                        if n >= max_bytes:
                            truncated = "length"
                            break
                        take = chunk[: max_bytes - n]
                        n += len(take)
                        if decoding:
                            decoding = self._keep(kept, decode, take, keep_body)
                        if len(take) < len(chunk) or spool.overflow:
                            truncated = "length"
                            break
                except FetchTimeout:  # a stall (read timeout) or the total deadline: cut by time
                    truncated = "time"
                except FetchError:
                    truncated = "disconnect"
                if spool.failed is not None:
                    raise ArchiveError(f"could not spool the response to disk: {spool.failed}", url=url)
                if spool.header_len is None:  # urllib3 parsed headers we did not see: cannot happen on a tapped socket
                    raise FetchError("response headers were not captured", url=url)
                if decoding:
                    decode.finish()
                    self._keep(kept, decode, b"", keep_body)
                if spool.overflow and truncated is None:
                    truncated = "length"
                digest = spool.digester.result()
                refs = self._write(url, f, spool, started, digest, truncated, dedupe=method == "GET")
        resp_ref = refs[1]
        return Exchange(
            url=url, status=f.status, reason=f.reason, headers=f.headers, peer_ip=f.peer_ip, warc=resp_ref,
            body=bytes(kept[:keep_body]), truncated=truncated is not None, payload_length=digest.entity_length,
            sha256=digest.sha256, request_warc=refs[0])

    @staticmethod
    def _keep(kept: bytearray, decode: Decoder, data: bytes, keep_body: int) -> bool:
        """Decode into ``kept`` until it holds keep_body bytes; False when done (or undecodable)."""
        decode.feed(data)
        try:
            while len(kept) < keep_body:
                part = decode.read(keep_body - len(kept))
                if not part:
                    break
                kept += part
        except DecodeError:  # bad gzip etc.: keep the bytes as they are
            if not kept:
                kept += data[:keep_body]
            return False
        return len(kept) < keep_body and not decode.over

    # ---- records ---------------------------------------------------------------------------

    def _write(self, url, f, spool: _WireSpool, started, digest: digests.Digests, truncated: str | None,
               dedupe: bool = True):
        b = self.sink.builder
        date = datetime_to_iso_date(started.replace(tzinfo=None), use_micros=True)
        resp_id = b._make_warc_id()
        common = {"WARC-Date": date}
        if f.peer_ip:
            common["WARC-IP-Address"] = f.peer_ip
        resp_headers = exact_http_headers(spool.head_bytes())
        complete = dedupe and truncated is None and digest.entity_length > 0
        earlier = self._find_earlier(url, digest) if complete else None
        if earlier is not None:
            # WARC 1.1 §6.7.2: a revisit that leaves out the payload says so with WARC-Truncated: length
            response = b.create_revisit_record(
                url, earlier.payload_digest, earlier.url,
                datetime_to_iso_date(earlier.captured_at.astimezone(timezone.utc).replace(tzinfo=None),
                                     use_micros=True),
                http_headers=resp_headers,
                warc_headers_dict={"WARC-Record-ID": resp_id, "WARC-Refers-To": earlier.record_id,
                                   "WARC-Truncated": "length", **common})  # WARC 1.1 §6.7.2: payload left out
        else:
            warc_headers = {"WARC-Record-ID": resp_id, **common,
                            "WARC-Payload-Digest": digest.payload_digest, "WARC-Block-Digest": digest.block_digest}
            if truncated:
                warc_headers["WARC-Truncated"] = truncated
            spool.file.seek(spool.header_len)
            response = b.create_warc_record(
                url, "response", payload=LimitReader(spool.file, spool.payload_len), length=spool.payload_len,
                http_headers=resp_headers, warc_headers_dict=warc_headers)
        req_raw = bytes(spool.request)
        req_end = header_end(req_raw) or len(req_raw)
        request = b.create_warc_record(
            url, "request", payload=BytesIO(req_raw[req_end:]), length=len(req_raw) - req_end,
            http_headers=exact_http_headers(req_raw[:req_end]),
            warc_headers_dict={"WARC-Concurrent-To": resp_id, **common})
        # response first, then the request naming it (as warcio and heritrix write them): every
        # WARC-Concurrent-To points back at a record already read (warcat checks that)
        records = [response, request]
        extras = [{"sha256": digest.sha256, "payload_length": digest.entity_length,
                   "truncated": truncated is not None}, {}]
        for extra in self._metadata(url, resp_id, f, spool, common):
            records.append(extra)
            extras.append({})
        refs = self.sink.write_records(records, extras)
        refs = [refs[1], refs[0], *refs[2:]]  # callers take [request, response, ...]
        if earlier is None and complete:
            self._remember(url, digest.sha256, refs[1])
        return refs

    def _metadata(self, url: str, resp_id: str, f, spool: _WireSpool, common: dict) -> list:
        """Metadata records beside the response: the TLS chain; interim 1xx answers (verbatim) and the
        count of bytes sent after the message ended."""
        b, out = self.sink.builder, []
        links = {"WARC-Refers-To": resp_id, "WARC-Concurrent-To": resp_id, **common}
        if f.tls_chain_der:
            pem = "".join(_pem(der) for der in f.tls_chain_der).encode("ascii")
            out.append(b.create_warc_record(url, "metadata", payload=BytesIO(pem), length=len(pem),
                                            warc_content_type="application/x-pem-file", warc_headers_dict=links))
        if spool.interim or spool.excess:
            fields = b"".join(b"interim-response: " + base64.b64encode(head) + b"\r\n" for head in spool.interim)
            if spool.excess:  # sent after the message ended: not part of it, but an auditor should know
                fields += b"bytes-after-message: %d\r\n" % spool.excess
            out.append(b.create_warc_record(url, "metadata", payload=BytesIO(fields), length=len(fields),
                                            warc_content_type="application/warc-fields", warc_headers_dict=links))
        return out

    def _remember(self, url: str, sha256: str, ref: WarcRef) -> None:
        remember = getattr(self._lookup, "remember", None)
        if remember is not None:
            remember(url)
        with self._seen_lock:
            self._seen[(url, sha256)] = ref
            self._seen.move_to_end((url, sha256))
            while len(self._seen) > SEEN_MAX:
                self._seen.popitem(last=False)

    def _find_earlier(self, url: str, digest: digests.Digests) -> WarcRef | None:
        """An earlier full capture of ``url`` with this very payload, under every reading of
        "payload" (docs/digests.md): the same entity sha256 and the same WARC-Payload-Digest."""
        with self._seen_lock:
            hit = self._seen.get((url, digest.sha256))
        if hit is None and self._lookup is not None:
            hit = self._lookup(url, digest.sha256)
        if hit is None or not hit.payload_digest or not digests.same(hit.payload_digest, digest.payload_digest):
            return None
        return hit


def _pem(der: bytes) -> str:
    b64 = base64.b64encode(der).decode("ascii")
    lines = "\n".join(b64[i:i + 64] for i in range(0, len(b64), 64))
    return f"-----BEGIN CERTIFICATE-----\n{lines}\n-----END CERTIFICATE-----\n"


def db_revisit_lookup(sessionmaker) -> RevisitLookup:
    """A RevisitLookup over Capture rows: the latest full (not revisit, not truncated) capture of url with sha256.

    Inside a pipeline stage it reads through the stage's own session (db.session.current_stage_session),
    without flushing it: a worker thread never asks the pool for a second connection while holding one."""
    from sqlalchemy import bindparam, func, select

    from ..db.session import current_stage_session
    from ..db.tables import Capture
    from ..persist import url_hash

    # built once; run as Core on the session's connection (no ORM loading: only a WarcRef is wanted)
    query = (select(Capture.warc_file, Capture.offset, Capture.length, Capture.record_id, Capture.url,
                    Capture.captured_at, Capture.http_status, Capture.content_type, Capture.sha256,
                    Capture.payload_digest, Capture.block_digest, Capture.payload_length)
             .where(Capture.url_hash == bindparam("url_hash"), Capture.sha256 == bindparam("sha256"),
                    Capture.is_revisit.is_(False), Capture.truncated.is_(False))
             .order_by(Capture.captured_at.desc()).limit(1))

    def find(session, url: str, sha256: str) -> WarcRef | None:
        row = session.connection().execute(query, {"url_hash": url_hash(url), "sha256": sha256}).first()
        if row is None or not row.payload_digest:
            return None
        return WarcRef(**row._asdict())

    def load_hashes():
        with sessionmaker() as session:
            yield from session.scalars(select(Capture.url_hash).execution_options(yield_per=10_000))

    def count() -> int:
        with sessionmaker() as session:
            return session.scalar(select(func.count()).select_from(Capture)) or 0

    known = KnownUrls(load_hashes, count)

    def lookup(url: str, sha256: str) -> WarcRef | None:
        if not known.may_have(url_hash(url)):
            return None  # never captured: nothing to revisit
        stage = current_stage_session()
        if stage is not None:
            with stage.no_autoflush:
                return find(stage, url, sha256)
        with sessionmaker() as session:
            return find(session, url, sha256)

    lookup.remember = lambda url: known.add(url_hash(url))  # type: ignore[attr-defined]
    return lookup
