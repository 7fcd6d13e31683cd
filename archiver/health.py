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

The figures and lists are computed in SQL by :mod:`archiver.coverage` (aggregates, and lists read a
batch at a time), so a report of any size costs bounded memory and no list of ids as parameters
(issue 9: 250 000 links made ``status`` and ``health`` fail with "too many SQL variables"). Each list
(``at_risk``, ``lost``, ``changed``) is a window of ``limit`` entries from ``offset``, beside its full
count (``at_risk_count``, ``lost_count``, ``changed_count``).
"""
from __future__ import annotations

from typing import Any, Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import coverage
from .db.tables import Report
from .errors import NotFound


def _risk(e: dict[str, Any]) -> dict[str, Any]:
    return {"activity_id": e["activity_id"], "url": e["url"], "status": e["status"], "reason": e["reason"]}


def _changed(e: dict[str, Any]) -> dict[str, Any]:
    return {"activity_id": e["activity_id"], "url": e["url"], "state": e["state"], "since": e["since"],
            "note": e["note"], "preserved": e["preserved"]}


def _lists(session: Session, rid: int, offset: int, limit: int | None,
           mark_lost: bool) -> dict[str, Iterator[dict[str, Any]]]:
    window = {"report_id": rid, "offset": offset, "limit": limit}
    risk = coverage.iter_at_risk(session, **window)
    return {"at_risk": map(_risk, risk) if not mark_lost else (_risk(e) | {"lost": e["lost"]} for e in risk),
            "changed": map(_changed, coverage.iter_changed(session, **window)),
            "lost": iter(()) if mark_lost else map(_risk, coverage.iter_at_risk(session, lost=True, **window))}


def report_health(session: Session, report_id: int | None = None, *, offset: int = 0, limit: int | None = None,
                  lazy: bool = False, mark_lost: bool = False) -> dict:
    """``{"reports": [...]}`` as ``archiver health --json`` prints it: per report its coverage, its counts, and
    ``limit`` entries (None: all) from ``offset`` of each list. ``lazy``: the reports and their lists are
    iterators, read from the database as they are consumed (for a streamed JSON document; the session must
    stay open until then). ``mark_lost``: each at-risk entry says whether it is lost, and ``lost`` is left
    empty (for a table)."""
    q = select(Report.id, Report.title).order_by(Report.id)
    if report_id is not None:
        q = q.where(Report.id == report_id)
    reports = session.execute(q).all()
    if report_id is not None and not reports:
        raise NotFound(f"no report with id {report_id}")
    figures = coverage.counts(session, None if report_id is None else [report_id])

    def one(rid: int, title: str | None) -> dict[str, Any]:
        c = figures[rid]
        lists = _lists(session, rid, offset, limit, mark_lost)
        if not lazy:
            lists = {k: list(v) for k, v in lists.items()}
        return {"report_id": rid, "title": title, "activities": c["activities_cited"],
                "activities_with_evidence": c["activities_with_evidence"],
                "activities_without_links": c["activities_without_links"], "coverage_pct": c["coverage_pct"],
                "at_risk_count": c["at_risk_count"], "lost_count": c["lost_count"],
                "changed_count": c["changed_count"], "offset": offset, "limit": limit, **lists}

    docs = (one(rid, title) for rid, title in reports)
    return {"reports": docs if lazy else list(docs)}


def summary(session: Session) -> dict:
    """Totals over all reports, for ``archiver status`` (aggregates only: no list is read)."""
    figures = coverage.counts(session, None).values()
    acts = sum(c["activities_cited"] for c in figures)
    good = sum(c["activities_with_evidence"] for c in figures)
    return {"reports": len(figures), "activities": acts, "activities_with_evidence": good,
            "coverage_pct": round(100.0 * good / acts, 1) if acts else 0.0,
            "at_risk": sum(c["at_risk_count"] for c in figures),
            "lost": sum(c["lost_count"] for c in figures),
            "changed": sum(c["changed_count"] for c in figures)}
