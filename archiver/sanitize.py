"""Text that every database accepts: the one definition of what is removed before storing.

PostgreSQL's text type refuses the NUL character (SQLite takes it), so a report or a
page holding one failed at ingest, or failed its extraction on every pass, on
PostgreSQL only. Reports and extracted text pass through here before they are stored,
on both databases, so that both hold the same text.
"""
from __future__ import annotations


def strip_nul(text: str | None) -> str | None:
    """``text`` without NUL characters (None and "" unchanged; no copy when there is none)."""
    return text.replace("\x00", "") if text and "\x00" in text else text
