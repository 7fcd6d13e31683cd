"""Recorder: one request → request + response (or revisit) records, as transmitted.

The response is recorded at the socket level (the HttpClient wire tap): the
status line and headers exactly as received (order, case, spacing), and the body
undecoded *including* any chunked transfer framing, like warcio's
``capture_http``. It is spooled to a temp file while SHA-1 (WARC digests) and
SHA-256 are computed, so a response is never held in memory whole. The resolver
and the capture stage get an :class:`Exchange` with the first ``keep_body``
bytes of the payload decoded (chunking and Content-Encoding undone) for parsing.

Digests: ``WARC-Block-Digest`` and ``WARC-Payload-Digest`` follow warcio (the
payload digest covers the body bytes in the record, chunk framing included), so
``warcio check`` agrees. ``sha256`` is over the payload with transfer chunking
undone and Content-Encoding kept: it does not depend on how a server chunked the
same bytes, which makes it the key for revisit (identical payload) detection.
"""
from __future__ import annotations

import base64
import hashlib
import tempfile
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from io import BytesIO
from typing import Callable, Mapping

from warcio.limitreader import LimitReader
from warcio.statusandheaders import StatusAndHeadersParser
from warcio.timeutils import datetime_to_iso_date

from ..config import Settings
from ..errors import FetchError, FetchTimeout
from ..model import WarcRef
from ..net.decode import make_decoder
from ..net.http import HttpClient
from .warcfile import WarcSink

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


def _b32(h) -> str:
    return "sha1:" + base64.b32encode(h.digest()).decode("ascii")


def header_end(buf: bytes | bytearray) -> int | None:
    """Offset just past the blank line ending an HTTP header block (CRLF or bare LF lines)."""
    ends = []
    i = buf.find(b"\n\r\n")
    if i >= 0:
        ends.append(i + 3)
    j = buf.find(b"\n\n")
    if j >= 0:
        ends.append(j + 2)
    return min(ends) if ends else None


