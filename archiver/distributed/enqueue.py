"""`archiver run --distributed`: enqueue every due item and (unless told not to) wait for the workers.

The pass takes the database's pipeline lock, as an in-process pass does (one pass at a time, so
the scheduler on one node only), records a run row, enqueues one task per due target of each
stage (later stages follow as items finish: tasks.py) and waits until nothing the pass took on is
due or leased; then the watch step's re-checks, one task per captured target due (queue ``watch``).
What the workers did is read back from the attempt and link-check rows, as the summary.

A task lost outright (a broker restarted without persistence, a lease left by a machine that
died, once it expires) does not stall the pass: once the queues have been empty for
``queue.sweep_s`` while work is still due, what is due is enqueued again (tasks are idempotent).
"""
from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from typing import Callable

from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from ..config import Settings
from ..db import locks, work
from ..db.base import utcnow
from ..db.tables import Attempt, Run, Target
from ..errors import QueueError
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


@contextmanager
def _producer(app):
    """A producer of ``app``'s; the broker's connection errors (OSErrors in kombu) as one QueueError."""
    try:
        with app.producer_or_acquire() as producer:
            yield producer
    except OSError as exc:
        raise QueueError(f"queue.url: the broker did not answer ({exc})") from exc


def enqueue_due(app, settings: Settings, Session: sessionmaker, due_before) -> dict[str, int]:
    """One task per target due (before ``due_before``) in each stage; returns how many per stage."""
    from ..pipeline import STAGES

    sent = {}
    stamp = due_before.isoformat()
    with _producer(app) as producer, Session() as s:
        for stage in STAGES:
            n = 0
            for tid, url, final in work.due_rows(s, stage, due_before=due_before):
                send(app, settings, stage, tid, final or url, stamp, producer=producer)
                n += 1
            sent[stage] = n
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


def _watch(app, settings: Settings, Session: sessionmaker, run_id: int, started, *, keep_lock: Callable[[], None],
           progress: ProgressFn | None, stop: threading.Event) -> dict:
    """The watch step of a distributed pass, on the workers: one task per captured target that was due
    when the pass began (host after host), then wait until none is due or held. Counts by state, from
    the LinkCheck rows. The shortener is asked again about archive-resolved short links here (few)."""
    from datetime import timedelta

    from ..db.tables import LinkCheck
    from ..pipeline import make_tools
    from ..resolve.recheck import recheck_due as recheck_live_due
    from ..watch import STATES, TRANSIENT, due_clause, due_ids
    from .monitor import queue_depths

    due_now = due_clause(started, timedelta(days=settings.watch.recheck_days))
    stamp = started.isoformat()

    def send_all() -> int:
        with Session() as s:
            ids = due_ids(s, started, settings)
        with _producer(app) as producer:
            for tid in ids:
                send(app, settings, "watch", tid, None, stamp, producer=producer)
        return len(ids)

    total, swept, idle_since = send_all(), False, None
    while total and not stop.is_set():
        with Session() as s:  # still due, and of those held by a worker now
            due, held = s.execute(select(func.count(), func.count().filter(Target.lease_until >= utcnow()))
                                  .select_from(Target).where(due_now)).one()
        if progress:
            progress("watch", max(0, total - due), total)
        keep_lock()
        if due == 0:
            break
        if held == 0 and queue_depths(app, settings).get(settings.queue.names.watch, 0) == 0:
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since >= settings.queue.sweep_s:
                if swept:  # sent twice and still due: a check that fails on a bug (the workers' log says)
                    log.warning("watch: %d links could not be re-checked", due)
                    break
                with Session() as s:
                    work.release_dead_leases(s)
                log.warning("watch: the queue is empty but %d links are still due: sent again", send_all())
                swept, idle_since = True, None
        else:
            idle_since = None
        time.sleep(POLL_S)
    with Session() as s:
        rows = dict(s.execute(select(LinkCheck.state, func.count()).where(LinkCheck.checked_at >= started)
                              .group_by(LinkCheck.state)).all())
    counts = {st: rows.get(st, 0) for st in STATES + (TRANSIENT,)}
    counts["checked"] = sum(counts.values())
    tools = make_tools(settings, Session, run_id)
    try:
        counts["live"] = recheck_live_due(Session, recorder=tools.recorder, settings=settings, now=utcnow())
    finally:
        tools.close()
    return counts


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

                def keep_lock() -> None:
                    with Session() as s:
                        locks.renew(s, LOCK_NAME, owner, settings.schedule.lock_ttl_s)

                watched = _watch(app, settings, Session, run_id, started, keep_lock=keep_lock,
                                 progress=progress, stop=stop)
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
