"""One pass over all pending work: resolve → capture → extract (ingestion comes before, at
``archiver ingest``; link watching after). ``archiver run``, the nightly scheduler and the
web UI all call :func:`run`.

Work is claimed in leased batches (db/work.py), so a pass can be interrupted at any
moment (``kill -9`` included) and the next pass finishes it; the ``pipeline`` lock in
the database keeps two passes from running at once. Extra machines join a pass with
``worker=True``: they share the queue without taking the lock.
"""
from __future__ import annotations

import logging
import threading
import time
from contextlib import nullcontext
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable
from urllib.parse import urlsplit

from sqlalchemy import update
from sqlalchemy.orm import sessionmaker

from . import persist
from .config import Settings
from .db import locks, work
from .db.base import utcnow
from .db.tables import Run, Target
from .model import RunSummary
from .stages import HANDLERS, Tools

log = logging.getLogger(__name__)

# The stages, in order. Each one's handler is in stages.py. "watch" then re-checks the
# captured links that are due (watch.py), so every pass also notices links that die or change.
STAGES = ("resolve", "capture", "extract")
STEPS = STAGES + ("watch",)
LOCK_NAME = "pipeline"
LEASE_S = 900.0

ProgressFn = Callable[[str, int, int], None]  # (stage, done, total)


def make_tools(settings: Settings, Session: sessionmaker, run_id: int | None) -> Tools:
    """Build the network client, WARC sink and recorder once for the pass."""
    from .capture import HostGate, GatedRecorder
    from .capture.recorder import Recorder
    from .capture.warcfile import WarcSink
    from .evidence import make_probe
    from .net.http import HttpClient

    client = HttpClient(settings.fetch)
    sink = WarcSink(settings, Session)
    # every fetch of the pass (short links, targets, requisites) goes through one per-host gate
    gate = HostGate(settings.fetch.per_host_concurrency, settings.fetch.politeness_delay_s)
    recorder = GatedRecorder(Recorder(settings, client, sink), gate)
    tools = Tools(settings=settings, Session=Session, client=client, sink=sink, recorder=recorder, run_id=run_id)
    if settings.fetch.soft404_probe:
        raw_probe = make_probe(client)

        def probe(url: str):
            # a random path answers the same on every page of a site: one probe per origin and pass
            origin = "probe " + "://".join(urlsplit(url)[:2])
            return tools.once(origin, lambda: gate.run(url, lambda: raw_probe(url)))[0]

        tools.probe = probe
    return tools


def _process(Session: sessionmaker, stage: str, target_id: int, tools: Tools, owner: str) -> tuple[str, str | None]:
    """Run one stage on one leased target in its own session; never raises."""
    handler = HANDLERS[stage]
    with Session() as s:
        target = s.get(Target, target_id)
        if target is None or target.lease_owner != owner:
            return "skipped", None
        try:
            outcome = handler(s, target, tools)
            work.release(s, target)
            s.commit()
            return outcome, None
        except Exception as exc:  # a bug or broken infrastructure: record it, keep the pass going
            s.rollback()
            target = s.get(Target, target_id)
            message = f"{stage} {target.url}: {type(exc).__name__}: {exc}"
            log.error("stage failed: %s", message, exc_info=True)  # traceback only with --verbose
            persist.mark_failed(target, tools.settings, reason=f"{type(exc).__name__}: {exc}",
                                error_type=type(exc).__name__)
            work.release(s, target)
            s.commit()
            return "failed", message


def _run_stage(stage: str, Session: sessionmaker, tools: Tools, owner: str, *, limit: int | None,
               stop: threading.Event, progress: ProgressFn | None, heartbeat: Callable[[], None],
               summary: RunSummary) -> None:
    settings = tools.settings
    with Session() as s:
        total = work.count_due(s, stage)
    if limit is not None:
        total = min(total, limit)
    done = 0
    if progress:
        progress(stage, 0, total)
    batch = max(settings.fetch.concurrency * 2, 4)
    pass_started = utcnow()
    with ThreadPoolExecutor(max_workers=settings.fetch.concurrency, thread_name_prefix=f"{stage}") as pool:
        while not stop.is_set() and (limit is None or done < limit):
            want = batch if limit is None else min(batch, limit - done)
            with Session() as s:
                ids = work.claim(s, stage, owner, limit=want, lease_s=LEASE_S, due_before=pass_started)
            if not ids:
                break
            futures = [pool.submit(_process, Session, stage, tid, tools, owner) for tid in ids]
            for fut in futures:
                outcome, error = fut.result()
                done += 1
                _count(summary, stage, outcome)
                if error:
                    summary.errors.append(error)
                if progress:
                    progress(stage, done, max(total, done))
            heartbeat()
    if stop.is_set():  # hand back anything claimed but not started
        with Session() as s:
            s.execute(update(Target).where(Target.lease_owner == owner).values(lease_owner=None, lease_until=None))
            s.commit()


