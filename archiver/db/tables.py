"""ORM models: the chain an auditor follows, and the work rows runs share.

report ─< activity ─< link ─> target ─< hop
                                  └──< capture ─ extraction
                                           └── warc_file (by path)

A *link* is one occurrence of a URL in a report, exactly as written.  A
*target* is one normalized URL and is the unit of work: two links to the same
URL are resolved and captured once.  Work rows (targets) carry ``stage``,
``next_try_at`` and a lease (``lease_owner``/``lease_until``) so that runs
resume after a crash and several workers can share the queue.

Every schema change needs an Alembic revision under ``alembic/versions``; a
test compares the migrated schema with these models.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any, Optional

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UTCDateTime, utcnow

# Link / target status values (public: JSON output and the API use them).
PENDING, RESOLVED, CAPTURED, DEAD, FAILED, REFUSED = (
    "pending", "resolved", "captured", "dead", "failed", "refused")
TARGET_STATUSES = (PENDING, RESOLVED, CAPTURED, DEAD, FAILED, REFUSED)
# Stages a target moves through, in order.
STAGES = ("resolve", "capture", "extract", "done")


class Report(Base):
    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(Text)  # path (absolute) or URL as given
    source_kind: Mapped[str] = mapped_column(String(16))  # file | url | upload
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    format: Mapped[str] = mapped_column(String(16))  # txt | md | html | pdf | docx
    title: Mapped[Optional[str]] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # header lines, contacts, intro
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    ingested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    previous_id: Mapped[Optional[int]] = mapped_column(ForeignKey("reports.id", ondelete="SET NULL"))

    activities: Mapped[list["Activity"]] = relationship(
        back_populates="report", cascade="all, delete-orphan", order_by="Activity.ordinal")
    previous: Mapped[Optional["Report"]] = relationship(remote_side=[id])


class Activity(Base):
    __tablename__ = "activities"
    __table_args__ = (UniqueConstraint("report_id", "ordinal"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    ordinal: Mapped[int] = mapped_column(Integer)  # 1-based order in the report
    text: Mapped[str] = mapped_column(Text)
    date_start: Mapped[Optional[date]] = mapped_column(Date)
    date_end: Mapped[Optional[date]] = mapped_column(Date)
    date_text: Mapped[Optional[str]] = mapped_column(Text)  # the date as written
    date_precision: Mapped[Optional[str]] = mapped_column(String(8))  # day | month | year
    date_inferred: Mapped[bool] = mapped_column(Boolean, default=False)  # year taken from context

    report: Mapped[Report] = relationship(back_populates="activities")
    links: Mapped[list["Link"]] = relationship(
        back_populates="activity", cascade="all, delete-orphan", order_by="Link.position")


class Target(Base):
    """One normalized URL: the unit of resolve/capture work and of link watching."""

    __tablename__ = "targets"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(Text)  # normalized
    url_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256(url): unique on any backend
    is_short: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default=PENDING, index=True)
    stage: Mapped[str] = mapped_column(String(16), default="resolve", index=True)
    status_reason: Mapped[Optional[str]] = mapped_column(Text)  # why dead/failed/refused, readable
    error_type: Mapped[Optional[str]] = mapped_column(String(64))
    resolution_method: Mapped[Optional[str]] = mapped_column(String(16))  # live|archive|dump|manual
    resolution_source: Mapped[Optional[str]] = mapped_column(Text)  # archive/dump/override name
    memento_url: Mapped[Optional[str]] = mapped_column(Text)
    memento_datetime: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    final_url: Mapped[Optional[str]] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_try_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, index=True)
    given_up: Mapped[bool] = mapped_column(Boolean, default=False)
    lease_owner: Mapped[Optional[str]] = mapped_column(String(128))
    lease_until: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # watching (issue: dead links)
    watch_state: Mapped[Optional[str]] = mapped_column(String(16))  # alive|changed|moved|dead|recovered
    dead_since: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    last_checked_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    next_check_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, index=True)
    # both answers for a short link (resolve/recheck.py): when live resolution failed and an archive
    # answered, the shortener is asked again later; what each said is kept and compared
    archived_target: Mapped[Optional[str]] = mapped_column(Text)  # the archive/dump/override's answer
    live_target: Mapped[Optional[str]] = mapped_column(Text)  # the shortener's own answer, when it gave one
    answers_agree: Mapped[Optional[bool]] = mapped_column(Boolean)  # None until both have answered
    live_retry_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, index=True)  # next live re-try
    live_retries: Mapped[int] = mapped_column(Integer, default=0)  # live re-tries after the archive's answer
    live_note: Mapped[Optional[str]] = mapped_column(Text)  # what the latest live re-try found, readable

    links: Mapped[list["Link"]] = relationship(back_populates="target")
    hops: Mapped[list["Hop"]] = relationship(
        back_populates="target", cascade="all, delete-orphan", order_by="(Hop.stage.desc(), Hop.attempt, Hop.seq)")
    captures: Mapped[list["Capture"]] = relationship(
        back_populates="target", order_by="Capture.captured_at", foreign_keys="Capture.target_id")


class Link(Base):
    """One URL occurrence in an activity, exactly as written."""

    __tablename__ = "links"

    # an activity's links in order, one page at a time, with their targets (web pages, coverage.py)
    __table_args__ = (Index("ix_links_activity_id_position", "activity_id", "position", "target_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # order within the activity, 0-based
    url_raw: Mapped[str] = mapped_column(Text)  # as written (after trailing punctuation is stripped)
    text_raw: Mapped[Optional[str]] = mapped_column(Text)  # the surrounding text as it stood, e.g. "<https://goo.gl/x>."
    url_normalized: Mapped[str] = mapped_column(Text)
    target_id: Mapped[int] = mapped_column(ForeignKey("targets.id"), index=True)

    activity: Mapped[Activity] = relationship(back_populates="links")
    target: Mapped[Target] = relationship(back_populates="links")


class Hop(Base):
    """One step of a redirect chain, live or read from an archive."""

    __tablename__ = "hops"

    id: Mapped[int] = mapped_column(primary_key=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("targets.id", ondelete="CASCADE"), index=True)
    stage: Mapped[str] = mapped_column(String(16), default="resolve")  # resolve (the short link) | capture (the target)
    attempt: Mapped[int] = mapped_column(Integer, default=1)  # which attempt of that stage
    seq: Mapped[int] = mapped_column(Integer)  # 1-based within (stage, attempt)
    url: Mapped[str] = mapped_column(Text)
    status_code: Mapped[Optional[int]] = mapped_column(Integer)
    location: Mapped[Optional[str]] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(24))  # redirect|meta-refresh|js|interstitial|final|error|archive|dump|manual
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    capture_id: Mapped[Optional[int]] = mapped_column(ForeignKey("captures.id", ondelete="SET NULL"))
    note: Mapped[Optional[str]] = mapped_column(Text)

    target: Mapped[Target] = relationship(back_populates="hops")


class Capture(Base):
    """One WARC response (or revisit) record we wrote, readable with one seek."""

    __tablename__ = "captures"
    __table_args__ = (Index("ix_captures_url_hash_captured_at", "url_hash", "captured_at"),
                      # "has this target a preserved capture?" answered from the index (coverage.py)
                      Index("ix_captures_target_evidence", "target_id", "role", "http_status", "not_evidence"))

    id: Mapped[int] = mapped_column(primary_key=True)
    target_id: Mapped[Optional[int]] = mapped_column(ForeignKey("targets.id", ondelete="SET NULL"), index=True)
    parent_id: Mapped[Optional[int]] = mapped_column(ForeignKey("captures.id", ondelete="SET NULL"))
    role: Mapped[str] = mapped_column(String(16))  # target | hop | requisite | probe
    url: Mapped[str] = mapped_column(Text)  # WARC-Target-URI
    url_hash: Mapped[str] = mapped_column(String(64))
    captured_at: Mapped[datetime] = mapped_column(UTCDateTime)  # WARC-Date (archive's date if recovered)
    http_status: Mapped[Optional[int]] = mapped_column(Integer)
    content_type: Mapped[Optional[str]] = mapped_column(Text)
    sha256: Mapped[Optional[str]] = mapped_column(String(64), index=True)  # of the payload as transmitted
    payload_digest: Mapped[Optional[str]] = mapped_column(String(80))  # WARC-Payload-Digest
    block_digest: Mapped[Optional[str]] = mapped_column(String(80))  # WARC-Block-Digest
    payload_length: Mapped[Optional[int]] = mapped_column(BigInteger)
    record_id: Mapped[str] = mapped_column(String(80))  # WARC-Record-ID
    warc_file: Mapped[str] = mapped_column(Text)  # relative to storage.root
    offset: Mapped[int] = mapped_column(BigInteger)
    length: Mapped[int] = mapped_column(BigInteger)  # compressed record length
    truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    is_revisit: Mapped[bool] = mapped_column(Boolean, default=False)
    revisit_of_id: Mapped[Optional[int]] = mapped_column(ForeignKey("captures.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(String(16), default="live")  # live | archive
    archive_name: Mapped[Optional[str]] = mapped_column(Text)
    memento_url: Mapped[Optional[str]] = mapped_column(Text)
    memento_datetime: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)  # when we fetched it
    ip_address: Mapped[Optional[str]] = mapped_column(String(64))
    not_evidence: Mapped[bool] = mapped_column(Boolean, default=False)
    not_evidence_reason: Mapped[Optional[str]] = mapped_column(Text)
    run_id: Mapped[Optional[int]] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"))

    target: Mapped[Optional[Target]] = relationship(back_populates="captures", foreign_keys=[target_id])
    extraction: Mapped[Optional["Extraction"]] = relationship(
        back_populates="capture", uselist=False, cascade="all, delete-orphan")


class Extraction(Base):
    __tablename__ = "extractions"

    id: Mapped[int] = mapped_column(primary_key=True)
    capture_id: Mapped[int] = mapped_column(ForeignKey("captures.id", ondelete="CASCADE"), unique=True)
    title: Mapped[Optional[str]] = mapped_column(Text)
    language: Mapped[Optional[str]] = mapped_column(String(16))
    text: Mapped[Optional[str]] = mapped_column(Text)
    method: Mapped[str] = mapped_column(String(32))  # trafilatura | pypdf | plain | none
    encoding: Mapped[Optional[str]] = mapped_column(String(40))
    error: Mapped[Optional[str]] = mapped_column(Text)
    extracted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    capture: Mapped[Capture] = relationship(back_populates="extraction")


class Run(Base):
    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="run")  # run | schedule | demo
    stage: Mapped[Optional[str]] = mapped_column(String(64))  # None = all stages; else one or a list: resolve,capture
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="running")  # running|ok|partial|failed|interrupted
    worker: Mapped[Optional[str]] = mapped_column(String(128))  # host:pid
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[Optional[str]] = mapped_column(Text)


class Attempt(Base):
    """One stage attempt on one target: the audit trail of what was tried (ArchiveResult)."""

    __tablename__ = "attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[Optional[int]] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"), index=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("targets.id", ondelete="CASCADE"), index=True)
    stage: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(16))
    error_type: Mapped[Optional[str]] = mapped_column(String(64))
    message: Mapped[Optional[str]] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    duration_ms: Mapped[Optional[int]] = mapped_column(Integer)


class LinkCheck(Base):
    """History of re-checks of a captured link (watching)."""

    __tablename__ = "link_checks"

    id: Mapped[int] = mapped_column(primary_key=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("targets.id", ondelete="CASCADE"), index=True)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    http_status: Mapped[Optional[int]] = mapped_column(Integer)
    final_url: Mapped[Optional[str]] = mapped_column(Text)
    sha256: Mapped[Optional[str]] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))  # alive|changed|moved|dead|recovered
    note: Mapped[Optional[str]] = mapped_column(Text)


class WarcFile(Base):
    __tablename__ = "warc_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(String(512), unique=True)  # relative to storage.root
    state: Mapped[str] = mapped_column(String(16), default="open")  # open | finished
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    size: Mapped[Optional[int]] = mapped_column(BigInteger)
    sha256: Mapped[Optional[str]] = mapped_column(String(64))
    # where the finished file lives: None under storage.root; else the object store's url
    # (s3://bucket/prefix), set once the upload was read back and matched sha256
    location: Mapped[Optional[str]] = mapped_column(String(512))


class ManifestEntry(Base):
    """Append-only, hash-chained record of every finished WARC file."""

    __tablename__ = "manifest"

    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(String(512))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)


class DumpSource(Base):
    __tablename__ = "dump_sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[Optional[str]] = mapped_column(Text)  # BEACON #PREFIX
    header: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    entries: Mapped[int] = mapped_column(BigInteger, default=0)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DumpEntry(Base):
    __tablename__ = "dump_entries"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    dump_id: Mapped[int] = mapped_column(ForeignKey("dump_sources.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(512), index=True)  # short URL without scheme, e.g. goo.gl/mMTrEZ
    target: Mapped[str] = mapped_column(Text)


class Lock(Base):
    """Named lock in the database: never two runs at once, across processes and machines."""

    __tablename__ = "locks"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(128))
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


__all__ = [
    "Activity", "Attempt", "Capture", "DumpEntry", "DumpSource", "Extraction", "Hop", "Link",
    "LinkCheck", "Lock", "ManifestEntry", "Report", "Run", "Target", "WarcFile",
    "STAGES", "TARGET_STATUSES", "PENDING", "RESOLVED", "CAPTURED", "DEAD", "FAILED", "REFUSED",
]