class _WireSpool:
    """Wire tap: request bytes in memory, response bytes to a temp file, digests on the way."""

    def __init__(self, spool_dir, max_payload: int):
        self.request = bytearray()
        self.file = tempfile.TemporaryFile(dir=spool_dir, prefix=".spool-")
        self.block = hashlib.sha1()
        self.payload = hashlib.sha1()
        self.max_payload = max_payload
        self.header_len: int | None = None
        self.payload_len = 0
        self.overflow = False
        self._head = bytearray()

    def sent(self, data: bytes) -> None:
        self.request += data

    def received(self, mv: memoryview) -> None:
        data = bytes(mv)
        if self.header_len is None:
            start = len(self._head)
            self._head += data
            end = header_end(self._head)
            if end is None:
                self._write(data)
                return
            self.header_len = end
            self._head = bytearray()
            self._write(data[: end - start])
            data = data[end - start:]
        if not data:
            return
        room = self.max_payload - self.payload_len
        if len(data) > room:
            data, self.overflow = data[:room], True
        if data:
            self._write(data)
            self.payload.update(data)
            self.payload_len += len(data)

    def _write(self, data: bytes) -> None:
        self.file.write(data)
        self.block.update(data)

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
        self._seen: dict[tuple[str, str], WarcRef] = {}  # this process's full captures, for revisits
        self._seen_lock = threading.Lock()

    def fetch(self, url: str, *, headers: Mapping[str, str] | None = None, keep_body: int = 2_000_000) -> Exchange:
        """One request (no redirect following), recorded. Raises FetchError subclasses (nothing written)."""
        max_bytes = self.settings.fetch.max_bytes
        spool = _WireSpool(self.sink.dir, max_bytes)
        started = datetime.now(timezone.utc)
        sha = hashlib.sha256()
        n = 0
        kept = bytearray()
        truncated: str | None = None
        with spool.file:
            with self.client.open(url, headers=headers, tap=spool) as f:
                decode = make_decoder(f.headers.get("Content-Encoding"))
                decoding = keep_body > 0
                try:
                    for chunk in f.iter_raw():
                        if n >= max_bytes:
                            truncated = "length"
                            break
                        take = chunk[: max_bytes - n]
                        sha.update(take)
                        n += len(take)
                        if decoding:
                            decoding = self._keep(kept, decode, take, keep_body)
                        if len(take) < len(chunk) or spool.overflow:
                            truncated = "length"
                            break
                except FetchTimeout as exc:
                    truncated = "time" if exc.context.get("deadline") else "disconnect"
                except FetchError:
                    truncated = "disconnect"
                if spool.header_len is None:  # urllib3 parsed headers we did not see: cannot happen on a tapped socket
                    raise FetchError("response headers were not captured", url=url)
                if decoding:
                    try:
                        kept += decode.flush()
                    except Exception:
                        pass
                if spool.overflow and truncated is None:
                    truncated = "length"
                refs = self._write(url, f, spool, started, sha.hexdigest(), n, truncated)
        resp_ref = refs[1]
        return Exchange(
            url=url, status=f.status, reason=f.reason, headers=f.headers, peer_ip=f.peer_ip, warc=resp_ref,
            body=bytes(kept[:keep_body]), truncated=truncated is not None, payload_length=n,
            sha256=sha.hexdigest(), request_warc=refs[0])

    @staticmethod
    def _keep(kept: bytearray, decode, data: bytes, keep_body: int) -> bool:
        """Decode into ``kept`` until it holds keep_body bytes; False when done (or undecodable)."""
        try:
            kept += decode(data)
        except Exception:  # bad gzip etc.: keep the bytes as they are
            if not kept:
                kept += data
            return False
        return len(kept) < keep_body

    # ---- records ---------------------------------------------------------------------------

    def _write(self, url, f, spool: _WireSpool, started, sha256: str, n: int, truncated: str | None):
        b = self.sink.builder
        date = datetime_to_iso_date(started.replace(tzinfo=None), use_micros=True)
        resp_id = b._make_warc_id()
        common = {"WARC-Date": date}
        if f.peer_ip:
            common["WARC-IP-Address"] = f.peer_ip
        resp_headers = exact_http_headers(spool.head_bytes())
        earlier = self._find_earlier(url, sha256) if truncated is None and n > 0 else None
        if earlier is not None:
            response = b.create_revisit_record(
                url, earlier.payload_digest, earlier.url,
                datetime_to_iso_date(earlier.captured_at.astimezone(timezone.utc).replace(tzinfo=None),
                                     use_micros=True),
                http_headers=resp_headers,
                warc_headers_dict={"WARC-Record-ID": resp_id, "WARC-Refers-To": earlier.record_id, **common})
        else:
            warc_headers = {"WARC-Record-ID": resp_id, **common,
                            "WARC-Payload-Digest": _b32(spool.payload), "WARC-Block-Digest": _b32(spool.block)}
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
        records = [request, response]
        extras = [{}, {"sha256": sha256, "payload_length": n, "truncated": truncated is not None}]
        if f.tls_chain_der:
            pem = "".join(_pem(der) for der in f.tls_chain_der).encode("ascii")
            records.append(b.create_warc_record(
                url, "metadata", payload=BytesIO(pem), length=len(pem), warc_content_type="application/x-pem-file",
                warc_headers_dict={"WARC-Refers-To": resp_id, "WARC-Concurrent-To": resp_id, **common}))
            extras.append({})
        refs = self.sink.write_records(records, extras)
        if earlier is None and truncated is None and n > 0:
            with self._seen_lock:
                self._seen[(url, sha256)] = refs[1]
        return refs

    def _find_earlier(self, url: str, sha256: str) -> WarcRef | None:
        with self._seen_lock:
            hit = self._seen.get((url, sha256))
        if hit is None and self._lookup is not None:
            hit = self._lookup(url, sha256)
        return hit if hit is not None and hit.payload_digest else None


def _pem(der: bytes) -> str:
    b64 = base64.b64encode(der).decode("ascii")
    lines = "\n".join(b64[i:i + 64] for i in range(0, len(b64), 64))
    return f"-----BEGIN CERTIFICATE-----\n{lines}\n-----END CERTIFICATE-----\n"


def db_revisit_lookup(sessionmaker) -> RevisitLookup:
    """A RevisitLookup over Capture rows: the latest full (not revisit, not truncated) capture of url with sha256.

    Inside a pipeline stage it reads through the stage's own session (db.session.current_stage_session),
    without flushing it: a worker thread never asks the pool for a second connection while holding one."""
    from sqlalchemy import bindparam, select

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

    def lookup(url: str, sha256: str) -> WarcRef | None:
        stage = current_stage_session()
        if stage is not None:
            with stage.no_autoflush:
                return find(stage, url, sha256)
        with sessionmaker() as session:
            return find(session, url, sha256)

    return lookup
