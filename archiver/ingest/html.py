"""HTML reports -> blocks (pure): headings, paragraphs, list items (with nesting level),
and the ``href`` of every anchor in the block it sits in, with the anchor's text as its label.

A table row (``<tr>``) is one ``row`` block, cells joined with `` | `` and the
row's anchors as its links, as docx.py reads DOCX tables: reports that tabulate
their activities put date, description and link in one row, and activities.py
makes a dated row one activity. A row whose cells hold a nested table, a list,
a heading or several paragraphs is page layout, not data: its content is read
as ordinary blocks, so nested tables yield their innermost rows and a page laid
out in a table reads as if it were not.

Relative hrefs are resolved against the report's URL when it came from one (or its
``<base href>``, from where it appears on); only http(s) targets are kept (mailto:,
javascript: are not evidence).

The document is never held as a tree: lxml's HTML parser (libxml2, the parser
BeautifulSoup's "lxml" builder drives, so the same events) calls `_Target` for each
start tag, end tag and text, and blocks are cut as the events arrive. An 80 MB report
took 3.4 GB as a BeautifulSoup tree; here memory is the blocks plus the one row or
anchor whose reading depends on what it holds (kept as events until its end).
"""
from __future__ import annotations

import re
from urllib.parse import urljoin

from lxml import etree

from ..model import Block
from .decode import decode
from .limits import UNLIMITED, BlockList, Limits

_SKIP = {"script", "style", "noscript", "template", "head", "svg", "math", "iframe", "object"}
_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_BLOCKS = {"p", "div", "section", "article", "main", "header", "footer", "aside", "blockquote", "pre",
           "table", "tr", "td", "th", "dl", "dt", "dd", "figure", "figcaption", "address", "nav", "form",
           "ul", "ol", "body", "center", "caption"}
_LAYOUT = {"table", "ul", "ol", "li", *_HEADINGS}  # a cell holding one of these is layout
_PARAS = {"p", "div", "blockquote", "pre", "section", "article", "dl", "address"}
_LAYOUT_PARAS = 3  # a cell with more paragraphs than this is page layout, not a data cell
_ANCHOR_EVENTS = 10_000  # an "anchor" wrapping more than this is not a link label: cut it short
_FEED = 1 << 20  # characters handed to the parser at a time
_SPACE = re.compile(r"\s+")


class _Pending:
    """A ``tr`` or ``a`` whose reading depends on what it holds: its events until that is known."""

    def __init__(self, kind: str, start: tuple, href: str = "") -> None:
        self.kind, self.events, self.depth = kind, [start] if kind == "tr" else [], 1
        self.href, self.label, self.skip = href, [], 0
        self.cell, self.paras, self.layout = False, 0, False

    def add(self, ev: tuple) -> bool:
        """Record ``ev``; True when the element has ended or its reading is decided."""
        self.events.append(ev)
        if ev[0] == "start":
            self.depth += 1
            if self.kind == "a":
                self.skip += 1 if self.skip or ev[1] in _SKIP else 0
            elif self.depth == 2:
                self.cell, self.paras = ev[1] in ("td", "th"), 0
            elif self.cell:
                self.paras += ev[1] in _PARAS
                self.layout = ev[1] in _LAYOUT or self.paras > _LAYOUT_PARAS
        elif ev[0] == "end":
            self.depth -= 1
            if self.kind == "a" and self.skip:
                self.skip -= 1
            if self.depth == 1:
                self.cell = False
        elif self.kind == "a" and not self.skip:
            self.label.append(ev[1])
        return self.depth == 0 or self.layout or (self.kind == "a" and len(self.events) > _ANCHOR_EVENTS)


