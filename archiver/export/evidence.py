"""Which records make up the evidence of an activity or a report.

For every link of the chosen activities: its target's captures (the page or document,
each capture over time), the requisites hanging off them (images, CSS... by parent_id),
the originals that revisit records repeat, and the records of the short link's redirect
hops. Watch probes are left out: they are re-checks, not the evidence that was cited.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ..db.tables import Activity, Capture, Extraction, Hop, Link, Report, Target
from ..errors import NotFound

EVIDENCE_ROLES = ("target", "hop", "requisite")
# what the summary reads for every activity and record: loaded in a few queries, not one per row
_WITH_LINKS = selectinload(Activity.links).selectinload(Link.target).selectinload(Target.hops)
# of the extraction only the title (the summary's and pages.jsonl's): never the texts, which can be megabytes each
_WITH_TEXT = selectinload(Capture.extraction).load_only(Extraction.title)


@dataclass
class Selection:
    kind: str  # activity | report
    id: int
    title: str
    report: Report
    activities: list[Activity]
    captures: list[Capture]  # every record to package, in package order


def select_activity(session: Session, activity_id: int) -> Selection:
    activity = session.get(Activity, activity_id, options=[_WITH_LINKS])
    if activity is None:
        raise NotFound(f"no activity with id {activity_id}")
    report = activity.report
    title = f"Evidence for activity {activity.ordinal} of {report.title or report.source}"
    return Selection("activity", activity.id, title, report, [activity], _captures(session, [activity]))


def select_report(session: Session, report_id: int) -> Selection:
    report = session.get(Report, report_id)
    if report is None:
        raise NotFound(f"no report with id {report_id}")
    activities = list(session.scalars(select(Activity).where(Activity.report_id == report.id)
                                      .order_by(Activity.ordinal).options(_WITH_LINKS)))
    title = f"Evidence for {report.title or report.source}"
    return Selection("report", report.id, title, report, activities, _captures(session, activities))


def _captures(session: Session, activities: list[Activity]) -> list[Capture]:
    target_ids = {link.target_id for a in activities for link in a.links}
    if not target_ids:
        return []
    chosen: dict[int, Capture] = {}

    def add(rows) -> list[int]:
        new = [c for c in rows if c.id not in chosen]
        chosen.update((c.id, c) for c in new)
        return [c.id for c in new]

    add(session.scalars(select(Capture).options(_WITH_TEXT).where(Capture.target_id.in_(target_ids),
                                                                  Capture.role.in_(EVIDENCE_ROLES))))
    hop_ids = {h for h in session.scalars(select(Hop.capture_id).where(Hop.target_id.in_(target_ids)))
               if h is not None}
    if hop_ids:
        add(session.scalars(select(Capture).options(_WITH_TEXT).where(Capture.id.in_(hop_ids))))
    frontier = list(chosen)
    while frontier:  # requisites of what we hold, originals of revisits we hold, until nothing new
        children = session.scalars(select(Capture).options(_WITH_TEXT).where(Capture.parent_id.in_(frontier),
                                                                             Capture.role != "probe"))
        originals_ids = {chosen[i].revisit_of_id for i in frontier if i in chosen and chosen[i].revisit_of_id}
        originals = (session.scalars(select(Capture).options(_WITH_TEXT).where(Capture.id.in_(originals_ids)))
                     if originals_ids else [])
        frontier = add(children) + add(originals)
    return sorted(chosen.values(), key=lambda c: (c.captured_at, c.id))
