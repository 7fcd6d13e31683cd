"""Captured bytes -> text: the extract stage.

``extract_text`` is pure (a stream in, an ``ExtractedText`` out, no database); it picks
the reader by content type, sniffing the first bytes when the type is missing or
generic. ``extract_capture`` (persist.py) is the stage's entry for one stored capture.

Memory stays bounded: the stream is read once; HTML is read up to
``extract.max_html_bytes`` (it is parsed whole), plain text is decoded incrementally up
to ``extract.max_text_chars``, and a PDF is spooled to a temporary file (in memory while
small) because pypdf needs to seek, up to ``extract.max_pdf_bytes`` (a larger one is not
read: pypdf would hold much of it in memory). The stream itself comes decoded and bounded
by ``fetch.max_bytes`` (capture/read.py: a gzip body may inflate a thousandfold).
"""
from __future__ import annotations

import tempfile
from typing import BinaryIO

from ..config import ExtractSettings
from ..model import ExtractedText
from .encoding import charset_from_content_type
from .html import extract_html
from .pdf import extract_pdf
from .text import copy_up_to, extract_plain, read_up_to

__all__ = ["extract_text", "extract_capture", "kind_of"]

HTML_TYPES = {"text/html", "application/xhtml+xml"}
PDF_TYPES = {"application/pdf", "application/x-pdf", "application/acrobat"}
TEXT_TYPES = {"application/json", "application/xml", "application/x-ndjson"}
GENERIC_TYPES = {"", "application/octet-stream", "binary/octet-stream", "application/unknown",
                 "application/download", "application/force-download"}
PDF_SPOOL_MEMORY = 16 * 1024 * 1024  # larger PDFs go to a temporary file
SNIFF_BYTES = 1024


def _sniff(head: bytes) -> str:
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"%PDF-") or b"%pdf-" in head[:SNIFF_BYTES].lower():
        return "pdf"
    if start.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<?xml")) and b"<html" in head.lower():
        return "html"
    return "none"


def kind_of(content_type: str | None, head: bytes) -> str:
    """html | pdf | plain | none, from the media type, or from the first bytes when it says nothing."""
    mime = (content_type or "").split(";")[0].strip().lower()
    if mime in HTML_TYPES:
        return "html"
    if mime in PDF_TYPES:
        return "pdf"
    if mime.startswith("text/") or mime in TEXT_TYPES:
        return "plain"
    if mime in GENERIC_TYPES:
        return _sniff(head)
    return "none"


def extract_text(stream: BinaryIO, content_type: str | None, settings: ExtractSettings, *,
                 url: str | None = None, headers_charset: str | None = None,
                 content_language: str | None = None) -> ExtractedText:
    """Main text, title, language and encoding of a payload (decoded: no chunking, no gzip).

    ``headers_charset`` is the HTTP header's charset (taken from ``content_type`` when not
    given); ``content_language`` the HTTP Content-Language header, a last resort for the
    language. Images and other types give method ``none`` and no error.
    """
    head = read_up_to(stream, SNIFF_BYTES)
    kind = kind_of(content_type, head)
    charset = headers_charset or charset_from_content_type(content_type)
    if kind == "html":
        data = head + read_up_to(stream, max(0, settings.max_html_bytes - len(head)))
        return extract_html(data, max_chars=settings.max_text_chars, max_html_bytes=settings.max_html_bytes,
                            url=url, headers_charset=charset, content_language=content_language)
    if kind == "plain":
        return extract_plain(stream, max_chars=settings.max_text_chars, head=head, headers_charset=charset)
    if kind == "pdf":
        with tempfile.SpooledTemporaryFile(max_size=PDF_SPOOL_MEMORY) as spool:
            spool.write(head)
            size = len(head) + copy_up_to(stream, spool, settings.max_pdf_bytes + 1 - len(head))
            if size > settings.max_pdf_bytes:
                return ExtractedText(method="none", error=f"PDF larger than extract.max_pdf_bytes "
                                                          f"({settings.max_pdf_bytes} bytes): text not extracted")
            spool.seek(0)
            return extract_pdf(spool, max_chars=settings.max_text_chars)
    return ExtractedText(method="none")


from .persist import extract_capture  # noqa: E402  (persist uses extract_text)
