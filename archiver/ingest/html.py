"""HTML reports -> blocks (pure): headings, paragraphs, list items (with nesting level),
and the ``href`` of every anchor in the block it sits in, with the anchor's text as its label.

A table row (``<tr>``) is one ``row`` block, cells joined with `` | `` and the
row's anchors as its links, as docx.py reads DOCX tables: reports that tabulate
their activities put date, description and link in one row, and activities.py
makes a dated row one activity. A row whose cells hold a nested table, a list,
a heading or several paragraphs is page layout, not data: its content is read
as ordinary blocks, so nested tables yield their innermost rows and a page laid
out in a table reads as if it were not.

Relative hrefs are resolved against the report's URL when it came from one;
only http(s) targets are kept (mailto:, javascript: are not evidence).
"""
from __future__ import annotations

import re
from urllib.parse import urljoin

from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.element import Comment, Doctype, ProcessingInstruction

from ..model import Block
from .decode import decode

_SKIP = {"script", "style", "noscript", "template", "head", "svg", "math", "iframe", "object"}
_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_BLOCKS = {"p", "div", "section", "article", "main", "header", "footer", "aside", "blockquote", "pre",
           "table", "tr", "td", "th", "dl", "dt", "dd", "figure", "figcaption", "address", "nav", "form",
           "ul", "ol", "body", "center", "caption"}
_LAYOUT = ["table", "ul", "ol", "li", *sorted(_HEADINGS)]  # a cell holding one of these is layout
_PARAS = ["p", "div", "blockquote", "pre", "section", "article", "dl", "address"]
_LAYOUT_PARAS = 3  # a cell with more paragraphs than this is page layout, not a data cell
_SPACE = re.compile(r"\s+")


class _Walker:
    def __init__(self, base: str) -> None:
        self.base = base
        self.blocks: list[Block] = []
        self.text: list[str] = []
        self.hrefs: list[str] = []
        self.labels: list[str | None] = []
        self.kind, self.level = "para", 0

    def flush(self) -> None:
        text = _SPACE.sub(" ", "".join(self.text)).strip()
        if text or self.hrefs:
            self.blocks.append(Block(kind=self.kind, text=text, links=tuple(self.hrefs), level=self.level,
                                     link_labels=tuple(self.labels)))
        self.text, self.hrefs, self.labels = [], [], []

    def walk(self, node: Tag, list_depth: int = 0) -> None:
        for child in node.children:
            if isinstance(child, (Comment, Doctype, ProcessingInstruction)):
                continue
            if isinstance(child, NavigableString):
                self.text.append(str(child))
                continue
            if not isinstance(child, Tag):
                continue
            name = child.name.lower()
            if name in _SKIP:
                continue
            if name == "br":
                self.text.append(" ")
            elif name == "hr":
                self.flush()
                self.blocks.append(Block(kind="break", text=""))
            elif name == "table":
                self.flush()
                self.blocks.append(Block(kind="break", text=""))
                self.walk(child, list_depth)
                self.flush()
                self.blocks.append(Block(kind="break", text=""))
            elif name == "tr" and not _is_layout(child):
                self.flush()
                self._row(child)
            elif name == "li":
                self._block(child, "bullet", max(list_depth - 1, 0), list_depth)
            elif name in _HEADINGS:
                self._block(child, "heading", 0, list_depth)
            elif name in ("ul", "ol"):
                self.flush()
                self.walk(child, list_depth + 1)
                self.flush()
            elif name in _BLOCKS:
                self.flush()
                self.walk(child, list_depth)
                self.flush()
            else:
                if name == "a" and child.get("href"):
                    self._href(child["href"], child.get_text())
                self.walk(child, list_depth)

    def _block(self, tag: Tag, kind: str, level: int, depth: int) -> None:
        self.flush()
        outer = (self.kind, self.level)
        self.kind, self.level = kind, level
        self.walk(tag, depth)
        self.flush()
        self.kind, self.level = outer

    def _row(self, tr: Tag) -> None:
        texts: list[str] = []
        for cell in tr.find_all(["td", "th"], recursive=False):
            sub = _Walker(self.base)
            sub.walk(cell)
            sub.flush()
            text = " ".join(b.text for b in sub.blocks if b.text)
            if text:
                texts.append(text)
            for b in sub.blocks:
                self.hrefs.extend(b.links)
                self.labels.extend(b.link_labels)
        if texts or self.hrefs:
            self.blocks.append(Block(kind="row", text=" | ".join(texts), links=tuple(self.hrefs),
                                     link_labels=tuple(self.labels)))
        self.hrefs, self.labels = [], []

    def _href(self, href: str, label: str) -> None:
        url = urljoin(self.base, href.strip()) if self.base else href.strip()
        if url.lower().startswith(("http://", "https://")):
            self.hrefs.append(url)
            self.labels.append(_SPACE.sub(" ", label).strip() or None)


def _is_layout(tr: Tag) -> bool:
    """True when a row's cells hold page structure rather than one value each."""
    for cell in tr.find_all(["td", "th"], recursive=False):
        if cell.find(_LAYOUT) is not None or len(cell.find_all(_PARAS, limit=_LAYOUT_PARAS + 1)) > _LAYOUT_PARAS:
            return True
    return False


def read(data: bytes, name: str = "") -> list[Block]:
    soup = BeautifulSoup(decode(data, name), "lxml")
    base = name if name.lower().startswith(("http://", "https://")) else ""
    base_tag = soup.find("base", href=True)
    if base_tag is not None:
        base = urljoin(base, base_tag["href"])
    w = _Walker(base)
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    if title:
        w.blocks.append(Block(kind="heading", text=title))
    w.walk(soup.body or soup)
    w.flush()
    blocks = w.blocks
    if title and len(blocks) > 1 and blocks[1].kind == "heading" and blocks[1].text == title:
        blocks.pop(0)  # <title> repeated as <h1>
    return blocks
