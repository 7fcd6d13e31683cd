"""What a person saw, as WARC ``resource`` records tied to the page's response record.

Each picture or document of a browser visit is one ``resource`` record whose
``WARC-Target-URI`` names what it is and of which page, Browsertrix-style
(``urn:screenshot:<url>``, ``urn:thumbnail:<url>``, ``urn:dom:<url>``, ``urn:pdf:<url>``),
and whose ``WARC-Concurrent-To`` is the page's response record (the evidence), so a
reader of the WARC alone can tell which capture the screenshot shows. They carry that
record's ``WARC-Date`` (WARC 1.1: the records of one capture event share its date). Digests come from
:func:`archiver.digests.digest_block` (a resource block is all payload).

A page whose script moved its URL (``history.pushState``, a single-page app) is kept under the URL
it was loaded from, the one that names its response record; where it ended is noted in a
``metadata`` record (``application/warc-fields``, ``browser-final-url: <url>``) beside them, so the
WARC alone tells an auditor which view the screenshot and DOM show. Replay indexes skip it.
"""
from __future__ import annotations

from datetime import datetime, timezone
from io import BytesIO

from warcio.timeutils import datetime_to_iso_date

from .. import digests
from ..model import WarcRef
from .browser import Visited
from .warcfile import WarcSink

# role (Capture.role and the urn: prefix), media type, the Visited field, in the order written
KINDS = (
    ("screenshot", "image/png", "screenshot"),
    ("thumbnail", "image/png", "thumbnail"),
    ("dom", "text/html; charset=utf-8", "dom"),
    ("pdf", "application/pdf", "pdf"),
)
ROLES = tuple(k[0] for k in KINDS)


def resource_uri(role: str, page_url: str) -> str:
    return f"urn:{role}:{page_url}"


def page_of(uri: str) -> tuple[str, str] | None:
    """(role, page url) of a resource record's target URI, or None for other URIs."""
    for role in ROLES:
        prefix = f"urn:{role}:"
        if uri.startswith(prefix):
            return role, uri[len(prefix):]
    return None


def write_resources(sink: WarcSink, page_url: str, visited: Visited, *, concurrent_to: str | None,
                    when: datetime | None = None) -> tuple[tuple[str, WarcRef], ...]:
    """Write the visit's pictures and documents (those it has) contiguously; (role, WarcRef) each."""
    b = sink.builder
    date = datetime_to_iso_date((when or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(tzinfo=None),
                                use_micros=True)
    records, extras, roles = [], [], []
    for role, media_type, attr in KINDS:
        data = getattr(visited, attr)
        if not data:
            continue
        d = digests.digest_block(data, http=False)
        headers = {"WARC-Date": date, "WARC-Block-Digest": d.block_digest, "WARC-Payload-Digest": d.payload_digest}
        if concurrent_to:
            headers["WARC-Concurrent-To"] = concurrent_to
        records.append(b.create_warc_record(resource_uri(role, page_url), "resource", payload=BytesIO(data),
                                            length=len(data), warc_content_type=media_type,
                                            warc_headers_dict=headers))
        extras.append({"sha256": d.sha256, "payload_length": len(data), "content_type": media_type})
        roles.append(role)
    if not records:
        return ()
    note = _final_url_fields(page_url, visited.final_url)
    if note is not None:  # last: the roles above name the records before it
        links = {"WARC-Date": date, **({"WARC-Concurrent-To": concurrent_to, "WARC-Refers-To": concurrent_to}
                                       if concurrent_to else {})}
        records.append(b.create_warc_record(page_url, "metadata", payload=BytesIO(note), length=len(note),
                                            warc_content_type="application/warc-fields", warc_headers_dict=links))
        extras.append({})
    return tuple(zip(roles, sink.write_records(records, extras)))


def _final_url_fields(page_url: str, final_url: str | None) -> bytes | None:
    """``browser-final-url`` as a warc-fields block when the page ended elsewhere (one line: a URL
    with a line break in it is cut there)."""
    if not final_url or final_url == page_url:
        return None
    line = final_url.replace("\r", "\n").split("\n", 1)[0]
    return b"browser-final-url: " + line.encode("utf-8") + b"\r\n"
