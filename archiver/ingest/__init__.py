"""Report ingestion: bytes of a report -> dated activities and their cited links.

Pure core: `parse_report(data, name)` sniffs the format, runs that format's
reader (bytes -> blocks), then activities.py (blocks -> activities, links,
dates). I/O edge: `ingest_source(...)` reads a path or fetches a URL and
store.py persists the result in one transaction.
"""
from __future__ import annotations

import logging
from typing import Callable

from ..errors import InputError
from ..model import Block, ParsedReport
from . import activities, docx, html, md, pdf, txt
from .limits import UNLIMITED, Limits, check_counts, clean_block
from .sniff import detect_format

_log = logging.getLogger(__name__)

# One reader per format, each pure: (bytes, name, limits) -> blocks in reading order.
READERS: dict[str, Callable[[bytes, str, Limits], list[Block]]] = {
    "txt": txt.read,
    "md": md.read,
    "html": html.read,
    "pdf": pdf.read,
    "docx": docx.read,
}


def parse_report(data: bytes, name: str, limits: Limits = UNLIMITED) -> ParsedReport:
    """Read a report; raises InputError (one line) when it is unreadable, cites nothing or is
    over one of ``limits`` (checked while reading, so a hostile report is refused early)."""
    label = name or "report"
    if len(data) > limits.max_report_bytes:
        raise InputError(f"{label}: {len(data)} bytes, larger than ingest.max_report_bytes ({limits.max_report_bytes})")
    fmt = detect_format(data, name)
    try:
        blocks = READERS[fmt](data, name, limits)
    except InputError:
        raise
    except (RecursionError, MemoryError, ValueError, LookupError, TypeError, AttributeError) as exc:
        # damaged or hostile documents (absurd nesting, broken structures) end as one line, not a traceback
        _log.debug("reader %s failed on %s", fmt, name, exc_info=True)
        raise InputError(f"{label}: unreadable {fmt.upper()} ({type(exc).__name__})") from exc
    blocks = [clean_block(b) for b in blocks]  # no NULs anywhere below (archiver/sanitize.py)
    title, meta, acts = activities.build(blocks)
    del blocks
    if not acts:
        raise InputError(f"{label}: no activities found (no bullets or paragraphs after the header)")
    check_counts(label, len(acts), sum(len(a.links) for a in acts), limits)
    return ParsedReport(format=fmt, title=title, meta=meta, activities=tuple(acts))


from .source import IngestResult, ingest_bytes, ingest_source  # noqa: E402  (source imports parse_report)

__all__ = ["READERS", "IngestResult", "Limits", "detect_format", "ingest_bytes", "ingest_source", "parse_report"]
