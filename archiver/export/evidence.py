"""Which records make up the evidence of an activity or a report.

For every link of the chosen activities: its target's captures (the page or document,
each capture over time), the requisites hanging off them (images, CSS... by parent_id),
the originals that revisit records repeat, and the records of the short link's redirect
hops. Watch probes are left out: they are re-checks, not the evidence that was cited.

What a report's export holds in memory is bounded by rows, not objects (issue 10: a
20 000-link export reached 918 MB, then 330 MB with ORM objects for every activity, link,
target and capture): the records are plain rows (a capture's columns and its extraction's
title, never the text), and the activities are read a batch at a time, with their links,
targets and hops, each time the summary is written (:func:`iter_activities`). The scope is a
subquery (the report's or activity's links), never a list of ids as parameters; only the
requisite/revisit closure binds ids, a bounded batch per statement.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ..db.tables import Activity, Capture, Extraction, Hop, Link, Report, Target
from ..errors import NotFound

EVIDENCE_ROLES = ("target", "hop", "requisite")
BATCH = 200  # activities loaded at a time while the summary is written
IDS_PER_QUERY = 500  # captures whose requisites or originals one query asks for
# what the summary reads for every activity: loaded a batch at a time, in a few queries per batch
_WITH_LINKS = selectinload(Activity.links).selectinload(Link.target).selectinload(Target.hops)
_COLUMNS = (*Capture.__table__.c, Extraction.title.label("title"))


@dataclass
class Selection:
    kind: str  # activity | report
    id: int
    title: str
    report: Report
    activity_ordinal: int | None  # of the activity exported (kind activity)
    captures: list[Any]  # every record to package, in package order: rows with a capture's columns and ``title``

    def scope(self):
        """SQL: the condition on ``Activity`` of the activities exported."""
        return Activity.id == self.id if self.kind == "activity" else Activity.report_id == self.id


def select_activity(session: Session, activity_id: int) -> Selection:
    activity = session.get(Activity, activity_id)
    if activity is None:
        raise NotFound(f"no activity with id {activity_id}")
    report = activity.report
    title = f"Evidence for activity {activity.ordinal} of {report.title or report.source}"
    sel = Selection("activity", activity.id, title, report, activity.ordinal, [])
    sel.captures = _captures(session, sel)
    return sel


def select_report(session: Session, report_id: int) -> Selection:
    report = session.get(Report, report_id)
    if report is None:
        raise NotFound(f"no report with id {report_id}")
    sel = Selection("report", report.id, f"Evidence for {report.title or report.source}", report, None, [])
    sel.captures = _captures(session, sel)
    return sel


def iter_activities(session: Session, selection: Selection) -> Iterator[Activity]:
    """The exported activities in order, with links, targets and hops, read ``BATCH`` at a time; each batch
    leaves the session when the next is read (``session.expunge_all``: the export's session is its own and
    read-only)."""
    after = 0
    while True:
        q = (select(Activity).where(selection.scope(), Activity.ordinal > after)
             .order_by(Activity.ordinal).limit(BATCH).options(_WITH_LINKS))
        batch = list(session.scalars(q))
        yield from batch
        if len(batch) < BATCH:
            return
        after = batch[-1].ordinal
        # the batch leaves the session (its links, targets and hops with it): nothing else of the export is
        # in the session but the report, whose columns are loaded and stay readable
        session.expunge_all()


def _rows(session: Session, where) -> list[Any]:
    return list(session.execute(select(*_COLUMNS).outerjoin(Extraction, Extraction.capture_id == Capture.id)
                                .where(where)))


def _captures(session: Session, selection: Selection) -> list[Any]:
    targets = select(Link.target_id).join(Activity, Activity.id == Link.activity_id).where(selection.scope())
    chosen: dict[int, Any] = {}

    def add(rows) -> list[int]:
        new = [c for c in rows if c.id not in chosen]
        chosen.update((c.id, c) for c in new)
        return [c.id for c in new]

    add(_rows(session, Capture.target_id.in_(targets) & Capture.role.in_(EVIDENCE_ROLES)))
    add(_rows(session, Capture.id.in_(select(Hop.capture_id).where(Hop.target_id.in_(targets),
                                                                   Hop.capture_id.is_not(None)))))
    frontier = list(chosen)
    while frontier:  # requisites of what we hold, originals of revisits we hold, until nothing new
        found: list[int] = []
        for i in range(0, len(frontier), IDS_PER_QUERY):
            part = frontier[i:i + IDS_PER_QUERY]
            found += add(_rows(session, Capture.parent_id.in_(part) & (Capture.role != "probe")))
            originals = {chosen[c].revisit_of_id for c in part if chosen[c].revisit_of_id}
            if originals:
                found += add(_rows(session, Capture.id.in_(originals)))
        frontier = found
    return sorted(chosen.values(), key=lambda c: (c.captured_at, c.id))
