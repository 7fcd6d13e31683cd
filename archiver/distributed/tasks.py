"""One task per stage: run one target through that stage, exactly as an in-process pass does.

A task takes a lease on its target for this worker process (db/work.claim_one) and runs the
pipeline's own per-item code (pipeline._process: the stage's handler in one session, the same
recorder behind the same host gate), so the evidence is what a single-process run makes. It does
nothing when the target is no longer due in that stage (done, failed for a later pass, moved on)
or is leased by a live owner: tasks are idempotent, so redelivery after a crash and enqueueing
twice are harmless. When the item leaves its stage, the next stage's task is enqueued.

Each worker process builds its tools (HTTP client, WARC file, recorder, browser) once, records
itself as a run row (kind ``worker``; counts as it goes, for /metrics) and closes both when the
worker stops. A fetch to a host that asked us to wait (429/503) waits in the task's thread.
The watch step's re-checks are tasks too (one per captured target due, queue ``watch``), held by
a lease of their own while they run, so a nightly re-check is shared by every worker.
"""
from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta

from ..config import Settings
from .app import TASK_NAMES

log = logging.getLogger(__name__)
COUNTS_EVERY_S = 1.0  # the worker's run row shows its counts this often


class WorkerState:
    """What the tasks of one worker process share, built on first use."""

    def __init__(self, app, settings: Settings):
        from ..db import work

        self.app, self.settings = app, settings
        self.owner = work.worker_id()
        self._lock = threading.Lock()
        self._Session = self._tools = None
        self._engine = None
        self._summary = None
        self._last_counts = 0.0

    @property
    def Session(self):
        with self._lock:
            if self._Session is None:
                from ..db.session import make_engine, make_sessionmaker

                self._engine = make_engine(self.settings)
                self._Session = make_sessionmaker(self._engine)
            return self._Session

    def tools(self):
        Session = self.Session
        with self._lock:
            if self._tools is None:
                from ..db.tables import Run
                from ..model import RunSummary
                from ..pipeline import make_tools

                with Session() as s:
                    row = Run(kind="worker", stage="celery", worker=self.owner, status="running")
                    s.add(row)
                    s.commit()
                    run_id = row.id
                self._summary = RunSummary(run_id=run_id)
                self._tools = make_tools(self.settings, Session, run_id)
            return self._tools

    def warm(self) -> None:
        """Build the tools and import what the stages import on first use (trafilatura, pypdf: seconds,
        taken under the import lock by every thread of a cold worker at once)."""
        import importlib

        self.tools()
        for name in ("archiver.extract", "archiver.extract.html", "archiver.extract.pdf", "archiver.browser_rows"):
            importlib.import_module(name)

    def counted(self, stage: str, outcome: str, error: str | None) -> None:
        """Count an item on the worker's run row (now and then: one write a second at most). A re-check
        (stage ``watch``) counts only under stages.watch.<state>, not among captured/dead, which count
        the pipeline's items."""
        from ..pipeline import _count

        with self._lock:
            if stage == "watch":
                per_state = self._summary.stages.setdefault("watch", {})
                per_state[outcome] = per_state.get(outcome, 0) + 1
            else:
                _count(self._summary, stage, outcome)
            if error:
                self._summary.errors.append(error)
            due = time.monotonic() - self._last_counts >= COUNTS_EVERY_S
            if due:
                self._last_counts = time.monotonic()
        if due:
            self._write_run()

    def _write_run(self, status: str | None = None) -> None:
        from ..db.base import utcnow
        from ..db.tables import Run
        from ..pipeline import summary_dict

        with self._lock:
            doc = summary_dict(self._summary)
            doc["bytes"] = self._tools.counters.get("bytes", 0)
        with self.Session() as s:
            row = s.get(Run, self._summary.run_id)
            row.counts = doc
            if status:
                row.status, row.finished_at = status, utcnow()
            s.commit()

    def close(self) -> None:
        """The worker stops: finish the WARC file, close the browser, record the run as ended."""
        if self._tools is not None:
            self._tools.close()
            self._write_run("ok" if self._summary.ok else "partial")
        if self._engine is not None:
            self._engine.dispose()


def run_item(state: WorkerState, stage: str, target_id: int, due_before: str | None) -> str:
    """One stage of one target; returns the outcome ("skipped": not ours to do)."""
    from ..db import work
    from ..db.tables import Target
    from ..pipeline import LEASE_S, STAGES, _process
    from .enqueue import send

    before = datetime.fromisoformat(due_before) if due_before else None
    Session = state.Session
    with Session() as s:
        if not work.claim_one(s, target_id, stage, state.owner, lease_s=LEASE_S, due_before=before):
            return "skipped"
    outcome, error, _ = _process(Session, stage, target_id, state.tools(), state.owner, defer=False)
    state.counted(stage, outcome, error)
    with Session() as s:
        t = s.get(Target, target_id)
        nxt, url = (t.stage, t.final_url or t.url) if t is not None else (None, None)
    if nxt in STAGES and nxt != stage:
        send(state.app, state.settings, nxt, target_id, url, due_before)
    return outcome


def run_watch(state: WorkerState, target_id: int, due_before: str) -> str:
    """Re-check one captured target (the watch step) if it is still due and nobody else holds it;
    returns its state ("skipped": not ours to do, "error-bug": the check failed on a bug, logged)."""
    from ..db import work
    from ..db.base import utcnow
    from ..pipeline import LEASE_S
    from ..watch import archive_recovery, due_clause, recheck_one

    settings, Session = state.settings, state.Session
    cadence = timedelta(days=settings.watch.recheck_days)
    with Session() as s:
        if not work.lease_one(s, target_id, state.owner, (due_clause(datetime.fromisoformat(due_before), cadence),),
                              lease_s=LEASE_S):
            return "skipped"
    try:
        tools = state.tools()
        recover = archive_recovery(settings, client=tools.client, recorder=tools.recorder, session_factory=Session)
        got = recheck_one(Session, target_id, recorder=tools.recorder, client=tools.client, settings=settings,
                          now=utcnow(), recover=recover)
    finally:
        with Session() as s:
            work.release_one(s, target_id, state.owner)
    outcome = got or "error-bug"
    state.counted("watch", outcome, None)
    return outcome


def register(app, settings: Settings) -> WorkerState:
    """Register the stage tasks on ``app``; the worker's state is closed when the worker stops."""
    from celery.signals import worker_shutdown

    state = WorkerState(app, settings)
    app.archiver_state = state

    for stage, name in TASK_NAMES.items():
        def task(target_id: int, due_before: str | None = None, _stage: str = stage) -> str:
            if _stage == "watch":
                return run_watch(state, target_id, due_before)
            return run_item(state, _stage, target_id, due_before)

        app.task(name=name, acks_late=True, reject_on_worker_lost=True, ignore_result=True)(task)

    def _closed(sender=None, **_):
        state.close()

    worker_shutdown.connect(_closed, weak=False)
    return state
