"""`archiver status`: link states, what is waiting for a retry or given up (a page of each), the last runs.

Counts are aggregates; the two lists are windows (``--limit``/``--offset``) read a batch at a time, so
``status`` stays quick at any size and never binds one parameter per row (issue 9).
"""
from __future__ import annotations

from typing import Any, Iterator

import typer
from sqlalchemy import func, select

from ..db.tables import Run, Target
from ..health import summary as health_summary
from .output import console, emit_json_stream, table, terminal_rows

JSON_PAGE = 100  # entries of each list in one --json answer unless --limit says otherwise
BATCH = 1000


def register(app: typer.Typer) -> None:
    app.command("status", help="Link states, retries, given-up links and the last runs.")(status)


def _given_up():
    return select(Target.id, Target.url, Target.attempts, Target.status_reason).where(
        Target.given_up.is_(True)).order_by(Target.id)


def _retrying():
    return select(Target.id, Target.url, Target.attempts, Target.status_reason, Target.next_try_at).where(
        Target.given_up.is_(False), Target.next_try_at.is_not(None), Target.stage != "done"
    ).order_by(Target.next_try_at, Target.id)


def _window(session, q, offset: int, limit: int | None) -> Iterator[Any]:
    """Rows of ``q`` from ``offset`` (at most ``limit``, None: all), fetched a batch at a time."""
    result = session.execute(q.offset(offset).limit(limit).execution_options(yield_per=BATCH))
    yield from result


def status_doc(session, runs: int = 10, *, offset: int = 0, limit: int | None = 20, lazy: bool = False) -> dict:
    """What ``archiver status --json`` prints: ``limit`` entries (None: all) from ``offset`` of the given-up and
    retrying lists beside their totals; ``lazy``: the lists are iterators read as they are consumed."""
    by_status = dict(session.execute(select(Target.status, func.count()).group_by(Target.status)).all())
    by_stage = dict(session.execute(select(Target.stage, func.count()).group_by(Target.stage)).all())
    totals = {name: session.scalar(select(func.count()).select_from(q.order_by(None).subquery())) or 0
              for name, q in (("given_up", _given_up()), ("retrying", _retrying()))}
    last = session.scalars(select(Run).order_by(Run.id.desc()).limit(runs)).all()
    given_up = ({"target_id": t, "url": u, "attempts": n, "reason": why}
                for t, u, n, why in _window(session, _given_up(), offset, limit))
    retrying = ({"target_id": t, "url": u, "attempts": n, "next_try_at": at, "reason": why}
                for t, u, n, why, at in _window(session, _retrying(), offset, limit))
    doc = {
        "links": {"total": sum(by_status.values()), "by_status": by_status, "by_stage": by_stage},
        "runs": [{"id": r.id, "kind": r.kind, "stage": r.stage, "status": r.status, "started_at": r.started_at,
                  "finished_at": r.finished_at, "worker": r.worker, "counts": r.counts, "error": r.error}
                 for r in last],
        "health": health_summary(session),
        "offset": offset, "limit": limit, "given_up_total": totals["given_up"], "retrying_total": totals["retrying"],
        "given_up": given_up if lazy else list(given_up),
        "retrying": retrying if lazy else list(retrying),
    }
    return doc


def status(ctx: typer.Context,
           limit: int = typer.Option(None, "--limit", "-n", min=0,
                                     help=f"At most this many entries of each list (0: all). Default: {JSON_PAGE} "
                                          "with --json, what fits the terminal otherwise."),
           offset: int = typer.Option(0, "--offset", min=0, help="Skip this many first entries of each list."),
           json_out: bool = typer.Option(False, "--json", help="Machine-readable output.")):
    Session = ctx.obj.sessionmaker()
    settings = ctx.obj.settings
    queue = None
    if settings.queue.url:  # read first: a broker that does not answer is one line, before any output
        from ..distributed.monitor import queue_doc

        queue = queue_doc(settings)
    with Session() as s:
        if json_out:  # streamed: the lists are read as they are written
            doc = status_doc(s, offset=offset, limit=JSON_PAGE if limit is None else (limit or None), lazy=True)
            if queue is not None:
                doc["queue"] = queue
            emit_json_stream(doc)
            return
        doc = status_doc(s, offset=offset, limit=terminal_rows() // 3 if limit is None else (limit or None), lazy=True)
        _print(doc, offset)
        if queue is not None:
            _print_queue(queue)


def _print(doc: dict, offset: int) -> None:
    c = console()
    st = doc["links"]["by_status"]
    c.print(table("links", ["total", *sorted(st)], [[doc["links"]["total"], *[st[k] for k in sorted(st)]]]))
    for name, title, cols, row in (
            ("retrying", "waiting for a retry", ["url", "tries", "next try", "why"],
             lambda r: [r["url"], r["attempts"], f"{r['next_try_at']:%Y-%m-%d %H:%M}Z", r["reason"]]),
            ("given_up", "given up", ["url", "tries", "why"], lambda g: [g["url"], g["attempts"], g["reason"]])):
        rows = [row(r) for r in doc[name]]
        total = doc[f"{name}_total"]
        if rows:
            c.print(table(title, cols, rows))
        if offset or offset + len(rows) < total:
            nxt = f"; next: --offset {offset + len(rows)}" if offset + len(rows) < total else ""
            c.print(f"{title}: {offset + 1 if rows else offset}-{offset + len(rows)} of {total}{nxt} "
                    "(--limit N for more at once, 0 for all; --json for every field)", markup=False)
    c.print(table("last runs", ["id", "kind", "status", "started", "resolved", "captured", "dead", "failed"],
                  [[r["id"], r["kind"], _state(r), f"{r['started_at']:%Y-%m-%d %H:%M:%S}Z",
                    r["counts"].get("resolved"), r["counts"].get("captured"), r["counts"].get("dead"),
                    r["counts"].get("failed")] for r in doc["runs"]]))
    h = doc.get("health")
    if h:
        c.print(f"evidence: {h['activities_with_evidence']} of {h['activities']} activities with links have "
                f"preserved evidence ({h['coverage_pct']}%) in {h['reports']} report(s); "
                f"{h['at_risk']} link(s) at risk, {h['lost']} lost, {h['changed']} changed "
                "(details: `archiver health`)")


def _print_queue(q: dict) -> None:
    c = console()
    c.print(table(f"queues ({q['url']})", list(q["queues"]), [list(q["queues"].values())]))
    c.print(f"live workers: {len(q['workers'])}" + (": " + ", ".join(q["workers"]) if q["workers"] else
                                                   " (start some with `archiver worker`)"), markup=False)


def _state(run: dict) -> str:
    """A run's status; a running pass also says how far it has got."""
    p = (run.get("counts") or {}).get("progress") or {}
    if run["status"] == "running" and p:
        return f"running ({p['stage']} {p['done']}/{p['total']})"
    return run["status"]
