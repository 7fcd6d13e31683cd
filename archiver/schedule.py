"""Nightly runs: APScheduler wiring only. The job calls the same pipeline.run as `archiver run`.

Never two runs at once: max_instances=1 inside one process, and the database lock
(pipeline.run raises LockHeld) across processes and machines. Missed runs are
coalesced into one. SIGTERM/SIGINT set the stop event: the current item finishes,
the pass records itself as interrupted, and the scheduler shuts down cleanly.
"""
from __future__ import annotations

import logging
import signal
import threading
from typing import Callable

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.orm import sessionmaker

from . import notify, pipeline
from .config import Settings
from .errors import ConfigError, LockHeld

log = logging.getLogger(__name__)


def make_trigger(settings: Settings, cron: str | None = None, interval_s: float | None = None):
    if interval_s:
        return IntervalTrigger(seconds=interval_s, timezone=settings.schedule.timezone)
    expr = cron or settings.schedule.cron
    try:
        return CronTrigger.from_crontab(expr, timezone=settings.schedule.timezone)
    except Exception as exc:  # bad field (ValueError), bad timezone (LookupError), and others
        raise ConfigError(f"config: 'schedule.cron' / 'schedule.timezone': {expr!r} in "
                          f"{settings.schedule.timezone!r} is not a valid crontab schedule ({exc})") from exc


def nightly_job(settings: Settings, Session: sessionmaker, stop: threading.Event,
                on_result: Callable[[dict], None] | None = None) -> None:
    """One scheduled pass: the pipeline, whose last step re-checks the links that are due; then the
    summary of what changed goes to the ``notify:`` targets (a failed target does not fail the job)."""
    try:
        if settings.queue.url:  # the pass's items go to the Celery workers; this node only enqueues and waits
            from .distributed.enqueue import run_distributed

            summary, _ = run_distributed(settings, Session, stop=stop)
        else:
            summary = pipeline.run(settings, Session, stop=stop, kind="schedule")
    except LockHeld as exc:
        log.warning("skipped: %s", exc)
        if on_result:
            on_result({"skipped": str(exc)})
        return
    doc = pipeline.summary_dict(summary)
    if notify.configured(settings):
        if stop.is_set():  # shutting down: no retries and timeouts to wait out now
            log.warning("notify: pass %s was interrupted by a stop; its summary is not sent", summary.run_id)
        else:
            doc["notify"] = notify.send_pass(settings, Session, summary.run_id)
    if on_result:
        on_result(doc)


def make_scheduler(settings: Settings, Session: sessionmaker, stop: threading.Event, *, cron: str | None = None,
                   interval_s: float | None = None, on_result: Callable[[dict], None] | None = None
                   ) -> BlockingScheduler:
    """The scheduler with its one job: missed runs coalesced into one, never two at once."""
    scheduler = BlockingScheduler(timezone=settings.schedule.timezone)
    scheduler.add_job(nightly_job, make_trigger(settings, cron, interval_s), args=(settings, Session, stop, on_result),
                      id="archiver-pipeline", coalesce=True, max_instances=1, misfire_grace_time=3600)
    return scheduler


def serve_forever(settings: Settings, Session: sessionmaker, *, cron: str | None = None,
                  interval_s: float | None = None, on_result: Callable[[dict], None] | None = None,
                  install_signals: bool = True) -> None:
    stop = threading.Event()
    scheduler = make_scheduler(settings, Session, stop, cron=cron, interval_s=interval_s, on_result=on_result)

    def _stop(*_):
        stop.set()
        # shutdown(wait=True) lets the running pass finish its current item and record itself
        threading.Thread(target=scheduler.shutdown, kwargs={"wait": True}, daemon=True).start()

    if install_signals:
        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
    scheduler.start()
