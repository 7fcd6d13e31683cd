"""The index key of a POST's answer, as cdxj-indexer writes it with ``post_append`` (and ReplayWeb.page and
pywb look it up): the URL with ``__wb_method=post&<the body as a query>`` appended, plus ``method`` and
``requestBody`` fields.

Only the browser sends POSTs (capture/browser_route.py), and the Recorder writes each request record right
after its response (capture/recorder.py), so the request is read from the bytes following the response, and
only for the browser's rows: one small read each, and a record that is not the response's own request (by
``WARC-Concurrent-To``) is ignored.
"""
from __future__ import annotations

import io
from typing import BinaryIO

from warcio.archiveiterator import ArchiveIterator

MAX_REQUEST_BYTES = 2 << 20  # a request record bigger than this is not one the browser sent (bodies <= 1 MiB)


def post_fields(fh: BinaryIO, end: int, response_id: str | None, url: str) -> dict[str, str] | None:
    """{"urlkey_url", "method", "requestBody"} for the POST answered by the response ending at ``end``, or None."""
    from cdxj_indexer.postquery import append_method_query

    fh.seek(end)
    try:
        record = next(iter(ArchiveIterator(fh)), None)
    except Exception:  # the end of the file, or not a record: no POST to key
        return None
    if record is None or record.rec_type != "request" or record.http_headers is None \
            or record.rec_headers.get_header("WARC-Concurrent-To") != response_id \
            or record.rec_headers.get_header("WARC-Target-URI") != url:
        return None
    method = (record.http_headers.protocol or "").upper()
    if method not in ("POST", "PUT"):
        return None
    body = record.content_stream().read(MAX_REQUEST_BYTES)
    query, append = append_method_query(method, record.http_headers.get_header("Content-Type"),
                                        str(len(body)), io.BytesIO(body), url)
    return {"urlkey_url": url + append, "method": method, "requestBody": query}
