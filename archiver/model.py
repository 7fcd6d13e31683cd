"""Pure domain types passed between stages: frozen dataclasses, no I/O, no ORM.

Stages return these for every *expected* outcome (dead link, 404, timeout,
refused address); the pipeline persists them. Exceptions are for broken things.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum


class Outcome(str, Enum):
    RESOLVED = "resolved"  # we know the final URL
    CAPTURED = "captured"  # a 2xx capture of the target is in a WARC
    DEAD = "dead"  # the shortener says the link does not exist, or the target answers 4xx/5xx for good
    REFUSED = "refused"  # policy: scheme or address not allowed
    FAILED = "failed"  # network error, timeout, 5xx, rate limit: retry later


# ---- ingestion ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)  # slots: a long report holds 100 k+ of these
class Block:
    """A piece of a document in reading order, as a reader found it.

    ``kind`` is ``bullet`` (a list item), ``para`` (a paragraph), ``heading``,
    ``row`` (a table row, cells joined with `` | ``), or ``break`` (a page break /
    blank gap that may split a sentence). ``links`` are the hyperlink targets
    attached to the block by the format itself (PDF link annotations, DOCX
    relationships, HTML anchors), in order; ``link_labels`` is parallel to it (the
    text the document showed for each link, None when unknown) or empty.
    """

    kind: str
    text: str
    links: tuple[str, ...] = ()
    level: int = 0  # nesting depth for bullets
    link_labels: tuple[str | None, ...] = ()  # parallel to links, or () when no reader gave labels


@dataclass(frozen=True, slots=True)  # slots: a long report holds 100 k+ of these
class CitedLink:
    url_raw: str  # as written, trailing punctuation stripped
    url_normalized: str
    text_raw: str | None = None  # the text around it as it stood


@dataclass(frozen=True, slots=True)  # slots: a long report holds 100 k+ of these
class ActivityDate:
    start: date | None
    end: date | None
    text: str | None  # as written
    precision: str | None  # day | month | year
    inferred: bool = False  # the year was taken from the report's context


@dataclass(frozen=True, slots=True)  # slots: a long report holds 100 k+ of these
class ParsedActivity:
    ordinal: int
    text: str
    date: ActivityDate
    links: tuple[CitedLink, ...]


@dataclass(frozen=True)
class ParsedReport:
    format: str
    title: str | None
    meta: dict
    activities: tuple[ParsedActivity, ...]


# ---- resolution and capture -----------------------------------------------------------------

@dataclass(frozen=True)
class WarcRef:
    """Where one record we wrote lives, and what it holds: enough to read it back with one seek."""

    warc_file: str  # relative to storage.root
    offset: int
    length: int
    record_id: str
    url: str
    captured_at: datetime
    http_status: int | None = None
    content_type: str | None = None
    sha256: str | None = None  # hex sha256 of the payload as transmitted
    payload_digest: str | None = None
    block_digest: str | None = None
    payload_length: int | None = None
    truncated: bool = False
    is_revisit: bool = False
    revisit_of: str | None = None  # WARC-Refers-To record id
    ip_address: str | None = None


@dataclass(frozen=True)
class HopRecord:
    seq: int
    url: str
    status_code: int | None
    location: str | None
    kind: str  # redirect|meta-refresh|js|interstitial|final|error|archive|dump|manual
    fetched_at: datetime
    warc: WarcRef | None = None
    note: str | None = None


@dataclass(frozen=True)
class Resolution:
    outcome: Outcome  # RESOLVED, DEAD, REFUSED or FAILED
    final_url: str | None = None
    hops: tuple[HopRecord, ...] = ()
    method: str | None = None  # live | archive | dump | manual
    source: str | None = None  # archive / dump / override name
    memento_url: str | None = None
    memento_datetime: datetime | None = None
    reason: str | None = None  # readable, for status and health
    error_type: str | None = None
    retry_after_s: float | None = None  # a rate limit asked us to wait


@dataclass(frozen=True)
class BrowserResult:
    """What loading the page in headless Chromium gave (capture/browse.py)."""

    status: str  # browsed | failed | skipped (no Chromium, in auto mode)
    reason: str | None = None  # why the browser ran ("looks script-built", "screenshot"), or why it failed
    records: tuple[WarcRef, ...] = ()  # the browser's own response / revisit records, in request order
    resources: tuple[tuple[str, WarcRef], ...] = ()  # (screenshot | thumbnail | dom | pdf, resource record)
    refused: tuple[tuple[str, str], ...] = ()  # (url, why) requests of the page that were not sent
    error_type: str | None = None
    final_url: str | None = None  # where the page ended (pushState, a script's navigation)


@dataclass(frozen=True)
class CaptureResult:
    outcome: Outcome  # CAPTURED, DEAD, REFUSED or FAILED
    response: WarcRef | None = None  # the target's response (or revisit) record
    requisites: tuple[WarcRef, ...] = ()
    hops: tuple[HopRecord, ...] = ()  # redirects followed while capturing
    final_url: str | None = None
    source: str = "live"  # live | archive
    archive_name: str | None = None
    memento_url: str | None = None
    memento_datetime: datetime | None = None
    reason: str | None = None
    error_type: str | None = None
    not_evidence_reason: str | None = None  # soft-404, parked domain, interstitial...
    browser: BrowserResult | None = None  # the page loaded in a browser too (capture.browser)
    media: tuple[tuple[str, WarcRef], ...] = ()  # ("media", resource record) of what yt-dlp got (capture.media)
    media_fetched: tuple[WarcRef, ...] = ()  # the response records of yt-dlp's requests


@dataclass(frozen=True)
class ExtractedText:
    method: str  # trafilatura | pypdf | plain | none
    text: str | None = None
    title: str | None = None
    language: str | None = None
    encoding: str | None = None
    error: str | None = None


@dataclass
class RunSummary:
    run_id: int | None = None
    resolved: int = 0
    captured: int = 0
    extracted: int = 0
    dead: int = 0
    refused: int = 0
    failed: int = 0
    bytes: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    watch: dict = field(default_factory=dict)  # re-checks by state (alive, changed, moved, dead, ...)
    stages: dict = field(default_factory=dict)  # {stage: {outcome: n}}: items done per stage (/metrics)

    @property
    def ok(self) -> bool:
        return self.failed == 0
