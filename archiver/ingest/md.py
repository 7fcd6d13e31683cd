"""Markdown reports -> blocks (pure): the plain-text reader plus headings and rules.

Inline markup stays in the text as written; links.py finds ``[label](url)``,
``<url>`` and bare URLs in it.
"""
from __future__ import annotations

from ..model import Block
from .decode import decode
from .limits import UNLIMITED, Limits
from .txt import parse_lines


def read(data: bytes, name: str = "", limits: Limits = UNLIMITED) -> list[Block]:
    return parse_lines(decode(data, name), markdown=True, limits=limits, label=name or "report")
