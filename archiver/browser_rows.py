"""Rows for a browser visit, and the text of the rendered page.

Kept beside persist.py rather than in it: the browser's rows hang off the page's own capture
row (``parent_id``), one per record, with the same provenance and revisit links as the plain
capture's requisites:

* ``browser``: a response (or revisit) record of a request the browser made;
* ``screenshot``, ``thumbnail``, ``dom``, ``pdf``: the resource records of what it showed.

The rendered DOM's text is stored as the ``dom`` row's extraction when it holds more than
the plain page's text (a script-built page), so search finds the words a person saw; when it
does not, its extraction is left empty (method ``none``) so a page is not found twice.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from . import persist
from .config import Settings
from .db.tables import Capture, Extraction, Target
from .model import CaptureResult
from .store import open_store

def save_browser(session: Session, target: Target, main, result: CaptureResult, *, run_id: int | None) -> None:
    """One row per record of the visit, children of the page's capture row ``main``."""
    if result.browser is not None:
        _children(session, target, main, result, [("browser", r) for r in result.browser.records]
                  + list(result.browser.resources), run_id)


def save_media(session: Session, target: Target, main, result: CaptureResult, *, run_id: int | None) -> None:
    """capture.media's rows, children of ``main`` as the browser's: ``media_fetch`` for each response yt-dlp's
    requests got, ``media`` for each file it kept (capture/media.py)."""
    _children(session, target, main, result, [("media_fetch", r) for r in result.media_fetched]
              + list(result.media), run_id)


def _children(session: Session, target: Target, main, result: CaptureResult, rows: list, run_id: int | None) -> None:
    """(role, ref) rows added as children of ``main`` once it has its id: at once, or when the
    pass's batch writer inserts it."""
    if main is None or not rows:
        return

    def add() -> None:
        for role, ref in rows:
            persist.add_capture(session, ref, role=role, target_id=target.id, run_id=run_id, parent_id=main.id,
                                source=result.source, archive_name=result.archive_name)
    persist.after_ids(session, add)


def extract_rendered(session: Session, dom: Capture, settings: Settings) -> Extraction:
    """The rendered DOM's text, kept when longer than the plain page's (else an empty extraction)."""
    from .extract import extract_capture

    row = extract_capture(session, dom, settings, open_store(settings.storage))
    parent = session.get(Capture, dom.parent_id) if dom.parent_id else None
    plain = parent.extraction.text if parent is not None and parent.extraction is not None else None
    if row.text and len(row.text.strip()) <= len((plain or "").strip()):
        row.text, row.method = None, "none"  # the plain page already says it all: not indexed twice
        session.flush()
    return row
