"""What the pages and the JSON API show: the CLI's read models, nothing of their own.

Reports, activities, links and captures come from ``archiver.db.queries`` (as
``archiver reports/activities/show`` print them); coverage and the evidence at
risk follow ``archiver.health``'s definitions, computed in SQL a page at a time by
``archiver.coverage`` (``/api/health`` is ``archiver health --json`` itself). So the
CLI, the pages and the API cannot disagree. The web's own: every list comes one
page at a time (web/params.py; an activity's links on a report page: the first
``LINKS_SHOWN``), WARC file names and offsets are dropped (archived bytes are
reached through the replay origin, never by a path), and captures get their
replay URLs.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from .. import coverage
from ..db import queries
from ..health import report_health
from .params import Page
from .replay import replay_url

LINKS_SHOWN = 10  # of each activity on a report page (its own page has them all, a page at a time)
AT_RISK_SHOWN = 100  # at-risk links listed with one report (/health has them all, a page at a time)

# where a capture's bytes lie in our storage: only the index (and the replay origin) needs it
PRIVATE = ("warc_file", "offset", "length")


def public(capture: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in capture.items() if k not in PRIVATE}
    if "views" in out:  # the browser's screenshot, DOM... records of a page capture (queries.browser_views)
        out["views"] = [public(v) for v in out["views"]]
    return out


def _public_links(activity: dict[str, Any]) -> dict[str, Any]:
    for link in activity["links"]:
        link["captures"] = [public(c) for c in link["captures"]]
    return activity


def list_reports(session: Session, page: Page) -> list[dict[str, Any]]:
    """One page of ``archiver reports`` rows, each with its evidence coverage (counts)."""
    page.total = queries.count(session, "reports", 0)
    rows = queries.list_reports(session, offset=page.offset, limit=page.size)
    cov = coverage.counts(session, [r["id"] for r in rows])
    return [{**r, **cov[r["id"]]} for r in rows]


def get_report(session: Session, report_id: int) -> dict[str, Any]:
    """The report, its coverage, and its first ``AT_RISK_SHOWN`` links at risk."""
    report = queries.report_detail(session, report_id)
    counts = coverage.counts(session, [report_id])[report_id]
    at_risk, _ = coverage.at_risk(session, report_id=report_id, limit=AT_RISK_SHOWN, total=counts["at_risk_count"])
    return {**report, **counts, "at_risk": at_risk}


def list_activities(session: Session, report_id: int, page: Page) -> list[dict[str, Any]]:
    """One page of the report's activities, each with its first ``LINKS_SHOWN`` links and ``links_total``."""
    acts = queries.list_activities(session, report_id=report_id, offset=page.offset, limit=page.size,
                                   links_limit=LINKS_SHOWN)
    page.total = queries.count(session, "activities", report_id)
    totals = queries.link_counts(session, [a["id"] for a in acts])
    return [{**_public_links(a), "links_total": totals.get(a["id"], 0)} for a in acts]


def get_activity(session: Session, activity_id: int, page: Page) -> dict[str, Any]:
    """``archiver show`` with provenance, requisite counts and extracted text; one page of its links."""
    act = queries.activity_detail(session, activity_id, full=True, links=(page.offset, page.stop))
    page.total = queries.count(session, "links", activity_id)
    return {**_public_links(act), "links_total": page.total}


def get_capture(session: Session, capture_id: int) -> dict[str, Any]:
    return public(queries.capture_detail(session, capture_id))


def timeline(session: Session, url: str, page: Page) -> list[dict[str, Any]]:
    page.total = queries.count(session, "captures", url)
    return [public(c) for c in queries.timeline(session, url, offset=page.offset, limit=page.size)]


def recent_runs(session: Session, limit: int = 10) -> list[dict[str, Any]]:
    return queries.recent_runs(session, limit)


def health(session: Session, offset: int = 0, limit: int | None = 100) -> dict[str, Any]:
    """Exactly what ``archiver health --json`` prints (with the same ``--offset``/``--limit``)."""
    return report_health(session, offset=offset, limit=limit)


def health_view(session: Session, at_risk: Page, changed: Page, reports: Page) -> dict[str, Any]:
    """``archiver health`` for one page: the at-risk and changed links of all reports, labelled with their
    report and the activity's number in it (lost ones marked), and the coverage of one page of reports;
    each list a page at a time."""
    shown = list_reports(session, reports)
    every = reports.total <= reports.size  # all reports on this page: their counts are the totals
    risky, at_risk.total = coverage.at_risk(session, offset=at_risk.offset, limit=at_risk.size, total=sum(
        r["at_risk_count"] for r in shown) if every else None)
    moved, changed.total = coverage.changed(session, offset=changed.offset, limit=changed.size, total=sum(
        r["changed_count"] for r in shown) if every else None)
    return {"reports": shown, "at_risk": risky, "changed": moved}


def with_replay(capture: dict[str, Any], origin: str) -> dict[str, Any]:
    """Add the capture's URI-Ms on the replay origin: ``replay_url`` (the page alone, for an iframe)
    and ``replay_page_url`` (pywb's own page around it)."""
    when = datetime.fromisoformat(capture["timestamp"])
    capture["replay_url"] = replay_url(origin, when, capture["url"])
    capture["replay_page_url"] = replay_url(origin, when, capture["url"], "")
    return capture
