"""Read models shared by the CLI and the web UI: plain dicts, no presentation.

An activity dict carries its links; a link dict carries what the later stages
found for its target (final URL, the hops of its answers, and the target
captures: requisites and hop records are not evidence of the citation and are
left out), both answers for a short link an archive resolved (``archived_target``,
``live_target``, ``answers_agree``), and which capture is the evidence and why
(``chosen_capture_id``, ``chosen_because``: :func:`choose_capture`, the one rule
``archiver get``, the web UI's snapshot and the export summary all use).

``full=True`` (the web's evidence view) adds provenance to the same dicts, never
renames or drops a field: link resolution source and memento, the requisite count,
each hop's ``attempt``/``capture_id``/``note``, capture provenance, and with
``with_text`` the capture's extraction.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable

from sqlalchemy import func, or_, select, true
from sqlalchemy.orm import Session, selectinload

from ..capture.browser_records import ROLES as VIEW_ROLES  # what the browser showed: screenshot, thumbnail, dom, pdf
from ..errors import NotFound
from ..persist import url_hash
from .base import iso_utc as _iso
from .tables import Activity, Capture, Hop, Link, Report, Run, Target

ANSWER_KINDS = ("archive", "dump", "manual")  # hops that record an archive's, a dump's or an override's answer


def list_reports(session: Session, report_id: int | None = None, *, offset: int = 0,
                 limit: int | None = None) -> list[dict[str, Any]]:
    """Reports with their activity and link counts; only ``report_id`` when given; ``offset``/``limit``
    for one page (the counts are then made for that page's reports only)."""
    stmt = select(Report).order_by(Report.id)
    if report_id is not None:
        stmt = stmt.where(Report.id == report_id)
    if limit is not None:
        stmt = stmt.offset(offset).limit(limit)
    reports = session.scalars(stmt).all()
    ids = [r.id for r in reports]
    n_acts: dict[int, int] = {}
    n_links: dict[int, int] = {}
    if ids:
        page = Activity.report_id.in_(ids) if limit is not None or report_id is not None else true()
        n_acts = dict(session.execute(select(Activity.report_id, func.count()).where(page)
                                      .group_by(Activity.report_id)).all())
        n_links = dict(session.execute(select(Activity.report_id, func.count(Link.id))
                                       .join(Link, Link.activity_id == Activity.id).where(page)
                                       .group_by(Activity.report_id)).all())
    return [{
        "id": r.id, "source": r.source, "source_kind": r.source_kind, "format": r.format, "title": r.title,
        "sha256": r.sha256, "size_bytes": r.size_bytes, "ingested_at": _iso(r.ingested_at),
        "previous_id": r.previous_id, "activities": n_acts.get(r.id, 0), "links": n_links.get(r.id, 0),
    } for r in reports]


def report_detail(session: Session, report_id: int) -> dict[str, Any]:
    report = session.get(Report, report_id)
    if report is None:
        raise NotFound(f"report {report_id} not found")
    return {**list_reports(session, report_id)[0], "meta": report.meta}


def is_evidence(capture: Capture) -> bool:
    """A capture is the evidence when the server answered 2xx and nothing marked it otherwise
    (soft 404, parked domain, interstitial: ``not_evidence``)."""
    return capture.http_status is not None and 200 <= capture.http_status < 300 and not capture.not_evidence


def _said(c: Capture) -> str:
    status = f"HTTP {c.http_status}" if c.http_status is not None else "no HTTP status"
    where = "live" if c.source == "live" else f"from {c.archive_name or 'an archive'}"
    why = f", not evidence: {c.not_evidence_reason}" if c.not_evidence else ""
    return f"{_iso(c.captured_at)} {where}, {status}{why}"


def choose_capture(captures: Iterable[Capture], *, at: datetime | None = None,
                   latest: bool = False) -> tuple[Capture | None, str]:
    """The capture an auditor gets, and why, in words.

    By default the newest capture that is evidence (:func:`is_evidence`), else the newest
    capture; ``latest``: the newest whatever it is; ``at``: the one closest to that time.
    The same rule for ``archiver get``, the web UI's snapshot and the export summary."""
    rows = list(captures)
    if not rows:
        return None, "nothing was captured"
    newest = max(rows, key=lambda c: (c.captured_at, c.id))
    if at is not None:
        chosen = min(rows, key=lambda c: (abs((c.captured_at - at).total_seconds()), -c.id))
        return chosen, f"closest to {_iso(at)} (--at): {_said(chosen)}"
    if latest:
        return newest, f"the newest capture, evidence or not (--latest): {_said(newest)}"
    good = [c for c in rows if is_evidence(c)]
    if not good:
        return newest, f"no capture is evidence (2xx and not marked not-evidence): the newest, {_said(newest)}"
    chosen = max(good, key=lambda c: (c.captured_at, c.id))
    why = f"the newest capture that is evidence (2xx, not marked not-evidence): {_said(chosen)}"
    if chosen is not newest:
        why += f"; the newest capture is not evidence ({_said(newest)})"
    return chosen, why


def chain_hops(target: Target) -> list[Hop]:
    """The hops to show for a target, in order: the short link's resolution (the attempt that gave
    the archive's answer in use and the latest attempt, when they differ: both answers are
    shown), then the target's latest capture attempt."""
    out: list[Hop] = []
    for stage in ("resolve", "capture"):
        hops = [h for h in target.hops if h.stage == stage]
        if not hops:
            continue
        shown = {max(h.attempt for h in hops)}
        if stage == "resolve" and target.resolution_method in ANSWER_KINDS:
            answered = [h.attempt for h in hops if h.kind in ANSWER_KINDS]
            if answered:
                shown.add(max(answered))
        out.extend(sorted((h for h in hops if h.attempt in shown), key=lambda h: (h.attempt, h.seq)))
    return out


def answers(target: Target) -> dict[str, Any]:
    """Both answers for a short link: what an archive (or dump, override) said, what the shortener
    said, and whether they agree (None until both have answered), with the live re-try plan."""
    agree = target.answers_agree
    return {"archived_target": target.archived_target, "live_target": target.live_target,
            "answers_agree": agree,
            "answers": None if agree is None else ("agree" if agree else "disagree"),
            "live_retry_at": _iso(target.live_retry_at), "live_retries": target.live_retries or 0,
            "live_note": target.live_note}


def _hops(target: Target, full: bool = False) -> list[dict[str, Any]]:
    """The chain as it stands (:func:`chain_hops`), numbered 1, 2, … across it; each hop says
    which stage and attempt recorded it, and what it showed (``note``: why a live hop failed,
    what an archive answered)."""
    out: list[dict[str, Any]] = []
    for h in chain_hops(target):
        d = {"seq": len(out) + 1, "stage": h.stage, "attempt": h.attempt, "url": h.url,
             "status_code": h.status_code, "location": h.location, "kind": h.kind, "fetched_at": _iso(h.fetched_at),
             "note": h.note}
        if full:
            d.update(capture_id=h.capture_id)
        out.append(d)
    return out


def _extraction(capture: Capture) -> dict[str, Any] | None:
    e = capture.extraction
    return None if e is None else {"title": e.title, "method": e.method, "language": e.language, "text": e.text,
                                   "error": e.error}


def capture_dict(capture: Capture, full: bool = False, with_text: bool = False) -> dict[str, Any]:
    d = {
        "id": capture.id, "timestamp": _iso(capture.captured_at), "url": capture.url,
        "http_status": capture.http_status, "content_type": capture.content_type,
        "warc_file": capture.warc_file, "offset": capture.offset, "length": capture.length,
        "sha256": capture.sha256, "source": capture.source, "archive_name": capture.archive_name,
        "memento_url": capture.memento_url, "truncated": bool(capture.truncated),
        "is_revisit": bool(capture.is_revisit), "not_evidence": bool(capture.not_evidence),
        "not_evidence_reason": capture.not_evidence_reason, "role": capture.role,
        "evidence": is_evidence(capture),
    }
    if full:
        d.update(fetched_at=_iso(capture.fetched_at), memento_datetime=_iso(capture.memento_datetime),
                 payload_digest=capture.payload_digest, payload_length=capture.payload_length,
                 record_id=capture.record_id, ip_address=capture.ip_address, target_id=capture.target_id,
                 parent_id=capture.parent_id, revisit_of_id=capture.revisit_of_id)
    if with_text:
        d["extraction"] = _extraction(capture)
    return d




def browser_views(capture: Capture, siblings: Iterable[Capture]) -> dict[str, Any]:
    """The browser's records of a page capture: ``views`` (screenshot, thumbnail, rendered DOM, PDF
    resource records) and ``browser_requests`` (its response records), for ``show`` and the UI."""
    children = [c for c in siblings if c.parent_id == capture.id]
    views = [{"role": c.role, "id": c.id, "url": c.url, "timestamp": _iso(c.captured_at),
              "content_type": c.content_type, "sha256": c.sha256, "payload_length": c.payload_length,
              "warc_file": c.warc_file, "offset": c.offset, "length": c.length, "record_id": c.record_id}
             for c in sorted(children, key=lambda c: c.id) if c.role in VIEW_ROLES]
    return {"views": views, "browser_requests": sum(1 for c in children if c.role == "browser")}


def link_dict(link: Link, full: bool = False) -> dict[str, Any]:
    t = link.target
    captures = [c for c in t.captures if c.role == "target"]
    chosen, because = choose_capture(captures)
    d = {
        "id": link.id, "position": link.position, "url": link.url_raw, "text_raw": link.text_raw,
        "url_normalized": link.url_normalized, "target_id": t.id, "is_short": bool(t.is_short),
        "final_url": t.final_url, "resolution_method": t.resolution_method, "status": t.status,
        "status_reason": t.status_reason, "hops": _hops(t, full),
        "captures": [{**capture_dict(c, full, with_text=full), **browser_views(c, t.captures)} for c in captures],
        "chosen_capture_id": chosen.id if chosen is not None else None, "chosen_because": because,
        **answers(t),
    }
    if full:
        d.update(resolution_source=t.resolution_source, memento_url=t.memento_url, watch_state=t.watch_state,
                 requisites=sum(1 for c in t.captures if c.role == "requisite"))
    return d


def activity_dict(activity: Activity, full: bool = False) -> dict[str, Any]:
    return {
        "id": activity.id, "report_id": activity.report_id, "ordinal": activity.ordinal,
        "date": activity.date_start.isoformat() if activity.date_start else None,
        "date_end": activity.date_end.isoformat() if activity.date_end else None,
        "date_text": activity.date_text, "date_precision": activity.date_precision,
        "date_inferred": bool(activity.date_inferred), "text": activity.text,
        "links": [link_dict(link, full) for link in activity.links],
    }


def _activity_query(full: bool = False, links: tuple[int, int] | None = None):
    """Activities with their links (only positions ``links[0] <= p < links[1]`` when given: one page of a
    long activity), targets, hops and captures, in a bounded number of queries."""
    captures = selectinload(Target.captures)
    if full:
        captures = captures.selectinload(Capture.extraction)
    rel = Activity.links if links is None else Activity.links.and_(Link.position >= links[0], Link.position < links[1])
    return select(Activity).options(
        selectinload(rel).selectinload(Link.target).options(selectinload(Target.hops), captures))


def list_activities(session: Session, report_id: int | None = None, full: bool = False, *, offset: int = 0,
                    limit: int | None = None, links_limit: int | None = None) -> list[dict[str, Any]]:
    """Activities in report order; NotFound when ``report_id`` names no report. ``offset``/``limit`` for one
    page of them, ``links_limit`` for each one's first links only."""
    stmt = _activity_query(full, None if links_limit is None else (0, links_limit)).order_by(
        Activity.report_id, Activity.ordinal, Activity.id)
    if report_id is not None:
        if session.get(Report, report_id) is None:
            raise NotFound(f"report {report_id} not found")
        stmt = stmt.where(Activity.report_id == report_id)
    if limit is not None:
        stmt = stmt.offset(offset).limit(limit)
    return [activity_dict(a, full) for a in session.scalars(stmt)]


def link_counts(session: Session, activity_ids: list[int]) -> dict[int, int]:
    """How many links each of these activities (one page of them) cites."""
    if not activity_ids:
        return {}
    return dict(session.execute(select(Link.activity_id, func.count()).where(Link.activity_id.in_(activity_ids))
                                .group_by(Link.activity_id)).all())


def activity_detail(session: Session, activity_id: int, full: bool = False, *,
                    links: tuple[int, int] | None = None) -> dict[str, Any]:
    """One activity; ``links=(start, stop)``: only the links at those positions (one page)."""
    activity = session.scalars(_activity_query(full, links).where(Activity.id == activity_id)).first()
    if activity is None:
        raise NotFound(f"activity {activity_id} not found")
    out = activity_dict(activity, full)
    report = session.get(Report, activity.report_id)
    out["report"] = {"id": report.id, "title": report.title, "source": report.source, "format": report.format}
    return out


def capture_detail(session: Session, capture_id: int) -> dict[str, Any]:
    """One capture of any role, with its provenance and extracted text."""
    capture = session.get(Capture, capture_id)
    if capture is None:
        raise NotFound(f"capture {capture_id} not found")
    return capture_dict(capture, full=True, with_text=True)


def timeline(session: Session, url: str, *, offset: int = 0, limit: int | None = None) -> list[dict[str, Any]]:
    """Every capture of exactly this URL, oldest first: how the page changed over time (``offset``/``limit``:
    one page of them)."""
    stmt = (select(Capture).where(Capture.url_hash == url_hash(url), Capture.url == url)
            .order_by(Capture.captured_at, Capture.id))
    if limit is not None:
        stmt = stmt.offset(offset).limit(limit)
    return [capture_dict(c, full=True) for c in session.scalars(stmt)]


def count(session: Session, what: str, key: int | str) -> int:
    """Totals for pagination: ``activities`` of a report, ``links`` of an activity, ``captures`` of a URL."""
    if what == "activities":
        stmt = select(func.count()).select_from(Activity).where(Activity.report_id == key)
    elif what == "links":
        stmt = select(func.count()).select_from(Link).where(Link.activity_id == key)
    elif what == "captures":
        stmt = select(func.count()).select_from(Capture).where(Capture.url_hash == url_hash(key), Capture.url == key)
    else:
        stmt = select(func.count()).select_from(Report)
    return session.scalar(stmt) or 0


def find_captures(session: Session, url: str) -> list[Capture]:
    """Captures for URL: the target captures of a link or target written so (the URL as the report
    wrote it, normalized, or a target's URL), else every capture of exactly that URL."""
    target_ids = set(session.scalars(select(Link.target_id).where(
        or_(Link.url_raw == url, Link.url_normalized == url))))
    target_ids |= set(session.scalars(select(Target.id).where(Target.url == url)))
    rows: list[Capture] = []
    if target_ids:
        rows = list(session.scalars(select(Capture).where(
            Capture.target_id.in_(target_ids), Capture.role == "target")))
    if not rows:
        rows = list(session.scalars(select(Capture).where(Capture.url_hash == url_hash(url), Capture.url == url)))
    return rows


def capture_list(session: Session, url: str, *, at: datetime | None = None, latest: bool = False) -> dict[str, Any]:
    """Every capture ``archiver get`` could serve for URL, newest first, and the one it serves by
    default (or with ``at`` / ``latest``) and why. NotFound when there is none."""
    rows = find_captures(session, url)
    if not rows:
        raise NotFound(f"no capture of {url}")
    chosen, because = choose_capture(rows, at=at, latest=latest)
    rows.sort(key=lambda c: (c.captured_at, c.id), reverse=True)
    return {"url": url, "chosen_capture_id": chosen.id if chosen else None, "chosen_because": because,
            "captures": [capture_dict(c, full=True) for c in rows]}


def recent_runs(session: Session, limit: int = 10) -> list[dict[str, Any]]:
    runs = session.scalars(select(Run).order_by(Run.id.desc()).limit(limit))
    return [{"id": r.id, "kind": r.kind, "status": r.status, "started_at": _iso(r.started_at),
             "finished_at": _iso(r.finished_at), "counts": r.counts, "error": r.error} for r in runs]


__all__ = ["list_reports", "report_detail", "list_activities", "activity_detail", "activity_dict",
           "link_dict", "capture_dict", "capture_detail", "timeline", "recent_runs", "is_evidence", "count", "link_counts",
           "choose_capture", "chain_hops", "answers", "find_captures", "capture_list"]