class _Stream:
    """The walk of the old tree reader, driven by parser events (same blocks, same order)."""

    def __init__(self, base: str, blocks: list[Block]) -> None:
        self.base = base
        self.blocks = blocks
        self.text: list[str] = []
        self.hrefs: list[str] = []
        self.labels: list[str | None] = []
        self.kind, self.level, self.depth = "para", 0, 0
        self.ends: list = []  # per open element: what to do at its end (None: nothing)
        self.skip = 0
        self.pending: _Pending | None = None

    def flush(self) -> None:
        text = _SPACE.sub(" ", "".join(self.text)).strip()
        if text or self.hrefs:
            self.blocks.append(Block(kind=self.kind, text=text, links=tuple(self.hrefs), level=self.level,
                                     link_labels=tuple(self.labels)))
        self.text, self.hrefs, self.labels = [], [], []

    def brk(self) -> None:
        self.blocks.append(Block(kind="break", text=""))

    def event(self, ev: tuple) -> None:
        if self.pending is not None:
            if self.pending.add(ev):
                self._decide()
        elif ev[0] == "data":
            if not self.skip:
                self.text.append(ev[1])
        elif ev[0] == "end":
            if self.skip:
                self.skip -= 1
            else:
                end = self.ends.pop()
                if end is not None:
                    end()
        elif self.skip or ev[1] in _SKIP:
            self.skip += 1
        else:
            self._start(ev[1], ev[2])

    def _start(self, name: str, attrib: dict, layout_row: bool = False) -> None:
        push = self.ends.append
        if name == "br":
            self.text.append(" ")
            push(None)
        elif name == "hr":
            self.flush()
            self.brk()
            push(None)
        elif name == "table":
            self.flush()
            self.brk()
            push(self._end_table)
        elif name == "tr" and not layout_row:
            self.flush()
            self.pending = _Pending("tr", ("start", name, attrib))
        elif name == "li":
            self._open("bullet", max(self.depth - 1, 0))
        elif name in _HEADINGS:
            self._open("heading", 0)
        elif name in ("ul", "ol"):
            self.flush()
            self.depth += 1
            push(self._end_list)
        elif name in _BLOCKS:
            self.flush()
            push(self.flush)
        elif name == "a" and attrib.get("href"):
            self.pending = _Pending("a", (), href=attrib["href"])
        else:
            push(None)

    def _end_table(self) -> None:
        self.flush()
        self.brk()

    def _end_list(self) -> None:
        self.flush()
        self.depth -= 1

    def _open(self, kind: str, level: int) -> None:
        self.flush()
        outer = (self.kind, self.level)
        self.kind, self.level = kind, level

        def end() -> None:
            self.flush()
            self.kind, self.level = outer

        self.ends.append(end)

    def _decide(self) -> None:
        p, self.pending = self.pending, None
        if p.kind == "a":
            self._href(p.href, "".join(p.label))
            self.ends.append(None)
            for ev in p.events:
                self.event(ev)
        elif p.layout:
            _, name, attrib = p.events[0]
            self._start(name, attrib, layout_row=True)
            for ev in p.events[1:]:
                self.event(ev)
        else:
            self._row(p.events)

    def finish(self) -> None:
        """Parser closed: decide what is still pending, then flush."""
        while self.pending is not None:
            p = self.pending
            p.layout = p.kind == "tr"
            self._decide()
        self.flush()

    def _row(self, events: list[tuple]) -> None:
        texts: list[str] = []
        depth, cell = 0, None
        for ev in events:
            if ev[0] == "start":
                depth += 1
                if depth == 2 and ev[1] in ("td", "th"):
                    cell = _Stream(self.base, [])
                    continue
            elif ev[0] == "end":
                depth -= 1
                if depth == 1 and cell is not None:
                    cell.finish()
                    text = " ".join(b.text for b in cell.blocks if b.text)
                    if text:
                        texts.append(text)
                    for b in cell.blocks:
                        self.hrefs.extend(b.links)
                        self.labels.extend(b.link_labels)
                    cell = None
                    continue
            if cell is not None:
                cell.event(ev)
        if texts or self.hrefs:
            self.blocks.append(Block(kind="row", text=" | ".join(texts), links=tuple(self.hrefs),
                                     link_labels=tuple(self.labels)))
        self.hrefs, self.labels = [], []

    def _href(self, href: str, label: str) -> None:
        url = urljoin(self.base, href.strip()) if self.base else href.strip()
        if url.lower().startswith(("http://", "https://")):
            self.hrefs.append(url)
            self.labels.append(_SPACE.sub(" ", label).strip() or None)


class _Target:
    """lxml parser target: the document's first ``<title>`` and ``<base href>``, every other event to the stream."""

    def __init__(self, stream: _Stream) -> None:
        self.stream = stream
        self.title: list[str] | None = None
        self.in_title = False
        self.base_seen = False

    def start(self, tag, attrib) -> None:
        if not isinstance(tag, str):
            return
        if tag == "title" and self.title is None:
            self.title, self.in_title = [], True
        elif tag == "base" and attrib.get("href") and not self.base_seen:
            self.base_seen = True
            self.stream.base = urljoin(self.stream.base, attrib["href"])
        self.stream.event(("start", tag, attrib))

    def end(self, tag) -> None:
        if not isinstance(tag, str):
            return
        if tag == "title":
            self.in_title = False
        self.stream.event(("end", tag))

    def data(self, data) -> None:
        if self.in_title:
            self.title.append(data)
        self.stream.event(("data", data))

    def comment(self, text) -> None:  # comments, doctypes and processing instructions are not text
        pass

    def close(self) -> None:
        pass


def read(data: bytes, name: str = "", limits: Limits = UNLIMITED) -> list[Block]:
    text = decode(data, name)
    base = name if name.lower().startswith(("http://", "https://")) else ""
    stream = _Stream(base, BlockList(limits, name or "report"))
    target = _Target(stream)
    parser = etree.HTMLParser(target=target, no_network=True)
    for i in range(0, len(text), _FEED):
        parser.feed(text[i:i + _FEED])
    parser.close()
    stream.finish()
    blocks = stream.blocks
    title = "".join(target.title or []).strip()
    if title and not (blocks and blocks[0].kind == "heading" and blocks[0].text == title):
        blocks.insert(0, Block(kind="heading", text=title))  # unless <title> is repeated as <h1>
    return blocks
