"""Bounds on one report (``ingest:`` in config.yaml), checked while it is read.

A hostile or absurd report (a million links, a zip bomb, a 200 k-page PDF) must
be refused with one line, and before it has cost gigabytes: each reader adds its
blocks to a `BlockList`, which refuses to grow past what the activity and link
limits can use, and the readers check their own format's bounds (inflated DOCX
size, PDF pages) before the parser library sees the whole document.

``clean_block`` removes NULs (see archiver/sanitize.py) from what the readers found,
so that everything derived from blocks (activities, links, title, meta) is clean.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..config import IngestSettings
from ..errors import InputError
from ..model import Block
from ..sanitize import strip_nul


_MARGIN = 10_000


@dataclass(frozen=True)
class Limits:
    max_report_bytes: int
    max_unzipped_bytes: int
    max_pdf_pages: int
    max_activities: int
    max_links: int
    # not a bound, but how a reader may use the machine: processes reading a PDF's pages (0: auto)
    pdf_processes: int = 0

    @classmethod
    def from_settings(cls, settings: IngestSettings) -> Limits:
        procs = settings.pdf_processes
        return cls(settings.max_report_bytes, settings.max_unzipped_bytes, settings.max_pdf_pages,
                   settings.max_activities, settings.max_links, 0 if procs == "auto" else procs)

    @property
    def max_blocks(self) -> int:
        """Blocks (breaks aside) a reader may produce: each is an activity, a line of links or a
        heading; the margin is for the header and section headings."""
        return self.max_activities + self.max_links + _MARGIN

    @property
    def max_hyperlinks(self) -> int:
        """Hyperlinks the format attaches to blocks (each is a link, or in the header)."""
        return self.max_links + _MARGIN


UNLIMITED = Limits(*(2**62,) * 5)


class BlockList(list):
    """A reader's output that refuses (InputError) to hold more blocks or hyperlinks than the
    limits can use: the report is refused while it is read, not after."""

    def __init__(self, limits: Limits, label: str) -> None:
        super().__init__()
        self.limits, self.label = limits, label
        self.blocks = self.hyperlinks = 0

    def append(self, block: Block) -> None:
        if block.kind != "break":
            self.blocks += 1
            self.hyperlinks += len(block.links)
            if self.blocks > self.limits.max_blocks:
                raise InputError(f"{self.label}: more than {self.limits.max_blocks} paragraphs, too many for one "
                                 "report (see ingest.max_activities and ingest.max_links)")
            if self.hyperlinks > self.limits.max_hyperlinks:
                raise InputError(f"{self.label}: more than {self.limits.max_hyperlinks} hyperlinks, more than "
                                 f"ingest.max_links ({self.limits.max_links})")
        super().append(block)

    def extend(self, blocks) -> None:
        for b in blocks:
            self.append(b)


def check_counts(label: str, activities: int, links: int, limits: Limits) -> None:
    if activities > limits.max_activities:
        raise InputError(f"{label}: {activities} activities, more than ingest.max_activities "
                         f"({limits.max_activities})")
    if links > limits.max_links:
        raise InputError(f"{label}: {links} links, more than ingest.max_links ({limits.max_links})")


def clean_block(block: Block) -> Block:
    """The block with NULs removed from its text, links and labels (the same object when it has none)."""
    if "\x00" not in block.text and not any("\x00" in u for u in block.links) \
            and not any(lb and "\x00" in lb for lb in block.link_labels):
        return block
    return Block(kind=block.kind, text=strip_nul(block.text), links=tuple(strip_nul(u) for u in block.links),
                 level=block.level, link_labels=tuple(strip_nul(lb) for lb in block.link_labels))
