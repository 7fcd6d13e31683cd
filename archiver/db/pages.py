"""Long listings a page at a time, or streamed in batches: what ``archiver activities`` prints at any size.

A listing is an ``offset``/``limit`` window over rows in a fixed order. Within it, rows are read in
batches by *keyset* (the last row's sort key, never a growing OFFSET), so reading a million
activities costs one index walk, and each batch's related rows come by a join or a bounded
``IN`` of that batch's ids (selectinload), never one bound parameter per row of the whole listing
(SQLite refuses more than a few thousand: issue 9).
"""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Iterator

from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session

from ..errors import NotFound
from . import queries
from .tables import Activity, Capture, Hop, Link, Report, Target

BATCH = 200  # activities read per query while streaming (their links, hops and captures come with them)


def count_activities(session: Session, report_id: int | None = None) -> int:
    """How many activities (of ``report_id``); NotFound when it names no report."""
    stmt = select(func.count()).select_from(Activity)
    if report_id is not None:
        if session.get(Report, report_id) is None:
            raise NotFound(f"report {report_id} not found")
        stmt = stmt.where(Activity.report_id == report_id)
    return session.scalar(stmt) or 0


def _window(report_id: int | None, offset: int, after: tuple[int, int] | None, size: int):
    """Activity ids in report and ordinal order: the first ``size`` after ``after`` (keyset), else from
    ``offset``."""
    stmt = select(Activity.id, Activity.report_id, Activity.ordinal).order_by(Activity.report_id, Activity.ordinal)
    if report_id is not None:
        stmt = stmt.where(Activity.report_id == report_id)
    if after is not None:
        # a row value: both databases seek the (report_id, ordinal) index to it (an OR of the two columns
        # made SQLite walk the report from its first activity on every batch)
        stmt = stmt.where(tuple_(Activity.report_id, Activity.ordinal) > tuple_(*after))
    else:
        stmt = stmt.offset(offset)
    return stmt.limit(size)


def _batches(session: Session, report_id: int | None, offset: int, limit: int | None,
             batch: int) -> Iterator[list[int]]:
    """Ids of the activities in the window, a batch at a time."""
    after, left = None, limit
    while left is None or left > 0:
        size = batch if left is None else min(batch, left)
        rows = session.execute(_window(report_id, offset, after, size)).all()
        if not rows:
            return
        yield [r[0] for r in rows]
        after = (rows[-1][1], rows[-1][2])
        if left is not None:
            left -= len(rows)
        if len(rows) < size:
            return


def iter_activities(session: Session, report_id: int | None = None, *, offset: int = 0, limit: int | None = None,
                    batch: int | None = None) -> Iterator[dict[str, Any]]:
    """``queries.activity_dict`` of each activity in the window, in report order, read ``batch`` at a time.

    Each batch is five queries of plain rows (its activities, their links, targets, hops and target
    captures, the related ones by a subquery on the batch), made into light objects with the ORM's
    attribute names for ``queries.activity_dict``: ORM objects cost most of the time of a long listing,
    and nothing here is written back. Memory stays one batch's worth."""
    for ids in _batches(session, report_id, offset, limit, batch or BATCH):
        yield from map(queries.activity_dict, _load(session, ids))


def _objects(session: Session, table, where, *order) -> list[SimpleNamespace]:
    return [SimpleNamespace(**row._mapping) for row in session.execute(select(table).where(where).order_by(*order))]


def _load(session: Session, ids: list[int]) -> list[SimpleNamespace]:
    """The activities ``ids`` (one batch: a bounded IN), each with ``links``, each link with its ``target``,
    each target with its ``hops`` and ``captures`` in the ORM relationships' order."""
    a, lk, t, h, c = (x.__table__ for x in (Activity, Link, Target, Hop, Capture))
    targets = select(lk.c.target_id).where(lk.c.activity_id.in_(ids))
    by_target: dict[int, SimpleNamespace] = {}
    for target in _objects(session, t, t.c.id.in_(targets)):
        target.hops, target.captures = [], []
        by_target[target.id] = target
    for hop in _objects(session, h, h.c.target_id.in_(targets), h.c.stage.desc(), h.c.attempt, h.c.seq):
        by_target[hop.target_id].hops.append(hop)
    for cap in _objects(session, c, c.c.target_id.in_(targets), c.c.captured_at, c.c.id):
        by_target[cap.target_id].captures.append(cap)
    acts = {x.id: x for x in _objects(session, a, a.c.id.in_(ids))}
    for x in acts.values():
        x.links = []
    for link in _objects(session, lk, lk.c.activity_id.in_(ids), lk.c.activity_id, lk.c.position):
        link.target = by_target[link.target_id]
        acts[link.activity_id].links.append(link)
    return [acts[i] for i in ids]


def activity_lines(session: Session, report_id: int | None = None, *, offset: int = 0, limit: int = 20,
                   links_shown: int = 5) -> list[dict[str, Any]]:
    """One page of activities for a terminal table: their fields, their first ``links_shown`` links (url and
    status) and ``links_total``. Two queries, whatever the page size: the links come by a join to the page
    of activities, numbered by a window function (never a list of ids as parameters)."""
    page = _window(report_id, offset, None, limit).subquery()
    acts = session.scalars(select(Activity).join(page, page.c.id == Activity.id)
                           .order_by(Activity.report_id, Activity.ordinal)).all()
    if not acts:
        return []
    numbered = (select(Link.activity_id, Link.url_raw, Target.status,
                       func.row_number().over(partition_by=Link.activity_id, order_by=Link.position).label("n"),
                       func.count().over(partition_by=Link.activity_id).label("total"))
                .join(Target, Target.id == Link.target_id).join(page, page.c.id == Link.activity_id).subquery())
    links: dict[int, list[dict[str, Any]]] = {}
    totals: dict[int, int] = {}
    for act_id, url, status, _n, total in session.execute(
            select(numbered).where(numbered.c.n <= links_shown).order_by(numbered.c.activity_id, numbered.c.n)):
        links.setdefault(act_id, []).append({"url": url, "status": status})
        totals[act_id] = total
    out = []
    for a in acts:
        d = {  # the listing's fields only: no hops or captures to load
            "id": a.id, "report_id": a.report_id, "ordinal": a.ordinal,
            "date": a.date_start.isoformat() if a.date_start else None,
            "date_end": a.date_end.isoformat() if a.date_end else None, "date_inferred": bool(a.date_inferred),
            "text": a.text}
        d["links"], d["links_total"] = links.get(a.id, []), totals.get(a.id, 0)
        out.append(d)
    return out


__all__ = ["count_activities", "iter_activities", "activity_lines", "BATCH"]
