"""What the pages and the JSON API show: the CLI's read models, nothing of their own.

Reports, activities, links and captures come from ``archiver.db.queries`` (as
``archiver reports/activities/show`` print them); coverage and the evidence at
risk come from ``archiver.health`` (as ``archiver health`` prints them). So the
CLI, the pages and the API cannot disagree. Two things are the web's own:
WARC file names and offsets are dropped (archived bytes are reached through
the replay origin, never by a path), and captures get their replay URLs.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db import queries
from ..db.tables import Activity
from ..health import report_health
from .replay import replay_url

# where a capture's bytes lie in our storage: only the index (and the replay origin) needs it
PRIVATE = ("warc_file", "offset", "length")
# what health adds to a report dict; its "activities" (those citing a link) is left out, the report's
# own "activities" counts them all, as `archiver reports` does
COVERAGE = ("activities_with_evidence", "activities_without_links", "coverage_pct", "at_risk", "lost", "changed")


def public(capture: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in capture.items() if k not in PRIVATE}


def _public_links(activity: dict[str, Any]) -> dict[str, Any]:
    for link in activity["links"]:
        link["captures"] = [public(c) for c in link["captures"]]
    return activity


def _coverage(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: entry[k] for k in COVERAGE}


def list_reports(session: Session) -> list[dict[str, Any]]:
    """``archiver reports`` rows, each with its evidence coverage from ``archiver health``."""
    rows = queries.list_reports(session)
    health = {h["report_id"]: h for h in report_health(session)["reports"]}
    return [{**r, **_coverage(health.get(r["id"]) or report_health(session, r["id"])["reports"][0])}
            for r in rows]


def get_report(session: Session, report_id: int) -> dict[str, Any]:
    report = queries.report_detail(session, report_id)
    return {**report, **_coverage(report_health(session, report_id)["reports"][0])}


def list_activities(session: Session, report_id: int) -> list[dict[str, Any]]:
    return [_public_links(a) for a in queries.list_activities(session, report_id=report_id)]


def get_activity(session: Session, activity_id: int) -> dict[str, Any]:
    """``archiver show`` with provenance, requisite counts and extracted text."""
    return _public_links(queries.activity_detail(session, activity_id, full=True))


def get_capture(session: Session, capture_id: int) -> dict[str, Any]:
    return public(queries.capture_detail(session, capture_id))


def timeline(session: Session, url: str) -> list[dict[str, Any]]:
    return [public(c) for c in queries.timeline(session, url)]


def recent_runs(session: Session, limit: int = 10) -> list[dict[str, Any]]:
    return queries.recent_runs(session, limit)


def health(session: Session) -> dict[str, Any]:
    """Exactly what ``archiver health --json`` prints."""
    return report_health(session)


def health_view(session: Session) -> dict[str, Any]:
    """``archiver health`` for one page: the at-risk and changed links of all reports in one list each,
    labelled with their report and the activity's number in it (lost ones marked), then the coverage."""
    doc = report_health(session)
    entries = [e for r in doc["reports"] for e in r["at_risk"] + r["changed"]]
    ordinals = dict(session.execute(select(Activity.id, Activity.ordinal)
                                    .where(Activity.id.in_({e["activity_id"] for e in entries}))).all())

    def label(r: dict, e: dict) -> dict:
        return {**e, "report_id": r["report_id"], "report_title": r["title"],
                "activity_ordinal": ordinals.get(e["activity_id"])}

    at_risk, changed = [], []
    for r in doc["reports"]:
        lost = {(e["activity_id"], e["url"]) for e in r["lost"]}
        at_risk += [{**label(r, e), "lost": (e["activity_id"], e["url"]) in lost} for e in r["at_risk"]]
        changed += [label(r, e) for e in r["changed"]]
    return {"reports": doc["reports"], "at_risk": at_risk, "changed": changed}


def with_replay(capture: dict[str, Any], origin: str) -> dict[str, Any]:
    """Add the capture's URI-Ms on the replay origin: ``replay_url`` (the page alone, for an iframe)
    and ``replay_page_url`` (pywb's own page around it)."""
    when = datetime.fromisoformat(capture["timestamp"])
    capture["replay_url"] = replay_url(origin, when, capture["url"])
    capture["replay_page_url"] = replay_url(origin, when, capture["url"], "")
    return capture
