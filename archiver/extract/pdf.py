"""PDF -> text with pypdf, page by page, stopping at the character limit.

An encrypted PDF is tried with the empty user password (many "protected" PDFs only
restrict printing or copying); one that needs a real password yields a readable
``error`` and no text. A page that fails is skipped (counted in ``error``) so one
broken page does not lose the rest of the document.
"""
from __future__ import annotations

import logging
from typing import BinaryIO

from pypdf import PdfReader
from pypdf.errors import DependencyError, PyPdfError

from ..model import ExtractedText

log = logging.getLogger(__name__)
logging.getLogger("pypdf").setLevel(logging.ERROR)  # pypdf warns loudly about every small flaw


def _language(reader: PdfReader) -> str | None:
    try:
        lang = reader.trailer["/Root"].get("/Lang")
    except Exception:  # a damaged catalog is not worth failing for
        return None
    return str(lang).split("-")[0].lower()[:16] if lang else None


def _title(reader: PdfReader) -> str | None:
    try:
        meta = reader.metadata
        return (str(meta.title).strip() or None) if meta is not None and meta.title else None
    except Exception:
        return None


def extract_pdf(fileobj: BinaryIO, *, max_chars: int) -> ExtractedText:
    """Text of a PDF; ``fileobj`` must be seekable (pypdf reads the cross-reference table first)."""
    try:
        reader = PdfReader(fileobj)
        if reader.is_encrypted and not reader.decrypt(""):
            return ExtractedText(method="pypdf", error="encrypted PDF: it needs a password to open")
        pages = list(reader.pages)
    except DependencyError as exc:
        return ExtractedText(method="pypdf", error=f"encrypted PDF: cannot decrypt ({exc})")
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        return ExtractedText(method="pypdf", error=f"not a readable PDF: {exc}")
    parts: list[str] = []
    size = 0
    failed = 0
    for number, page in enumerate(pages, 1):
        try:
            text = page.extract_text() or ""
        except Exception as exc:  # pypdf raises many types on broken content streams
            log.info("PDF page %d: %s", number, exc)
            failed += 1
            continue
        text = text.strip()
        if not text:
            continue
        parts.append(text[: max_chars - size])
        size += len(parts[-1]) + 2
        if size >= max_chars:
            break
    body = "\n\n".join(parts)[:max_chars] or None
    error = f"{failed} of {len(pages)} pages could not be read" if failed else None
    return ExtractedText(method="pypdf", text=body, title=_title(reader), language=_language(reader),
                         error=error)
