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
    """One row per record of the visit, children of the page's capture row ``main`` (added once
    ``main`` has its id: at once, or when the pass's batch writer inserts it)."""
    b = result.browser
    if b is None or main is None:
        return

    def add() -> None:
        for role, ref in [("browser", r) for r in b.records] + list(b.resources):
            persist.add_capture(session, ref, role=role, target_id=target.id, run_id=run_id, parent_id=main.id,
                                source=result.source, archive_name=result.archive_name)
    persist.after_ids(session, add)


def save_media(session: Session, target: Target, main, result: CaptureResult, *, run_id: int | None) -> None:
    """capture.media's rows, children of ``main`` as the browser's: ``media_fetch`` for each response yt-dlp's
    requests got, ``media`` for each file it kept (capture/media.py)."""
    if main is None or not (result.media or result.media_fetched):
        return

    def add() -> None:
        for role, ref in [("media_fetch", r) for r in result.media_fetched] + list(result.media):
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
