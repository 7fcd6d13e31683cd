"""Real records for tests that need captures in the database: written through WarcSink, so the
database rows, the WARC files and the manifest agree and `verify` passes on what a test leaves."""
from __future__ import annotations

import hashlib
from datetime import datetime
from io import BytesIO

from warcio.statusandheaders import StatusAndHeaders

from archiver.capture.warcfile import WarcSink
from archiver.db.tables import Capture
from archiver.model import WarcRef
from archiver.persist import url_hash


class Records:
    """``with Records(settings, Session) as w: ref = w.response(url, body)``: the file is finished on exit,
    which must come after the caller's session has committed (SQLite has one writer)."""

    def __init__(self, settings, Session=None):
        self.sink = WarcSink(settings, Session)
        self.sink.write_records([])  # opens (and registers) the file now, before the caller's transaction

    def __enter__(self) -> "Records":
        return self

    def __exit__(self, *exc) -> None:
        self.sink.close()

    def response(self, url: str, body: bytes = b"<html><body>page</body></html>", *, status: str = "200 OK",
                 headers: list[tuple[str, str]] | None = None) -> WarcRef:
        headers = list(headers if headers is not None else [("Content-Type", "text/html; charset=utf-8")])
        http = StatusAndHeaders(status, headers + [("Content-Length", str(len(body)))], protocol="HTTP/1.1")
        rec = self.sink.builder.create_warc_record(url, "response", payload=BytesIO(body), http_headers=http)
        return self.sink.write_records([rec], [{"sha256": hashlib.sha256(body).hexdigest(),
                                                "payload_length": len(body)}])[0]

    def revisit(self, url: str, of: WarcRef, *, status: str = "200 OK") -> WarcRef:
        http = StatusAndHeaders(status, [("Content-Type", of.content_type or "text/html")], protocol="HTTP/1.1")
        rec = self.sink.builder.create_revisit_record(url, of.payload_digest, of.url, "2018-03-02T09:00:00Z",
                                                      http_headers=http)
        rec.rec_headers.add_header("WARC-Refers-To", of.record_id)
        rec.rec_headers.add_header("WARC-Truncated", "length")
        return self.sink.write_records([rec])[0]


def capture_row(ref: WarcRef, *, captured_at: datetime | None = None, **kw) -> Capture:
    """A Capture row for a record written by :class:`Records` (``kw``: target, role, extraction...)."""
    fields = dict(url=ref.url, url_hash=url_hash(ref.url), captured_at=captured_at or ref.captured_at,
                  http_status=ref.http_status, content_type=ref.content_type, sha256=ref.sha256,
                  payload_digest=ref.payload_digest, block_digest=ref.block_digest,
                  payload_length=ref.payload_length, record_id=ref.record_id, warc_file=ref.warc_file,
                  offset=ref.offset, length=ref.length, is_revisit=ref.is_revisit, role="target")
    fields.update(kw)
    return Capture(**fields)
