"""Plain-text reports -> blocks (pure). Markdown shares this line reader (see md.py).

A line starting with a list mark (``-``, ``*``, ``•``, ``1.``...) opens a bullet,
its indentation gives the level. Lines that follow without a blank line continue
the block (hard-wrapped text), except a line holding only links, which stands
alone so that the activity text stays prose. A blank gap is a ``break`` block:
whether it splits a sentence is decided in activities.py.
"""
from __future__ import annotations

import re

from typing import Iterator

from ..model import Block
from . import links
from .decode import decode
from .limits import UNLIMITED, BlockList, Limits

_BULLET = re.compile(r"^(?P<indent>[ \t]*)(?P<mark>[-*+•–—●▪◦·‣⁃]|\d{1,3}[.)]|[a-zA-Z][.)])[ \t]+(?P<text>\S.*)$")
_MD_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(?P<text>.*?)\s*#*\s*$")
_MD_RULE = re.compile(r"^\s{0,3}([-*_])(\s*\1){2,}\s*$")
_SHORT = 45  # wrapped lines are longer than this; shorter ones end where the author ended them
_SETEXT = re.compile(r"^\s{0,3}(=+|-+)\s*$")
_LINE = re.compile(r"([^\r\n\f]*)(\r\n|\r|\n|\f|$)")


def _level(indent: str) -> int:
    width = len(indent.replace("\t", "    "))
    return (width + 1) // 2


class _Builder:
    def __init__(self, limits: Limits, label: str) -> None:
        self.blocks: list[Block] = BlockList(limits, label)
        self.kind: str | None = None
        self.level = 0
        self.lines: list[str] = []

    def open(self, kind: str, text: str, level: int = 0) -> None:
        self.close()
        self.kind, self.level, self.lines = kind, level, [text]

    def close(self) -> None:
        if self.kind is not None:
            text = links.join_lines(self.lines)
            if text:
                self.blocks.append(Block(kind=self.kind, text=text, level=self.level))
        self.kind, self.lines = None, []

    def gap(self) -> None:
        self.close()
        if self.blocks and self.blocks[-1].kind != "break":
            self.blocks.append(Block(kind="break", text=""))


def _line_break(prev: str, line: str) -> bool:
    """A short line without final punctuation, then a capitalised one: two lines, not a wrap
    (a title over a subtitle, an address over a name)."""
    return len(prev) < _SHORT and prev[-1:] not in ".,;:!?" and line[:1].isupper()


def _lines(text: str) -> Iterator[str]:
    """The lines of ``text`` one at a time (a list of them all costs ~60 bytes a line); a form
    feed (page break) ends a line and adds a blank one."""
    for m in _LINE.finditer(text):
        yield m.group(1)
        end = m.group(2)
        if end == "\f":
            yield ""
        elif not end:
            return


def parse_lines(text: str, markdown: bool = False, limits: Limits = UNLIMITED, label: str = "report") -> list[Block]:
    b = _Builder(limits, label)
    for raw in _lines(text):
        line = raw.rstrip()
        if not line.strip():
            b.gap()
            continue
        if markdown:
            h = _MD_HEADING.match(line)
            if h:
                b.open("heading", h.group("text"))
                b.close()
                continue
            if _SETEXT.match(line) and b.kind == "para" and len(b.lines) == 1:
                b.kind = "heading"  # "Title\n=====" (a rule after a blank line is a break, below)
                b.close()
                continue
            if _MD_RULE.match(line):
                b.gap()
                continue
        m = _BULLET.match(line)
        if m:  # a list mark always opens a bullet, even after a URL ("...MdOne1)." / "2. Next")
            b.open("bullet", m.group("text").strip(), _level(m.group("indent")))
            continue
        stripped = line.strip()
        if b.kind is not None and b.lines and links.joins_url(b.lines[-1], stripped):
            b.lines.append(stripped)
        elif (b.kind is None or links.is_link_only(stripped) or links.is_link_only(" ".join(b.lines))
              or _line_break(b.lines[-1], stripped)):
            b.open("para", stripped)
        else:
            b.lines.append(stripped)
    b.close()
    return b.blocks


def read(data: bytes, name: str = "", limits: Limits = UNLIMITED) -> list[Block]:
    return parse_lines(decode(data, name), limits=limits, label=name or "report")
