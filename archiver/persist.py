"""Turn stage results (model.*) into rows: hops, captures, attempts, target state.

Kept apart from the stages (which do no database work) and from the pipeline
(which decides what runs when), so that every writer of these rows agrees.
"""
from __future__ import annotations

import hashlib
import zlib
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from .config import Settings
from .db.base import utcnow
from .db.tables import Attempt, Capture, Hop, Target
from .db.work import backoff_delay
from .model import CaptureResult, HopRecord, Outcome, Resolution, WarcRef


def url_hash(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8")).hexdigest()


def capture_values(ref: WarcRef, *, role: str, target_id: int | None, run_id: int | None,
                   parent_id: int | None = None, source: str = "live", archive_name: str | None = None,
                   memento_url: str | None = None, memento_datetime: datetime | None = None,
                   not_evidence_reason: str | None = None) -> dict:
    """The column values of a Capture row for one record we wrote (every column but the ids)."""
    return dict(
        target_id=target_id, parent_id=parent_id, role=role, url=ref.url, url_hash=url_hash(ref.url),
        captured_at=ref.captured_at, http_status=ref.http_status, content_type=ref.content_type,
        sha256=ref.sha256, payload_digest=ref.payload_digest, block_digest=ref.block_digest,
        payload_length=ref.payload_length, record_id=ref.record_id, warc_file=ref.warc_file,
        offset=ref.offset, length=ref.length, truncated=ref.truncated, is_revisit=ref.is_revisit,
        revisit_of_id=None, source=source, archive_name=archive_name, memento_url=memento_url,
        memento_datetime=memento_datetime, ip_address=ref.ip_address, not_evidence=bool(not_evidence_reason),
        not_evidence_reason=not_evidence_reason, run_id=run_id, fetched_at=utcnow(),
    )


def capture_row(ref: WarcRef, **kw) -> Capture:
    return Capture(**capture_values(ref, **kw))


class PendingCapture:
    """A Capture row of a batch, inserted at finish_batch (``id`` is set then)."""

    __slots__ = ("values", "id", "revisit_of")

    def __init__(self, values: dict, revisit_of: str | None):
        self.values, self.id, self.revisit_of = values, None, revisit_of


def add_capture(session: Session, ref: WarcRef, **kw):
    """A Capture row: added to the session, or, in a batch, kept as values for one bulk insert."""
    batch = session.info.get(_BATCH)
    if batch is None:
        cap = capture_row(ref, **kw)
        session.add(cap)
        link_revisit(session, cap, ref)
        return cap
    pending = PendingCapture(capture_values(ref, **kw), ref.revisit_of if ref.is_revisit else None)
    batch.captures.append(pending)
    return pending


def link_revisit(session: Session, cap: Capture, ref: WarcRef) -> None:
    if ref.is_revisit and ref.revisit_of:
        cap.revisit_of_id = session.scalar(select(Capture.id).where(Capture.record_id == ref.revisit_of))


# ---- many items in one transaction (batchwriter.py) --------------------------------------------

_BATCH = "archiver.persist.batch"


class _Batch:
    def __init__(self) -> None:
        self.later: list = []  # work that needs ids of rows added before it
        self.captures: list[PendingCapture] = []  # not inserted yet
        self.rows: dict[type, list[dict]] = {}  # hops and attempts, inserted after the captures


def begin_batch(session: Session) -> None:
    """Rows added to ``session`` from now on are inserted together (finish_batch), not one by one:
    captures, hops and attempts as bulk INSERTs, a capture's requisites and a hop's capture id
    once the ids they wait for exist. Targets stay ORM objects (one UPDATE per changed set)."""
    session.info[_BATCH] = _Batch()


def finish_batch(session: Session) -> None:
    """Insert the batch's rows, add what waited for their ids, and link revisits to their originals
    (an original may be a row of the same batch)."""
    batch: _Batch | None = session.info.pop(_BATCH, None)
    if batch is None:
        return
    known: dict[str, int] = {}
    while batch.captures or batch.later:
        if batch.captures:
            _insert_captures(session, batch.captures, known)
            batch.captures = []
        todo, batch.later = batch.later, []
        session.info[_BATCH] = batch  # callbacks add to the same batch
        for fn in todo:
            fn()
        session.info.pop(_BATCH, None)
    for model, rows in batch.rows.items():
        if rows:  # Core, not the ORM's bulk path (nothing here needs the mapper): every row has the same keys
            session.execute(insert(model.__table__), rows)
    session.flush()


def _record_ids(session: Session, record_ids: list[str]) -> dict[str, int]:
    wanted, ids = list(set(record_ids)), {}
    for i in range(0, len(wanted), 500):
        ids.update(session.execute(select(Capture.record_id, Capture.id)
                                   .where(Capture.record_id.in_(wanted[i:i + 500]))).all())
    return ids


def _insert_captures(session: Session, pending: list[PendingCapture], known: dict[str, int]) -> None:
    """One INSERT … RETURNING for these rows; revisits linked to originals already stored or in it."""
    wanted = [p.revisit_of for p in pending if p.revisit_of and p.revisit_of not in known]
    if wanted:
        known.update(_record_ids(session, wanted))
    for p in pending:
        if p.revisit_of:
            p.values["revisit_of_id"] = known.get(p.revisit_of)
    table = Capture.__table__
    ids = session.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True),
                          [p.values for p in pending]).scalars().all()
    late = []
    for p, new_id in zip(pending, ids):
        p.id = new_id
        known[p.values["record_id"]] = new_id
        if p.revisit_of and p.values["revisit_of_id"] is None and p.revisit_of in known:
            late.append((new_id, known[p.revisit_of]))  # its original came in the same INSERT
    for cap_id, original in late:
        session.execute(update(Capture).where(Capture.id == cap_id).values(revisit_of_id=original))


