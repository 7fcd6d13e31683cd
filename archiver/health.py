"""Evidence health per report: how much is preserved, what is at risk, what changed.

Definitions (shared by ``archiver health``, ``archiver status`` and the web UI):

* a **preserved** capture is a ``role=target`` capture with a 2xx status that is not
  marked ``not_evidence``, live or recovered from an archive;
* an activity **has evidence** when at least one link it cites has a preserved
  capture; coverage is over the activities that cite at least one link;
* **at risk**: a cited link with no preserved capture whose target is dead, failing or
  refused (or seen dead by the watch), with the reason; listed first;
* **lost**: the at-risk links for which every automatic source is exhausted (given up
  after retries, or dead and not found in any archive): only a person can still help
  (a manual override);
* **changed**: links whose live page changed or moved since capture (watch).
"""
from __future__ import annotations

from sqlalchemy import func, select, true
from sqlalchemy.orm import Session

from .db.tables import Activity, Capture, LinkCheck, Link, Report, Target
from .errors import NotFound

_TROUBLED = ("dead", "failed", "refused")


def _preserved_targets(session: Session, report_id: int | None) -> set[int]:
    """Targets cited (by ``report_id``, else by any report) that have a preserved capture: a join, never a
    list of ids as parameters (a report with 300 000 links is more than a database takes)."""
    q = (select(Capture.target_id).join(Link, Link.target_id == Capture.target_id)
         .where(Capture.role == "target", Capture.not_evidence.is_(False),
                Capture.http_status >= 200, Capture.http_status < 300).distinct())
    if report_id is not None:
        q = q.join(Activity, Activity.id == Link.activity_id).where(Activity.report_id == report_id)
    return set(session.scalars(q))


def _lost(t: Target) -> bool:
    return bool(t.given_up) or t.status == "refused" or (t.status == "dead" and t.stage == "done")


def _latest_notes(session: Session, target_ids: set[int]) -> dict[int, str | None]:
    """The latest check's note of each changed or moved target (``target_ids``: those of interest)."""
    if not target_ids:
        return {}
    out: dict[int, str | None] = {}
    for tid, note in session.execute(select(LinkCheck.target_id, LinkCheck.note)
                                     .join(Target, Target.id == LinkCheck.target_id)
                                     .where(Target.watch_state.in_(("changed", "moved")))
                                     .order_by(LinkCheck.checked_at, LinkCheck.id)):
        if tid in target_ids:
            out[tid] = note
    return out


def report_health(session: Session, report_id: int | None = None) -> dict:
    """``{"reports": [...]}`` as ``archiver health --json`` prints it."""
    q = select(Report).order_by(Report.id)
    if report_id is not None:
        q = q.where(Report.id == report_id)
    reports = session.scalars(q).all()
    if report_id is not None and not reports:
        raise NotFound(f"no report with id {report_id}")
    scope = Activity.report_id == report_id if report_id is not None else true()
    rows = session.execute(
        select(Activity.report_id, Activity.id, Activity.ordinal, Link.url_raw, Link.position, Target)
        .join(Link, Link.activity_id == Activity.id).join(Target, Target.id == Link.target_id)
        .where(scope).order_by(Activity.report_id, Activity.ordinal, Link.position)).all()
    all_acts = dict(session.execute(select(Activity.report_id, func.count(Activity.id)).where(scope)
                                    .group_by(Activity.report_id)).all())
    preserved = _preserved_targets(session, report_id)
    changed_ids = {row[5].id for row in rows if row[5].watch_state in ("changed", "moved")}
    notes = _latest_notes(session, changed_ids)
    by_report: dict[int, dict] = {}
    for r in reports:
        by_report[r.id] = {"report_id": r.id, "title": r.title, "activities": 0, "activities_with_evidence": 0,
                           "activities_without_links": 0, "coverage_pct": 0.0, "at_risk": [], "changed": [],
                           "lost": [], "_acts": set(), "_good": set()}
    for rid, act_id, _ordinal, url_raw, _pos, t in rows:
        d = by_report[rid]
        d["_acts"].add(act_id)
        if t.id in preserved:
            d["_good"].add(act_id)
        elif t.status in _TROUBLED or t.watch_state == "dead":
            reason = t.status_reason or (f"dead since {t.dead_since:%Y-%m-%d}" if t.dead_since else t.status)
            entry = {"activity_id": act_id, "url": url_raw, "status": t.status, "reason": reason}
            d["at_risk"].append(entry)
            if _lost(t):
                d["lost"].append(entry)
        if t.id in changed_ids:
            d["changed"].append({"activity_id": act_id, "url": url_raw, "state": t.watch_state,
                                 "since": t.last_checked_at, "note": notes.get(t.id),
                                 "preserved": t.id in preserved})
    out = []
    for r in reports:
        d = by_report[r.id]
        acts, good = d.pop("_acts"), d.pop("_good")
        d["activities"] = len(acts)
        d["activities_with_evidence"] = len(good)
        d["activities_without_links"] = all_acts.get(r.id, 0) - len(acts)
        d["coverage_pct"] = round(100.0 * len(good) / len(acts), 1) if acts else 0.0
        out.append(d)
    return {"reports": out}


def summary(session: Session) -> dict:
    """Totals over all reports, for ``archiver status``."""
    reports = report_health(session)["reports"]
    acts = sum(r["activities"] for r in reports)
    good = sum(r["activities_with_evidence"] for r in reports)
    return {"reports": len(reports), "activities": acts, "activities_with_evidence": good,
            "coverage_pct": round(100.0 * good / acts, 1) if acts else 0.0,
            "at_risk": sum(len(r["at_risk"]) for r in reports),
            "lost": sum(len(r["lost"]) for r in reports),
            "changed": sum(len(r["changed"]) for r in reports)}
