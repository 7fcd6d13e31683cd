"""Blocks -> the report's header and its activities with their links and dates (pure).

Rules (from real reports):

* One activity per bullet. When a document has no bullets at all, one per
  paragraph after the header.
* Everything before the first activity is the header: the title, the address
  and contact lines, the intro paragraph. It becomes Report.title / Report.meta.
* A block that holds only links (``<https://goo.gl/x>``, `` - <https://...>``, or a
  hyperlinked label of a few words like "Minutes") is never an activity: its
  links belong to the activity they follow. The same holds in every format for a
  block whose only content is links and their labels (``  - [minutes of the
  hearing](URL)``, a DOCX/HTML/PDF hyperlink showing a sentence, ``Minutes: URL``)
  nested under the activity or on a line of its own after it; a bullet at the
  activity's own level that is a labelled link is an activity written as a link.
* A paragraph after a gap (blank lines, page break) continues the open activity
  when that activity stops mid-sentence (no final punctuation) and no link line
  came in between: the sample breaks "heard in the" / "discussions held".
* In a bulleted document, a short line without final punctuation between
  activities is a section heading (kept in meta), a longer paragraph is an
  activity of its own.
* In a paragraph document, the first long paragraph is the intro, not an
  activity, when it cites nothing and later paragraphs do.
* A table row (DOCX) that holds a date is an activity of its own, like a bullet
  (tables of date | activity | link); it never continues another one nor is
  continued. A row without a date or link (the header row) is a heading: header
  before the first activity, a section after it. A dateless row with links is
  an activity once activities have begun (before: header, e.g. a contact table).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Sequence

from ..model import Block, ParsedActivity
from . import dates, links

_END = re.compile(r"[.!?:;…](?:[\"'”’»)\]]*)$")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?:tel|phone|fax|тел)[.:]?\s*([+()\d][\d\s()+-]{6,}\d)", re.IGNORECASE)
_HEADING_WORDS = 12
_LABEL_WORDS = 4  # a hyperlinked label this short on its own line is a citation, not an activity


@dataclass
class _Draft:
    prose: list[str] = field(default_factory=list)
    link_lines: list[str] = field(default_factory=list)
    attached: list[str] = field(default_factory=list)
    labels: list[str | None] = field(default_factory=list)  # parallel to attached
    row: bool = False  # a table row: complete in itself
    level: int = 0  # the bullet level it opened at

    def attach(self, block: Block) -> None:
        self.attached.extend(block.links)
        self.labels.extend(_labels(block))

    @property
    def text(self) -> str:
        return " ".join(self.prose)

    def mid_sentence(self) -> bool:
        return bool(self.prose) and not self.row and not self.link_lines and not _END.search(self.prose[-1].rstrip())

    def links(self) -> list:
        return links.cited_links("\n".join([self.text, *self.link_lines]), self.attached, self.labels)


def _labels(block: Block) -> tuple[str | None, ...]:
    if len(block.link_labels) == len(block.links):
        return block.link_labels
    return (None,) * len(block.links)


def _words(text: str) -> int:
    return len(text.split())


def _looks_like_heading(text: str) -> bool:
    return _words(text) < _HEADING_WORDS and not _END.search(text.rstrip())


def _is_contact(text: str) -> bool:
    return bool(_EMAIL.search(text) or _PHONE.search(text))


def split(blocks: Sequence[Block]) -> tuple[list[Block], list[str], list[_Draft]]:
    """Header blocks, section headings and activity drafts, in reading order."""
    link_kind = [None if b.kind == "break" else _link_kind(b) for b in blocks]
    dated_row = [b.kind == "row" and bool(dates.find_dates(b.text)) for b in blocks]
    bulleted = any((b.kind == "bullet" or dr) and (lk is None or lk == "labelled" and b.level == 0)
                   for b, lk, dr in zip(blocks, link_kind, dated_row))
    header: list[Block] = []
    sections: list[str] = []
    drafts: list[_Draft] = []
    current: _Draft | None = None
    for block, kind, is_dated_row in zip(blocks, link_kind, dated_row):
        if block.kind == "break":
            continue
        target = current or (drafts[-1] if drafts else None)
        if kind == "labelled" and _activity_as_link(block, target):
            kind = None
        if kind is not None:
            if target is None:
                header.append(block)
            else:
                target.link_lines.append(block.text)
                target.attach(block)
            continue
        if block.kind == "row":
            if is_dated_row or (block.links and drafts):
                current = _Draft(prose=[block.text], row=True)
                current.attach(block)
                drafts.append(current)
            else:  # the header row of a table, a section row, or a contact table before the activities
                (header if not drafts else sections).append(block if not drafts else block.text)
                current = None
            continue
        if block.kind == "heading":
            (header if not drafts else sections).append(block if not drafts else block.text)
            current = None
            continue
        starts = block.kind == "bullet" or not bulleted
        if current is not None and current.mid_sentence() and block.kind != "bullet":
            current.prose.append(block.text)  # a sentence split by a page break or blank lines
            current.attach(block)
            continue
        if not drafts and (bulleted and block.kind != "bullet" or not bulleted and _is_header_para(block.text)):
            header.append(block)
            continue
        if not starts and _looks_like_heading(block.text):
            sections.append(block.text)
            current = None
            continue
        current = _Draft(prose=[block.text], level=block.level if block.kind == "bullet" else 0)
        current.attach(block)
        drafts.append(current)
    if not bulleted and len(drafts) > 1 and not drafts[0].links() and any(d.links() for d in drafts[1:]):
        first = drafts.pop(0)
        header.append(Block(kind="para", text=first.text))
    return header, sections, drafts


def _link_kind(block: Block) -> str | None:
    """``"urls"``: the block is only links (or a short hyperlinked label like "Minutes");
    ``"labelled"``: only links and their labels, however long; None: it says more."""
    kind = links.link_only(block.text, _labels(block) if block.links else ())
    if kind == "urls" or (not block.text.strip() and block.links):
        return "urls"
    if block.links and len(block.text.split()) <= _LABEL_WORDS and not _END.search(block.text) \
            and not dates.find_dates(block.text):
        return "urls"
    return kind


def _activity_as_link(block: Block, above: _Draft | None) -> bool:
    """A bullet at the activities' own level that is a labelled link (``- [Annual report](URL)``)
    is an activity written as a hyperlink; nested under one, or on a line after it, it cites it."""
    return block.kind == "bullet" and block.level <= (above.level if above else 0)


def _is_header_para(text: str) -> bool:
    return _is_contact(text) or _looks_like_heading(text)


def header_meta(header: Sequence[Block], sections: Sequence[str]) -> tuple[str | None, dict]:
    """Title and metadata from the header blocks."""
    title = next((b.text for b in header if b.kind == "heading"), None)
    if title is None:
        title = next((b.text for b in header if b.kind != "row" and not _is_contact(b.text) and not links.find(b.text)
                      and _words(b.text) < 40), None)
    texts = [b.text for b in header]
    joined = "\n".join(texts)
    meta: dict = {"header": texts}
    intro = [t for t in texts if t != title and not _is_contact(t) and _words(t) >= _HEADING_WORDS]
    if intro:
        meta["intro"] = "\n\n".join(intro)
    contacts = {
        "emails": sorted(set(_EMAIL.findall(joined))),
        "phones": [p.strip() for p in _PHONE.findall(joined)],
        "urls": [f.url_raw for f in links.find(joined) if "@" not in f.text_raw]
                + [u for b in header for u in b.links],
    }
    contacts = {k: v for k, v in contacts.items() if v}
    if contacts:
        meta["contacts"] = contacts
    if sections:
        meta["sections"] = list(sections)
    return title, meta


def build(blocks: Sequence[Block]) -> tuple[str | None, dict, list[ParsedActivity]]:
    """The report's title, meta and activities (with links and dates)."""
    header, sections, drafts = split(blocks)
    title, meta = header_meta(header, sections)
    found = dates.activity_dates([d.text for d in drafts])
    activities = [
        ParsedActivity(ordinal=i, text=d.text, date=found[i - 1], links=tuple(d.links()))
        for i, d in enumerate(drafts, start=1)
    ]
    return title, meta, activities