def _add_row(session: Session, model: type, values: dict) -> None:
    """A Hop or Attempt: added to the session, or, in a batch, inserted in bulk with its kind."""
    batch = session.info.get(_BATCH)
    if batch is None:
        session.add(model(**values))
    else:
        batch.rows.setdefault(model, []).append(values)


def after_ids(session: Session, fn) -> None:
    """Run ``fn`` once the rows added so far have ids: now (one flush), or at the batch's flush."""
    batch = session.info.get(_BATCH)
    if batch is None:
        session.flush()
        fn()
    else:
        batch.later.append(fn)


def save_hops(session: Session, target: Target, hops: tuple[HopRecord, ...], *, stage: str, attempt: int,
              run_id: int | None, start_seq: int = 0) -> None:
    """Hop rows for one attempt of a stage, numbered 1, 2, … in order (after `start_seq` earlier ones)."""
    for i, hop in enumerate(hops):
        values = dict(target_id=target.id, stage=stage, attempt=attempt, seq=start_seq + i + 1, url=hop.url,
                      status_code=hop.status_code, location=hop.location, kind=hop.kind,
                      fetched_at=hop.fetched_at, capture_id=None, note=hop.note)
        if hop.warc is None:
            _add_row(session, Hop, values)
            continue
        cap = add_capture(session, hop.warc, role="hop", target_id=target.id, run_id=run_id)

        def add_hop(values=values, cap=cap) -> None:
            values["capture_id"] = cap.id
            _add_row(session, Hop, values)
        after_ids(session, add_hop)


def save_capture(session: Session, target: Target, result: CaptureResult, *, run_id: int | None):
    """Rows for the target's response record and its requisites; returns the response's row (a
    Capture, or in a batch a PendingCapture whose ``id`` is set when the batch is written)."""
    if result.response is None:
        return None
    main = add_capture(session, result.response, role="target", target_id=target.id, run_id=run_id,
                        source=result.source, archive_name=result.archive_name, memento_url=result.memento_url,
                        memento_datetime=result.memento_datetime,
                        not_evidence_reason=result.not_evidence_reason)
    if result.requisites:
        def add_requisites() -> None:
            for ref in result.requisites:
                add_capture(session, ref, role="requisite", target_id=target.id, run_id=run_id, parent_id=main.id,
                             source=result.source, archive_name=result.archive_name)
        after_ids(session, add_requisites)
    return main


def record_attempt(session: Session, target: Target, *, stage: str, outcome: str, run_id: int | None,
                   started: datetime, error_type: str | None = None, message: str | None = None) -> None:
    _add_row(session, Attempt, dict(run_id=run_id, target_id=target.id, stage=stage, outcome=outcome,
                                    error_type=error_type, message=message, started_at=started,
                                    duration_ms=int((utcnow() - started).total_seconds() * 1000)))


