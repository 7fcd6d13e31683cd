"""`archiver status`: link states, what is waiting for a retry or given up, the last runs."""
from __future__ import annotations

import typer
from sqlalchemy import func, select

from ..db.tables import Run, Target
from ..health import summary as health_summary
from .output import console, emit_json, table


def register(app: typer.Typer) -> None:
    app.command("status", help="Link states, retries, given-up links and the last runs.")(status)


def status_doc(session, runs: int = 10) -> dict:
    by_status = dict(session.execute(select(Target.status, func.count()).group_by(Target.status)).all())
    by_stage = dict(session.execute(select(Target.stage, func.count()).group_by(Target.stage)).all())
    given_up = session.scalars(select(Target).where(Target.given_up.is_(True)).order_by(Target.id)).all()
    retrying = session.scalars(select(Target).where(Target.given_up.is_(False), Target.next_try_at.is_not(None),
                                                    Target.stage != "done").order_by(Target.next_try_at)).all()
    last = session.scalars(select(Run).order_by(Run.id.desc()).limit(runs)).all()
    doc = {
        "links": {"total": sum(by_status.values()), "by_status": by_status, "by_stage": by_stage},
        "given_up": [{"target_id": t.id, "url": t.url, "attempts": t.attempts, "reason": t.status_reason}
                     for t in given_up],
        "retrying": [{"target_id": t.id, "url": t.url, "attempts": t.attempts, "next_try_at": t.next_try_at,
                      "reason": t.status_reason} for t in retrying],
        "runs": [{"id": r.id, "kind": r.kind, "stage": r.stage, "status": r.status, "started_at": r.started_at,
                  "finished_at": r.finished_at, "worker": r.worker, "counts": r.counts, "error": r.error}
                 for r in last],
    }
    doc["health"] = health_summary(session)
    return doc


def status(ctx: typer.Context, json_out: bool = typer.Option(False, "--json", help="Machine-readable output.")):
    Session = ctx.obj.sessionmaker()
    with Session() as s:
        doc = status_doc(s)
    if json_out:
        emit_json(doc)
        return
    c = console()
    st = doc["links"]["by_status"]
    c.print(table("links", ["total", *sorted(st)], [[doc["links"]["total"], *[st[k] for k in sorted(st)]]]))
    if doc["retrying"]:
        c.print(table("waiting for a retry", ["url", "tries", "next try", "why"],
                      [[r["url"], r["attempts"], f"{r['next_try_at']:%Y-%m-%d %H:%M}Z", r["reason"]]
                       for r in doc["retrying"][:20]]))
    if doc["given_up"]:
        c.print(table("given up", ["url", "tries", "why"],
                      [[g["url"], g["attempts"], g["reason"]] for g in doc["given_up"][:20]]))
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


def _state(run: dict) -> str:
    """A run's status; a running pass also says how far it has got."""
    p = (run.get("counts") or {}).get("progress") or {}
    if run["status"] == "running" and p:
        return f"running ({p['stage']} {p['done']}/{p['total']})"
    return run["status"]
