"""What one pass changed, read back from the database: the document every notify target sends.

Read from the rows, not from the pass's in-memory summary, so that ``archiver run --notify``,
the scheduler and a later re-send all say the same thing. What belongs to the pass: rows
carrying its ``run_id`` (attempts, captures of the pipeline stages) and, for the watch step,
which writes no run id, the rows written between the pass's start and end (the run lock keeps
two passes from overlapping).

* ``newly_lost``: a link that died in this pass: a short link or target found dead by its
  stage (no archive had it), or a captured link whose re-check found it dead for the first
  time (``dead_since`` inside the pass) and no archive copy to fall back on;
* ``changed``: a re-check found another payload (captured again), or a redirect to a new place
  (a link that already redirected there at its previous check is not news);
* ``recovered``: a copy from a web archive written into our WARCs during the pass;
* ``failures``: items the pass failed (retried later, or given up), and errors of the pass.

The schema (``SCHEMA``) is documented in docs/notify.md; fields are only ever added.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, exists, func, literal, or_, select
from sqlalchemy.orm import Session, aliased

from ..db.base import iso_utc, utcnow
from ..db.tables import Attempt, Capture, LinkCheck, Run, Target

SCHEMA = "archiver.pass-summary/1"
KINDS = ("newly_lost", "changed", "recovered", "failures")


def build(session: Session, run_id: int, *, max_items: int = 100) -> dict:
    """The summary document of pass ``run_id`` (each list cut at ``max_items``; totals always given)."""
    run = session.get(Run, run_id)
    if run is None:
        raise LookupError(f"no run {run_id}")
    start, end = run.started_at, run.finished_at or utcnow()
    counts = dict(run.counts or {})
    lists = {
        "newly_lost": _newly_lost(session, run_id, start, end),
        "changed": _changed(session, start, end),
        "recovered": _recovered(session, run_id, start, end),
        "failures": _failures(session, run_id),
    }
    totals = {}
    doc: dict = {"schema": SCHEMA,
                 "run": {"id": run.id, "kind": run.kind, "stage": run.stage, "status": run.status,
                         "started_at": iso_utc(start), "finished_at": iso_utc(run.finished_at),
                         "seconds": counts.get("seconds"), "error": run.error}}
    for kind, query in lists.items():
        totals[kind] = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        doc[kind] = [dict(row._mapping) for row in session.execute(query.limit(max_items))]
        for item in doc[kind]:
            for k, v in item.items():
                if isinstance(v, datetime):
                    item[k] = iso_utc(v)
    doc["totals"] = totals
    doc["counts"] = {k: counts.get(k) for k in ("resolved", "captured", "extracted", "dead", "refused", "failed",
                                                "bytes", "watch") if k in counts}
    doc["errors"] = list(counts.get("errors") or [])[:max_items]
    doc["truncated"] = any(totals[k] > len(doc[k]) for k in KINDS)
    return doc


def has_changes(doc: dict) -> bool:
    """Whether the pass changed anything worth telling (a quiet night sends nothing by default)."""
    return any(doc["totals"].values()) or bool(doc["errors"]) or doc["run"]["status"] == "failed"


def _newly_lost(session: Session, run_id: int, start: datetime, end: datetime):
    by_stage = (select(Target.id.label("target_id"), Target.url, Attempt.stage.label("found_by"),
                       Attempt.message.label("reason"), Attempt.started_at.label("at"))
                .join(Target, Target.id == Attempt.target_id)
                .where(Attempt.run_id == run_id, Attempt.outcome == "dead"))
    by_watch = (select(Target.id.label("target_id"), Target.url, literal("watch").label("found_by"),
                       LinkCheck.note.label("reason"), LinkCheck.checked_at.label("at"))
                .join(Target, Target.id == LinkCheck.target_id)
                .where(LinkCheck.state == "dead", LinkCheck.checked_at >= start, LinkCheck.checked_at <= end,
                       Target.dead_since >= start))
    return by_stage.union_all(by_watch).order_by("target_id")


def _changed(session: Session, start: datetime, end: datetime):
    earlier = aliased(LinkCheck)
    moved_before = exists().where(earlier.target_id == LinkCheck.target_id, earlier.id < LinkCheck.id,
                                  earlier.state == "moved", earlier.final_url == LinkCheck.final_url)
    return (select(Target.id.label("target_id"), Target.url, LinkCheck.state, LinkCheck.final_url,
                   LinkCheck.note, LinkCheck.checked_at.label("at"))
            .join(Target, Target.id == LinkCheck.target_id)
            .where(LinkCheck.checked_at >= start, LinkCheck.checked_at <= end,
                   or_(LinkCheck.state == "changed", and_(LinkCheck.state == "moved", ~moved_before)))
            .order_by(Target.id))


def _recovered(session: Session, run_id: int, start: datetime, end: datetime):
    return (select(Target.id.label("target_id"), Target.url, Capture.archive_name.label("archive"),
                   Capture.memento_url, Capture.captured_at.label("archived_at"), Capture.id.label("capture_id"))
            .join(Target, Target.id == Capture.target_id)
            .where(Capture.role == "target", Capture.source == "archive", Capture.not_evidence.is_(False),
                   or_(Capture.run_id == run_id,
                       and_(Capture.run_id.is_(None), Capture.fetched_at >= start, Capture.fetched_at <= end)))
            .order_by(Target.id))


def _failures(session: Session, run_id: int):
    return (select(Target.id.label("target_id"), Target.url, Attempt.stage, Attempt.error_type,
                   Attempt.message, Target.given_up)
            .join(Target, Target.id == Attempt.target_id)
            .where(Attempt.run_id == run_id, Attempt.outcome == "failed")
            .order_by(Target.id, Attempt.id))
