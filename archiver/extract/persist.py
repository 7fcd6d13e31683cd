"""The extract stage for one stored capture: read its payload back, extract, store, index."""
from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from ..config import ExtractSettings, FetchSettings, Settings
from ..db.base import utcnow
from ..db.tables import Capture, Extraction
from ..model import ExtractedText
from ..sanitize import strip_nul

log = logging.getLogger(__name__)


def header(headers: Any, name: str) -> str | None:
    """One header from what ``open_payload`` returns: warcio StatusAndHeaders, a mapping or pairs."""
    if headers is None:
        return None
    if hasattr(headers, "get_header"):
        return headers.get_header(name)
    items = headers.items() if hasattr(headers, "items") else headers
    for key, value in items:
        if str(key).lower() == name.lower():
            return value
    return None


def extract_capture(session: Session, capture: Capture, settings: ExtractSettings | Settings,
                    storage_root: str | Path) -> Extraction:
    """Extract the text of ``capture`` and store it as its (one) Extraction row (searchable once flushed).

    A revisit record holds no payload: the text comes from the record it refers to
    (found by WARC-Refers-To among the Capture rows).
    Reading the WARC may raise ArchiveError (a broken thing); a failure inside the
    extractors is recorded in ``Extraction.error`` instead, so one odd page cannot stop
    a run. Flushes but does not commit: the caller owns the transaction.
    """
    from ..capture.read import locate_record, open_payload  # imported when used: keeps extract importable alone

    extract_settings = settings.extract if isinstance(settings, Settings) else settings
    max_bytes = settings.fetch.max_bytes if isinstance(settings, Settings) else FetchSettings().max_bytes

    headers, payload = open_payload(storage_root, capture.warc_file, capture.offset,
                                    locate=functools.partial(locate_record, session), max_bytes=max_bytes)
    content_type = header(headers, "Content-Type") or capture.content_type
    try:
        result = extract_text_safely(payload, content_type, extract_settings, url=capture.url,
                                     content_language=header(headers, "Content-Language"))
    finally:
        close = getattr(payload, "close", None)
        if close is not None:
            close()
    row = capture.extraction or Extraction(capture=capture)
    # a page's text may hold NULs (PostgreSQL refuses them: the extraction failed on every pass)
    row.method, row.text, row.title = result.method, strip_nul(result.text), (strip_nul(result.title) or None)
    row.language = (result.language or None) and strip_nul(result.language[:16])
    row.encoding = (result.encoding or None) and strip_nul(result.encoding[:40])
    row.error, row.extracted_at = strip_nul(result.error), utcnow()
    session.add(row)
    session.flush()  # the search index follows by itself (triggers / generated columns, see db/search.py)
    return row


def extract_text_safely(payload, content_type, settings: ExtractSettings, **kwargs) -> ExtractedText:
    from . import extract_text

    try:
        return extract_text(payload, content_type, settings, **kwargs)
    except Exception as exc:  # recorded, not raised: see extract_capture
        log.warning("extraction failed for %s: %s", kwargs.get("url"), exc, exc_info=True)
        return ExtractedText(method="none", error=f"extraction failed: {type(exc).__name__}: {exc}")
