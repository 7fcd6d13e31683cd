"""Read models for the interface and its JSON API: plain dicts, one query module, no HTML.

Written here because ``archiver.db.queries`` was not there when the web layer was
built; pages and API use the same functions so they always show the same thing.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..db.tables import CAPTURED, Activity, Capture, Link, Report, Run, Target
from ..errors import NotFound

AT_RISK = ("dead", "failed", "refused", "pending")


def _coverage(session: Session, report_ids: list[int]) -> dict[int, dict]:
    """Per report: links, links whose target is captured, and the share captured."""
    rows = session.execute(
        select(Activity.report_id, Target.status, func.count(Link.id))
        .join(Link, Link.activity_id == Activity.id).join(Target, Target.id == Link.target_id)
        .where(Activity.report_id.in_(report_ids)).group_by(Activity.report_id, Target.status)).all()
    out = {rid: {"links": 0, "captured": 0, "by_status": {}} for rid in report_ids}
    for rid, status, n in rows:
        out[rid]["links"] += n
        out[rid]["by_status"][status] = n
        if status == CAPTURED:
            out[rid]["captured"] += n
    for c in out.values():
        c["coverage"] = round(c["captured"] / c["links"], 4) if c["links"] else None
    return out


def _report(r: Report, activities: int, cov: dict) -> dict:
    return {"id": r.id, "title": r.title, "source": r.source, "source_kind": r.source_kind, "format": r.format,
            "sha256": r.sha256, "size_bytes": r.size_bytes, "ingested_at": r.ingested_at,
            "activities": activities, **cov}


def list_reports(session: Session) -> list[dict]:
    reports = session.scalars(select(Report).order_by(Report.id)).all()
    ids = [r.id for r in reports]
    counts = dict(session.execute(select(Activity.report_id, func.count(Activity.id))
                                  .where(Activity.report_id.in_(ids)).group_by(Activity.report_id)).all())
    cov = _coverage(session, ids)
    return [_report(r, counts.get(r.id, 0), cov[r.id]) for r in reports]


def get_report(session: Session, report_id: int) -> dict:
    r = session.get(Report, report_id)
    if r is None:
        raise NotFound(f"no report {report_id}")
    n = session.scalar(select(func.count(Activity.id)).where(Activity.report_id == report_id))
    return _report(r, n, _coverage(session, [report_id])[report_id])


def _link(link: Link) -> dict:
    t = link.target
    return {"id": link.id, "position": link.position, "url_raw": link.url_raw, "text_raw": link.text_raw,
            "url_normalized": link.url_normalized, "target_id": t.id, "status": t.status,
            "status_reason": t.status_reason, "final_url": t.final_url, "resolution_method": t.resolution_method,
            "resolution_source": t.resolution_source, "memento_url": t.memento_url, "is_short": t.is_short,
            "watch_state": t.watch_state}


def _activity(a: Activity) -> dict:
    return {"id": a.id, "report_id": a.report_id, "ordinal": a.ordinal, "text": a.text, "date_start": a.date_start,
            "date_end": a.date_end, "date_text": a.date_text, "date_precision": a.date_precision,
            "date_inferred": a.date_inferred, "links": [_link(lk) for lk in a.links]}


def list_activities(session: Session, report_id: int) -> list[dict]:
    get_report(session, report_id)
    acts = session.scalars(select(Activity).where(Activity.report_id == report_id).order_by(Activity.ordinal)).all()
    return [_activity(a) for a in acts]


def capture_dict(c: Capture, with_text: bool = False) -> dict:
    d = {"id": c.id, "role": c.role, "url": c.url, "captured_at": c.captured_at, "fetched_at": c.fetched_at,
         "http_status": c.http_status, "content_type": c.content_type, "sha256": c.sha256,
         "payload_digest": c.payload_digest, "payload_length": c.payload_length, "record_id": c.record_id,
         "truncated": c.truncated, "is_revisit": c.is_revisit, "revisit_of_id": c.revisit_of_id,
         "source": c.source, "archive_name": c.archive_name, "memento_url": c.memento_url,
         "memento_datetime": c.memento_datetime, "ip_address": c.ip_address, "not_evidence": c.not_evidence,
         "not_evidence_reason": c.not_evidence_reason, "target_id": c.target_id, "parent_id": c.parent_id}
    if with_text:
        e = c.extraction
        d["extraction"] = None if e is None else {"title": e.title, "method": e.method, "language": e.language,
                                                   "text": e.text, "error": e.error}
    return d


def get_activity(session: Session, activity_id: int) -> dict:
    """An activity with each link's target, redirect chain, and captures (requisites counted, not listed)."""
    a = session.get(Activity, activity_id)
    if a is None:
        raise NotFound(f"no activity {activity_id}")
    out = _activity(a)
    out["report_title"] = a.report.title
    for link, d in zip(a.links, out["links"]):
        t = link.target
        d["hops"] = [{"seq": h.seq, "attempt": h.attempt, "url": h.url, "status_code": h.status_code,
                      "location": h.location, "kind": h.kind, "fetched_at": h.fetched_at,
                      "capture_id": h.capture_id, "note": h.note} for h in t.hops]
        caps = session.scalars(select(Capture).where(Capture.target_id == t.id)
                               .order_by(Capture.captured_at, Capture.id)).all()
        d["captures"] = [capture_dict(c, with_text=True) for c in caps if c.role != "requisite"]
        d["requisites"] = sum(1 for c in caps if c.role == "requisite")
    return out


def get_capture(session: Session, capture_id: int) -> dict:
    c = session.get(Capture, capture_id)
    if c is None:
        raise NotFound(f"no capture {capture_id}")
    return capture_dict(c, with_text=True)


def timeline(session: Session, url: str) -> list[dict]:
    caps = session.scalars(select(Capture).where(Capture.url == url).order_by(Capture.captured_at, Capture.id)).all()
    return [capture_dict(c) for c in caps]


def health(session: Session) -> dict:
    """Coverage per report and the evidence at risk: links whose target has no capture we can show."""
    reports = list_reports(session)
    rows = session.execute(
        select(Report.id, Report.title, Activity.id, Activity.ordinal, Link.url_raw, Target.id, Target.status,
               Target.status_reason, Target.attempts, Target.given_up)
        .join(Activity, Activity.report_id == Report.id).join(Link, Link.activity_id == Activity.id)
        .join(Target, Target.id == Link.target_id).where(Target.status.in_(AT_RISK))
        .order_by(Report.id, Activity.ordinal, Link.position)).all()
    at_risk = [{"report_id": r[0], "report_title": r[1], "activity_id": r[2], "activity_ordinal": r[3],
                "url_raw": r[4], "target_id": r[5], "status": r[6], "reason": r[7], "attempts": r[8],
                "given_up": r[9]} for r in rows]
    return {"reports": [{k: r[k] for k in ("id", "title", "links", "captured", "coverage", "by_status")}
                        for r in reports], "at_risk": at_risk}


def recent_runs(session: Session, limit: int = 10) -> list[dict]:
    runs = session.scalars(select(Run).order_by(Run.id.desc()).limit(limit)).all()
    return [{"id": r.id, "kind": r.kind, "status": r.status, "started_at": r.started_at,
             "finished_at": r.finished_at, "counts": r.counts, "error": r.error} for r in runs]


def iso(value: Any) -> Any:
    return value.isoformat().replace("+00:00", "Z") if isinstance(value, datetime) else value
