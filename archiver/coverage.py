"""Evidence health in SQL, a page at a time: what the web pages show at any archive size.

The definitions are health.py's (preserved, has evidence, at risk, lost, changed); this
module computes the same numbers with aggregate queries and lists the at-risk and changed
links one page at a time, so that a page never loads every link of a report (a report
with 300 000 links made the front page fail with "too many SQL variables") and every query
has a bounded parameter list (at most one page of report ids). ``tests/test_web_pages.py``
checks that both modules agree.
"""
from __future__ import annotations

from typing import Any, Iterator

from sqlalchemy import and_, case, exists, func, or_, select, true
from sqlalchemy.orm import Session

from .db.base import iso_utc
from .db.tables import Activity, Capture, Link, LinkCheck, Report, Target

_TROUBLED = ("dead", "failed", "refused")
_CHANGED = ("changed", "moved")
BATCH = 500  # rows per query when a list is streamed


def _preserved():
    """SQL: the link's target has a preserved capture (health.py's definition)."""
    return exists().where(Capture.target_id == Target.id, Capture.role == "target",
                          Capture.not_evidence.is_(False), Capture.http_status >= 200, Capture.http_status < 300)


def _at_risk(preserved):
    return and_(or_(Target.status.in_(_TROUBLED), Target.watch_state == "dead"), ~preserved)


def _lost():
    return or_(Target.given_up.is_(True), Target.status == "refused",
               and_(Target.status == "dead", Target.stage == "done"))


def counts(session: Session, report_ids: list[int] | None) -> dict[int, dict[str, Any]]:
    """Per report: the coverage numbers of ``archiver health`` (``activities_cited``: its ``activities``, those
    citing a link) and how many links are at risk, lost and changed. One pass over the report's links, each
    joined once to the set of targets with a preserved capture, summed per activity and then per report (no
    ``count(DISTINCT)``, no probe per link and figure); ``report_ids`` is one page of reports, or None for
    every report (no list of ids then: a join over all of them)."""
    if report_ids is None:
        report_ids = list(session.scalars(select(Report.id).order_by(Report.id)))
        scope = None
    else:
        scope = Activity.report_id.in_(report_ids)
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
        .outerjoin(kept, kept.c.tid == Target.id).where(true() if scope is None else scope)
        .group_by(Activity.report_id, Activity.id).subquery())
    c = per_activity.c
    rows = session.execute(select(c.rid, func.count(), func.sum(c.good), func.sum(c.risk), func.sum(c.lost),
                                  func.sum(c.changed)).group_by(c.rid))
    for rid, acts, good, at_risk, lost, changed in rows:
        good = int(good or 0)
        out[rid].update(activities_cited=acts, activities_with_evidence=good, at_risk_count=int(at_risk or 0),
                        lost_count=int(lost or 0), changed_count=int(changed or 0),
                        coverage_pct=round(100.0 * good / acts, 1) if acts else 0.0)
    for rid, n in session.execute(select(Activity.report_id, func.count()).where(true() if scope is None else scope)
                                  .group_by(Activity.report_id)):
        out[rid]["activities_without_links"] = n - out[rid]["activities_cited"]
    return out


def _link_rows(extra, report_id: int | None, *columns):
    """The link rows a list shows: plain columns, no ORM objects (a streamed list reads hundreds of thousands)."""
    q = (select(Report.id, Report.title, Activity.id, Activity.ordinal, Link.url_raw, Target.status,
                Target.status_reason, Target.dead_since, Target.given_up, Target.stage, Target.watch_state,
                Target.last_checked_at, *columns)
         .join(Activity, Activity.report_id == Report.id).join(Link, Link.activity_id == Activity.id)
         .join(Target, Target.id == Link.target_id).where(extra))
    if report_id is not None:
        q = q.where(Report.id == report_id)
    return q


def _total(session: Session, q) -> int:
    return session.scalar(select(func.count()).select_from(q.order_by(None).subquery())) or 0


def _rows(session: Session, q, offset: int, limit: int | None) -> Iterator[Any]:
    """The rows of ``q`` from ``offset`` (at most ``limit``; None: all), in report, activity and link order,
    fetched ``BATCH`` at a time from one query's cursor (a server-side cursor on PostgreSQL): the database
    sorts once, whatever the length. Ordered by the links' index (activity_id, position): activity ids
    follow report and ordinal order, as ingest writes a report's activities in order in one transaction."""
    q = q.order_by(Link.activity_id, Link.position).offset(offset or None).limit(limit)
    yield from session.execute(q.execution_options(yield_per=BATCH))


def _risk_entry(row) -> dict[str, Any]:
    rid, title, act_id, ordinal, url, status, why, dead_since, given_up, stage = row[:10]
    reason = why or (f"dead since {dead_since:%Y-%m-%d}" if dead_since else status)
    lost = bool(given_up) or status == "refused" or (status == "dead" and stage == "done")
    return {"report_id": rid, "report_title": title, "activity_id": act_id, "activity_ordinal": ordinal,
            "url": url, "status": status, "reason": reason, "lost": lost}


def iter_at_risk(session: Session, *, report_id: int | None = None, offset: int = 0, limit: int | None = None,
                 lost: bool = False) -> Iterator[dict[str, Any]]:
    """The at-risk links (``lost``: only those lost) in report and activity order, each marked ``lost``,
    streamed (``limit`` None: all of them)."""
    where = _at_risk(_preserved()) if not lost else and_(_at_risk(_preserved()), _lost())
    return map(_risk_entry, _rows(session, _link_rows(where, report_id), offset, limit))


def at_risk(session: Session, *, report_id: int | None = None, offset: int = 0, limit: int = 100,
            total: int | None = None, lost: bool = False):
    """(entries, total): one page of :func:`iter_at_risk` (``total``: already known from :func:`counts`,
    not counted again)."""
    where = _at_risk(_preserved()) if not lost else and_(_at_risk(_preserved()), _lost())
    if total is None:
        total = _total(session, _link_rows(where, report_id))
    return list(iter_at_risk(session, report_id=report_id, offset=offset, limit=limit, lost=lost)), total


def _latest_note():
    """SQL: the latest watch check's note on the row's target (a correlated subquery: no list of ids)."""
    return (select(LinkCheck.note).where(LinkCheck.target_id == Target.id)
            .order_by(LinkCheck.checked_at.desc(), LinkCheck.id.desc()).limit(1).scalar_subquery())


def iter_changed(session: Session, *, report_id: int | None = None, offset: int = 0,
                 limit: int | None = None) -> Iterator[dict[str, Any]]:
    """Links whose live page changed or moved since capture, with the latest check's note, streamed."""
    q = _link_rows(Target.watch_state.in_(_CHANGED), report_id, _latest_note(), _preserved())
    for rid, title, act_id, ordinal, url, *_, watch_state, checked_at, note, kept in _rows(session, q, offset, limit):
        yield {"report_id": rid, "report_title": title, "activity_id": act_id, "activity_ordinal": ordinal,
               "url": url, "state": watch_state, "since": iso_utc(checked_at), "note": note,
               "preserved": bool(kept)}


def changed(session: Session, *, report_id: int | None = None, offset: int = 0, limit: int = 100,
            total: int | None = None):
    """(entries, total): one page of :func:`iter_changed`."""
    if total is None:
        total = _total(session, _link_rows(Target.watch_state.in_(_CHANGED), report_id))
    return list(iter_changed(session, report_id=report_id, offset=offset, limit=limit)), total


__all__ = ["counts", "at_risk", "changed", "iter_at_risk", "iter_changed", "BATCH"]