def schedule_watch(target: Target, settings: Settings, now: datetime | None = None) -> None:
    """Next re-check: the cadence plus a stable per-target spread, so not all links on one night."""
    now = now or utcnow()
    cadence = timedelta(days=settings.watch.recheck_days)
    spread = (zlib.crc32(str(target.id).encode()) % 1000) / 1000 * cadence.total_seconds()
    target.next_check_at = now + cadence + timedelta(seconds=spread) / 2


def mark_failed(target: Target, settings: Settings, *, reason: str | None, error_type: str | None,
                retry_after_s: float | None = None) -> bool:
    """Count a failure; schedule a retry with backoff, or give up. Returns True when given up."""
    target.attempts += 1
    target.status = "failed"
    target.error_type = error_type
    if target.attempts >= settings.fetch.max_attempts:
        target.given_up = True
        target.next_try_at = None
        target.status_reason = f"gave up after {target.attempts} tries: {reason}"
        return True
    target.next_try_at = utcnow() + backoff_delay(target.attempts, settings.fetch.retry_base_s, retry_after_s)
    target.status_reason = f"{reason} (try {target.attempts} of {settings.fetch.max_attempts}, retrying later)"
    return False


def apply_resolution(target: Target, res: Resolution) -> None:
    """Target state for a RESOLVED / DEAD / REFUSED resolution (FAILED goes through mark_failed).

    Only a RESOLVED answer names a method: a code the shortener says does not exist, unknown to
    every archive, was resolved by nothing (``resolution_method`` stays null)."""
    resolved = res.outcome is Outcome.RESOLVED
    target.resolution_method = res.method if resolved else None
    target.resolution_source = res.source if resolved else None
    target.memento_url = res.memento_url if resolved else None
    target.memento_datetime = res.memento_datetime if resolved else None
    target.error_type = res.error_type
    if resolved:
        target.status, target.stage = "resolved", "capture"
        target.final_url = res.final_url
        target.status_reason = res.reason
        target.attempts, target.next_try_at, target.given_up = 0, None, False
        if res.method == "live":
            target.live_target = res.final_url
        else:
            target.archived_target = res.final_url
    elif res.outcome is Outcome.DEAD:
        target.status, target.stage, target.status_reason = "dead", "done", res.reason
        target.dead_since = target.dead_since or utcnow()
    elif res.outcome is Outcome.REFUSED:
        target.status, target.stage, target.status_reason = "refused", "done", res.reason


def schedule_live_retry(target: Target, settings: Settings, *, retry_after_s: float | None = None,
                        now: datetime | None = None) -> bool:
    """After an archive answered for a link the shortener did not: when to ask the shortener again
    (``resolver.live_retry_s``, doubling, at most ``resolver.live_retries`` times). False when no
    re-try is left."""
    if target.live_retries >= settings.resolver.live_retries:
        target.live_retry_at = None
        return False
    delay = backoff_delay(target.live_retries + 1, settings.resolver.live_retry_s, retry_after_s)
    target.live_retry_at = (now or utcnow()) + delay
    return True


def apply_live_answer(target: Target, res: Resolution, settings: Settings, *, agree: bool | None,
                      now: datetime | None = None) -> str:
    """A live re-try of an archive-resolved link: keep what the shortener said beside the archive's
    answer (never replacing it). Returns agree | disagree | dead | refused | failed."""
    now = now or utcnow()
    when = now.strftime("%Y-%m-%d")
    if res.outcome is Outcome.RESOLVED:
        target.live_target, target.answers_agree, target.live_retry_at = res.final_url, agree, None
        if agree:
            target.live_note = f"{when}: the shortener answered and agrees with the archive"
            return "agree"
        target.live_note = (f"{when}: the shortener answered {res.final_url}, the archive "
                            f"{target.archived_target}: they disagree")
        return "disagree"
    if res.outcome is Outcome.DEAD:
        target.live_retry_at = None
        target.live_note = f"{when}: the shortener now says the link does not exist ({res.reason})"
        return "dead"
    target.live_retries += 1
    left = schedule_live_retry(target, settings, retry_after_s=res.retry_after_s, now=now)
    target.live_note = (f"{when}: live re-try {target.live_retries} of {settings.resolver.live_retries}: "
                        f"{res.reason}" + ("" if left else "; no live re-try left"))
    return "refused" if res.outcome is Outcome.REFUSED else "failed"