def _count(summary: RunSummary, stage: str, outcome: str) -> None:
    if outcome in ("resolved",):
        summary.resolved += 1
    elif outcome in ("captured", "recovered"):
        summary.captured += 1
    elif outcome == "extracted":
        summary.extracted += 1
    elif outcome == "dead":
        summary.dead += 1
    elif outcome == "refused":
        summary.refused += 1
    elif outcome == "failed":
        summary.failed += 1


def run(settings: Settings, Session: sessionmaker, *, stage: str | None = None, limit: int | None = None,
        progress: ProgressFn | None = None, stop: threading.Event | None = None, kind: str = "run",
        worker: bool = False, tools_factory: Callable[..., Tools] = make_tools) -> RunSummary:
    """One pass over all pending work (or one stage). Raises LockHeld if another pass is running."""
    stop = stop or threading.Event()
    stages = STAGES if stage is None else tuple(st for st in (stage,) if st in STAGES)
    owner = work.worker_id()
    started = time.monotonic()
    with Session() as s:
        work.release_dead_leases(s)
    if worker:
        ctx: Any = nullcontext(owner)
    else:
        ctx = locks.held(Session, LOCK_NAME, settings.schedule.lock_ttl_s, owner)
    with ctx:
        with Session() as s:
            run_row = Run(kind=kind, stage=stage, worker=owner, status="running")
            s.add(run_row)
            s.commit()
            run_id = run_row.id
        summary = RunSummary(run_id=run_id)
        status, error = "failed", None
        tools = None
        try:
            if stage in (None, "resolve"):
                _import_dumps(settings, Session)
            tools = tools_factory(settings, Session, run_id)

            where: dict = {}  # the stage and how far it has got, for the run row

            def on_progress(st: str, done: int, total: int) -> None:
                where.update(stage=st, done=done, total=total)
                if progress:
                    progress(st, done, total)

            def heartbeat() -> None:
                """After each batch: renew the run lock and show the counts so far on the run row
                (`archiver status`, the web page, other machines see a pass as it goes)."""
                with Session() as hs:
                    if not worker:
                        locks.renew(hs, LOCK_NAME, owner, settings.schedule.lock_ttl_s)
                    row = hs.get(Run, run_id)
                    row.counts = {**summary_dict(summary), "progress": dict(where)}
                    hs.commit()

            for st in stages:
                if stop.is_set():
                    break
                _run_stage(st, Session, tools, owner, limit=limit, stop=stop, progress=on_progress,
                           heartbeat=heartbeat, summary=summary)
            if stage in (None, "watch") and not stop.is_set():
                from .watch import recheck_due

                summary.watch = recheck_due(Session, recorder=tools.recorder, client=tools.client,
                                            settings=settings, limit=limit)
            summary.bytes = tools.counters.get("bytes", 0)
            status = "interrupted" if stop.is_set() else ("ok" if summary.ok else "partial")
        except BaseException as exc:
            error = f"{type(exc).__name__}: {exc}"
            status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
            raise
        finally:
            if tools is not None and hasattr(tools.sink, "close"):
                tools.sink.close()
            summary.seconds = round(time.monotonic() - started, 3)
            with Session() as s:
                row = s.get(Run, run_id)
                row.status, row.finished_at, row.error = status, utcnow(), error
                row.counts = summary_dict(summary)
                s.commit()
    return summary


def _import_dumps(settings: Settings, Session: sessionmaker) -> None:
    if settings.resolver.dumps:
        from .resolve.dumps import ensure_dumps_imported

        ensure_dumps_imported(Session, settings)


def summary_dict(summary: RunSummary) -> dict:
    return {"run_id": summary.run_id, "resolved": summary.resolved, "captured": summary.captured,
            "extracted": summary.extracted, "dead": summary.dead, "refused": summary.refused,
            "failed": summary.failed, "bytes": summary.bytes, "seconds": summary.seconds,
            "watch": summary.watch, "errors": summary.errors[:50], "ok": summary.ok}
