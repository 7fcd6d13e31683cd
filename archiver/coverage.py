"""Evidence health in SQL, a page at a time: what the web pages show at any archive size.

The definitions are health.py's (preserved, has evidence, at risk, lost, changed); this
module computes the same numbers with aggregate queries and lists the at-risk and changed
links one page at a time, so that a page never loads every link of a report (a report
with 300 000 links made the front page fail with "too many SQL variables") and every query
has a bounded parameter list (at most one page of report ids). ``tests/test_web_pages.py``
checks that both modules agree.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.orm import Session

from .db.base import iso_utc
from .db.tables import Activity, Capture, Link, LinkCheck, Report, Target

_TROUBLED = ("dead", "failed", "refused")
_CHANGED = ("changed", "moved")


def _preserved():
    """SQL: the link's target has a preserved capture (health.py's definition)."""
    return exists().where(Capture.target_id == Target.id, Capture.role == "target",
                          Capture.not_evidence.is_(False), Capture.http_status >= 200, Capture.http_status < 300)


def _at_risk(preserved):
    return and_(or_(Target.status.in_(_TROUBLED), Target.watch_state == "dead"), ~preserved)


def _lost():
    return or_(Target.given_up.is_(True), Target.status == "refused",
               and_(Target.status == "dead", Target.stage == "done"))


def counts(session: Session, report_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Per report: the coverage numbers of ``archiver health`` (``activities_cited``: its ``activities``, those
    citing a link) and how many links are at risk, lost and changed. One pass over the report's links, each
    joined once to the set of targets with a preserved capture, summed per activity and then per report (no
    ``count(DISTINCT)``, no probe per link and figure); ``report_ids`` is one page of reports."""
    out = {rid: {"activities_cited": 0, "activities_with_evidence": 0, "activities_without_links": 0,
                 "coverage_pct": 0.0, "at_risk_count": 0, "lost_count": 0, "changed_count": 0}
           for rid in report_ids}
    if not report_ids:
        return out
    kept = (select(Capture.target_id.label("tid")).where(
        Capture.role == "target", Capture.not_evidence.is_(False), Capture.http_status >= 200,
        Capture.http_status < 300).distinct().subquery())
    pres = kept.c.tid.is_not(None)
    risk = and_(or_(Target.status.in_(_TROUBLED), Target.watch_state == "dead"), ~pres)
    per_activity = (
        select(Activity.report_id.label("rid"), func.max(case((pres, 1), else_=0)).label("good"),
               func.sum(case((risk, 1), else_=0)).label("risk"),
               func.sum(case((and_(risk, _lost()), 1), else_=0)).label("lost"),
               func.sum(case((Target.watch_state.in_(_CHANGED), 1), else_=0)).label("changed"))
        .select_from(Activity).join(Link, Link.activity_id == Activity.id).join(Target, Target.id == Link.target_id)
        .outerjoin(kept, kept.c.tid == Target.id).where(Activity.report_id.in_(report_ids))
        .group_by(Activity.report_id, Activity.id).subquery())
    c = per_activity.c
    rows = session.execute(select(c.rid, func.count(), func.sum(c.good), func.sum(c.risk), func.sum(c.lost),
                                  func.sum(c.changed)).group_by(c.rid))
    for rid, acts, good, at_risk, lost, changed in rows:
        good = int(good or 0)
        out[rid].update(activities_cited=acts, activities_with_evidence=good, at_risk_count=int(at_risk or 0),
                        lost_count=int(lost or 0), changed_count=int(changed or 0),
                        coverage_pct=round(100.0 * good / acts, 1) if acts else 0.0)
    for rid, n in session.execute(select(Activity.report_id, func.count()).where(Activity.report_id.in_(report_ids))
                                  .group_by(Activity.report_id)):
        out[rid]["activities_without_links"] = n - out[rid]["activities_cited"]
    return out


def _link_rows(extra, report_id: int | None):
    q = (select(Report.id, Report.title, Activity.id, Activity.ordinal, Link.url_raw, Target)
         .join(Activity, Activity.report_id == Report.id).join(Link, Link.activity_id == Activity.id)
         .join(Target, Target.id == Link.target_id).where(extra))
    if report_id is not None:
        q = q.where(Report.id == report_id)
    return q


def _page(session: Session, q, offset: int, limit: int, total: int | None):
    """One page of link rows in report, activity and link order, and the total. Ordered by the links'
    index (activity_id, position), so the first pages need no sort of every row: activity ids follow
    report and ordinal order, as ingest writes a report's activities in order in one transaction."""
    if total is None:
        total = session.scalar(select(func.count()).select_from(q.order_by(None).subquery()))
    rows = session.execute(q.order_by(Link.activity_id, Link.position).offset(offset).limit(limit)).all()
    return rows, total


def at_risk(session: Session, *, report_id: int | None = None, offset: int = 0, limit: int = 100,
            total: int | None = None):
    """(entries, total): the at-risk links in report and activity order, each marked ``lost`` (``total``:
    already known from :func:`counts`, not counted again)."""
    rows, total = _page(session, _link_rows(_at_risk(_preserved()), report_id), offset, limit, total)
    entries = []
    for rid, title, act_id, ordinal, url, t in rows:
        reason = t.status_reason or (f"dead since {t.dead_since:%Y-%m-%d}" if t.dead_since else t.status)
        lost = bool(t.given_up) or t.status == "refused" or (t.status == "dead" and t.stage == "done")
        entries.append({"report_id": rid, "report_title": title, "activity_id": act_id, "activity_ordinal": ordinal,
                        "url": url, "status": t.status, "reason": reason, "lost": lost})
    return entries, total


def changed(session: Session, *, report_id: int | None = None, offset: int = 0, limit: int = 100,
            total: int | None = None):
    """(entries, total): links whose live page changed or moved since capture, with the latest check's note."""
    rows, total = _page(session, _link_rows(Target.watch_state.in_(_CHANGED), report_id), offset, limit, total)
    ids = list({r[5].id for r in rows})  # one page of targets
    notes: dict[int, str | None] = {}
    preserved: set[int] = set()
    if ids:
        for tid, note in session.execute(select(LinkCheck.target_id, LinkCheck.note)
                                         .where(LinkCheck.target_id.in_(ids))
                                         .order_by(LinkCheck.checked_at, LinkCheck.id)):
            notes[tid] = note
        preserved = set(session.scalars(select(Target.id).where(Target.id.in_(ids), _preserved())))
    entries = [{"report_id": rid, "report_title": title, "activity_id": act_id, "activity_ordinal": ordinal,
                "url": url, "state": t.watch_state, "since": iso_utc(t.last_checked_at), "note": notes.get(t.id),
                "preserved": t.id in preserved} for rid, title, act_id, ordinal, url, t in rows]
    return entries, total


__all__ = ["counts", "at_risk", "changed"]
