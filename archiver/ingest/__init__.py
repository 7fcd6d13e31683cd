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
from .sniff import detect_format

_log = logging.getLogger(__name__)

# One reader per format, each pure: (bytes, name) -> blocks in reading order.
READERS: dict[str, Callable[[bytes, str], list[Block]]] = {
    "txt": txt.read,
    "md": md.read,
    "html": html.read,
    "pdf": pdf.read,
    "docx": docx.read,
}


def parse_report(data: bytes, name: str) -> ParsedReport:
    """Read a report; raises InputError (one line) when it is unreadable or cites nothing."""
    fmt = detect_format(data, name)
    try:
        blocks = READERS[fmt](data, name)
    except InputError:
        raise
    except (RecursionError, MemoryError, ValueError, LookupError, TypeError, AttributeError) as exc:
        # damaged or hostile documents (absurd nesting, broken structures) end as one line, not a traceback
        _log.debug("reader %s failed on %s", fmt, name, exc_info=True)
        raise InputError(f"{name or 'report'}: unreadable {fmt.upper()} ({type(exc).__name__})") from exc
    title, meta, acts = activities.build(blocks)
    if not acts:
        raise InputError(f"{name or 'report'}: no activities found (no bullets or paragraphs after the header)")
    return ParsedReport(format=fmt, title=title, meta=meta, activities=tuple(acts))


from .source import IngestResult, ingest_bytes, ingest_source  # noqa: E402  (source imports parse_report)

__all__ = ["READERS", "IngestResult", "detect_format", "ingest_bytes", "ingest_source", "parse_report"]
