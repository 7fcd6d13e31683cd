"""`archiver run --distributed`: enqueue every due item and (unless told not to) wait for the workers.

The pass takes the database's pipeline lock, as an in-process pass does (one pass at a time, so
the scheduler on one node only), records a run row, enqueues one task per due target of each
stage (later stages follow as items finish: tasks.py) and waits until nothing the pass took on is
due or leased. What the workers did is read back from the attempt rows, as the summary.

A task lost outright (a broker restarted without persistence, a lease left by a machine that
died, once it expires) does not stall the pass: once the queues have been empty for
``queue.sweep_s`` while work is still due, what is due is enqueued again (tasks are idempotent).
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from ..config import Settings
from ..db import locks, work
from ..db.base import utcnow
from ..db.tables import Attempt, Run, Target
from ..model import RunSummary
from .app import TASK_NAMES

log = logging.getLogger(__name__)
POLL_S = 0.5
UNITS = {"resolve": 3, "capture": 2, "extract": 1}  # stages an item has left to go: the progress measure

ProgressFn = Callable[[str, int, int], None]


def queue_for(settings: Settings, stage: str, url: str | None) -> str:
    """The queue of a stage's task: captures of hosts set to capture.browser "always" go to the browser queue."""
    names = settings.queue.names
    if stage == "capture" and url:
        from ..capture.browse import browser_mode

        if browser_mode(url, settings) == "always":
            return names.browser
    return getattr(names, stage)


def send(app, settings: Settings, stage: str, target_id: int, url: str | None, due_before: str | None,
         producer=None) -> None:
    app.send_task(TASK_NAMES[stage], args=[target_id, due_before], queue=queue_for(settings, stage, url),
                  producer=producer)


def enqueue_due(app, settings: Settings, Session: sessionmaker, due_before) -> dict[str, int]:
    """One task per target due (before ``due_before``) in each stage; returns how many per stage."""
    from ..errors import QueueError
    from ..pipeline import STAGES

    sent = {}
    stamp = due_before.isoformat()
    try:
        with app.producer_or_acquire() as producer, Session() as s:
            for stage in STAGES:
                n = 0
                for tid, url, final in work.due_rows(s, stage, due_before=due_before):
                    send(app, settings, stage, tid, final or url, stamp, producer=producer)
                    n += 1
                sent[stage] = n
    except OSError as exc:  # kombu's connection errors are OSErrors
        raise QueueError(f"queue.url: the broker did not answer ({exc})") from exc
    return sent


def remaining(Session: sessionmaker, due_before) -> tuple[int, int]:
    """(stage-steps still to do on items due before the pass began, live leases)."""
    from ..pipeline import STAGES

    with Session() as s:
        units = sum(UNITS[st] * work.count_due(s, st, due_before=due_before) for st in STAGES)
        leased = dict(s.execute(select(Target.stage, func.count()).where(Target.lease_until >= utcnow())
                                .group_by(Target.stage)).all())
    units += sum(UNITS.get(st, 0) * n for st, n in leased.items())
    return units, sum(leased.values())


def pass_summary(Session: sessionmaker, run_id: int, started) -> RunSummary:
    """What the workers did since the pass began, from the attempt rows."""
    from ..pipeline import _count

    summary = RunSummary(run_id=run_id)
    with Session() as s:
        rows = s.execute(select(Attempt.stage, Attempt.outcome, func.count()).where(Attempt.started_at >= started)
                         .group_by(Attempt.stage, Attempt.outcome)).all()
        errors = s.execute(select(Attempt.stage, Target.url, Attempt.message).join(Target)
                           .where(Attempt.started_at >= started, Attempt.outcome == "failed").limit(50)).all()
    for stage, outcome, n in rows:
        for _ in range(n):
            _count(summary, stage, outcome)
    summary.errors = [f"{st} {url}: {msg}" for st, url, msg in errors]
    return summary


def _watch(settings: Settings, Session: sessionmaker, run_id: int) -> dict:
    """The watch step of a distributed pass, run here once the workers are done: re-checks are
    short requests, host by host within the per-host limits (held across machines by the slots)."""
    from ..pipeline import make_tools
    from ..watch import recheck_due

    tools = make_tools(settings, Session, run_id)
    try:
        return recheck_due(Session, recorder=tools.recorder, client=tools.client, settings=settings)
    finally:
        tools.close()


def run_distributed(settings: Settings, Session: sessionmaker, *, wait: bool = True,
                    progress: ProgressFn | None = None, stop: threading.Event | None = None) -> tuple[RunSummary, dict]:
    """Enqueue the due work; with ``wait``, return once it is all done. Raises LockHeld if a pass runs."""
    from ..pipeline import LOCK_NAME, _import_dumps, summary_dict
    from .app import make_app
    from .monitor import queue_depths

    stop = stop or threading.Event()
    app = make_app(settings)
    owner = work.worker_id()
    t0 = time.monotonic()
    with Session() as s:
        work.release_dead_leases(s)
    with locks.held(Session, LOCK_NAME, settings.schedule.lock_ttl_s, owner):
        started = utcnow()
        with Session() as s:
            row = Run(kind="run", stage="distributed", worker=owner, status="running")
            s.add(row)
            s.commit()
            run_id = row.id
        status, error, sent, watched = "failed", None, {}, {}
        try:
            _import_dumps(settings, Session)
            if not settings.resolver.overrides:
                with Session() as s:
                    work.advance_plain_links(s)  # as an in-process pass: plain links have nothing to resolve
            sent = enqueue_due(app, settings, Session, started)
            total, _ = remaining(Session, started)
            idle_since = None
            while wait and not stop.is_set():
                units, _ = remaining(Session, started)
                if progress:
                    progress("distributed", total - units, total)
                with Session() as s:
                    locks.renew(s, LOCK_NAME, owner, settings.schedule.lock_ttl_s)
                if units == 0:
                    break
                if sum(queue_depths(app, settings).values()) == 0:
                    idle_since = idle_since or time.monotonic()
                    if time.monotonic() - idle_since >= settings.queue.sweep_s:
                        with Session() as s:
                            work.release_dead_leases(s)
                        again = enqueue_due(app, settings, Session, started)
                        log.warning("the queues are empty but work is due: enqueued again %s", again)
                        idle_since = None
                else:
                    idle_since = None
                time.sleep(POLL_S)
            if wait and not stop.is_set():  # the pass's last step, as in process: re-check what is due
                watched = _watch(settings, Session, run_id)
            status = "queued" if not wait else ("interrupted" if stop.is_set() else None)
        except BaseException as exc:
            error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            summary = pass_summary(Session, run_id, started)
            summary.watch = watched
            summary.seconds = round(time.monotonic() - t0, 3)
            if status is None:
                status = "ok" if summary.ok else "partial"
            with Session() as s:
                row = s.get(Run, run_id)
                # the workers' own run rows hold the stage counts and bytes (/metrics sums those)
                row.counts = {**summary_dict(summary), "stages": {}, "bytes": 0, "enqueued": sent}
                row.status, row.finished_at, row.error = status, utcnow(), error
                s.commit()
            app.close()
    return summary, sent
