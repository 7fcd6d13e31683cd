"""One pass over all pending work: resolve → capture → extract (ingestion comes before, at
``archiver ingest``; link watching after). ``archiver run``, the nightly scheduler and the
web UI all call :func:`run`.

Work is leased from the database a window ahead (db/work.py), so a pass can be
interrupted at any moment (``kill -9`` included) and the next pass finishes it; the
``pipeline`` lock in the database keeps two passes from running at once. Extra machines
join a pass with ``worker=True``: they share the queue without taking the lock.

Within a process, ``fetch.concurrency`` worker threads take the leased items host by
host as each host is ready (hostqueue.py, capture/gate.py): per-host limits, politeness,
and a host's short 429/503 waits hold up only that host's items, never a thread or a
batch. Resolve and capture workers do only the network half of an item (stages.SPLIT) and
hold no database session; one writer thread turns their results into rows, many items per
transaction (batchwriter.py). Extract items run whole, each in one session of its own.
"""
from __future__ import annotations

import logging
import threading
import time
from contextlib import nullcontext
from queue import Empty, SimpleQueue
from typing import Any, Callable
from urllib.parse import urlsplit

from sqlalchemy.orm import sessionmaker

from . import persist
from .config import Settings
from .db import locks, work
from .db.base import utcnow
from .db.session import stage_session
from .db.tables import Run, Target
from .errors import HostNotReady
from .fetchlanes import Snap
from .hostqueue import HostQueue, Item
from .model import RunSummary
from .stages import HANDLERS, SPLIT, Tools

log = logging.getLogger(__name__)

# The stages, in order. Each one's handler is in stages.py. "watch" then re-checks the
# captured links that are due (watch.py), so every pass also notices links that die or change.
STAGES = ("resolve", "capture", "extract")
STEPS = STAGES + ("watch",)
LOCK_NAME = "pipeline"
LEASE_S = 900.0
HEARTBEAT_S = 1.0  # the run row shows the counts so far this often (when they changed)
_CRASH = object()  # a worker's result when _process itself raised
_WAKE = object()  # the host queue ran low: refill it (not a result)
MAX_DEFERRALS = 50  # an item put back this often runs once more waiting for its host (no loop forever)

ProgressFn = Callable[[str, int, int], None]  # (stage, done, total)


def make_tools(settings: Settings, Session: sessionmaker, run_id: int | None) -> Tools:
    """Build the network client, WARC sink and recorder once for the pass."""
    from .capture import HostGate, GatedRecorder
    from .capture.recorder import Recorder
    from .capture.warcfile import WarcSink
    from .evidence import make_probe
    from .net.http import HttpClient

    from .capture.recorder import db_revisit_lookup

    client = HttpClient(settings.fetch)
    # The WARC sink writes its file rows (a file opened, finished) on a connection of its own,
    # taken now and used under the sink's lock: a worker that rotates a file while holding its
    # stage's connection never asks the pool for a second one.
    sink_db = Session.kw["bind"].connect()
    sink = WarcSink(settings, sessionmaker(bind=sink_db, expire_on_commit=False))
    sink.db_connection = sink_db  # closed with the sink at the end of the pass (run)
    # every fetch of the pass (short links, targets, requisites) goes through one per-host gate
    from .distributed.slots import from_settings as shared_slots
    from .resolve import ratelimit

    slots = shared_slots(settings)
    # with a Redis, the web archives' rates hold across processes too, as the per-host slots do
    ratelimit.use_shared(slots.rate_for if slots is not None else None)
    gate = HostGate(settings.fetch.per_host_concurrency, settings.fetch.politeness_delay_s, slots=slots)
    recorder = GatedRecorder(Recorder(settings, client, sink, revisit_lookup=db_revisit_lookup(Session)), gate)
    tools = Tools(settings=settings, Session=Session, client=client, sink=sink, recorder=recorder, run_id=run_id)
    if settings.fetch.soft404_probe:
        raw_probe = make_probe(client)

        def probe(url: str):
            # a random path answers the same on every page of a site: one probe per origin and pass
            origin = "probe " + "://".join(urlsplit(url)[:2])
            return tools.once(origin, lambda: gate.run(url, lambda: raw_probe(url)))[0]

        tools.probe = probe
    return tools


def _process(Session: sessionmaker, stage: str, target_id: int, tools: Tools, owner: str,
             defer: bool = True) -> tuple[str, str | None, float | None]:
    """Run one stage on one leased target in its own session; never raises.

    Returns (outcome, error message, ready time): outcome "deferred" when a host asked us to
    wait a little (HostNotReady): nothing of the try is kept, the lease is, and the item is run
    again at the ready time (a time.monotonic() value)."""
    from .capture.gate import deferrable

    handler = HANDLERS[stage]
    with Session() as s, stage_session(s):
        target = s.get(Target, target_id)
        if target is None or target.lease_owner != owner:
            return "skipped", None, None
        # end the read: the connection goes back to the pool while the item waits on the network,
        # and is taken again (one at a time) when the stage next reads or writes
        s.commit()
        try:
            with deferrable() if defer else nullcontext():
                outcome = handler(s, target, tools)
            work.release(s, target)
            s.commit()
            return outcome, None, None
        except HostNotReady as exc:
            s.rollback()
            log.info("%s %s: %s; run again when the host is ready", stage, target_id, exc)
            return "deferred", None, exc.until
        except Exception as exc:  # a bug or broken infrastructure: record it, keep the pass going
            s.rollback()
            target = s.get(Target, target_id)
            message = f"{stage} {target.url}: {type(exc).__name__}: {exc}"
            log.error("stage failed: %s", message, exc_info=True)  # traceback only with --verbose
            persist.mark_failed(target, tools.settings, reason=f"{type(exc).__name__}: {exc}",
                                error_type=type(exc).__name__)
            work.release(s, target)
            s.commit()
            return "failed", message, None


def _item_host(stage: str, row) -> str | None:
    """The host an item asks first, for the scheduler (None: the item makes no request)."""
    from .capture.gate import host_of

    if stage == "resolve":
        return host_of(row.url) if row.is_short else None
    if stage == "capture":
        return host_of(row.final_url or row.url)
    return None


def _worker(queue: HostQueue, results: "SimpleQueue", Session: sessionmaker, stage: str, tools: Tools,
            owner: str, writer: "BatchWriter | None" = None) -> None:
    while True:
        item = queue.take()
        if item is None:  # closed: the stage is over
            return
        try:
            if writer is not None:
                outcome, until = _fetch(stage, item, tools, writer)
            else:
                outcome, error, until = _process(Session, stage, item.target_id, tools, owner,
                                                 defer=item.deferrals < MAX_DEFERRALS)
        except BaseException as exc:  # broken beyond one item (the database gone): the pass stops
            results.put((_CRASH, exc))
            queue.done(item)
            return
        if outcome == "deferred":
            queue.defer(item, until if until is not None else time.monotonic())
            continue
        if writer is None:
            results.put((outcome, error))  # before done(): an idle queue means every result is in
        queue.done(item)


def _fetch(stage: str, item: Item, tools: Tools, writer: "BatchWriter") -> tuple[str, float | None]:
    """The network half of one item, its result handed to the writer before the queue hears the
    item is done, so that an idle queue and an idle writer mean every result is in."""
    from .batchwriter import Broken
    from .capture.gate import deferrable

    fetch = SPLIT[stage][0]
    defer = item.deferrals < MAX_DEFERRALS
    try:
        with deferrable() if defer else nullcontext():
            found = fetch(item.snap, tools)
    except HostNotReady as exc:
        log.info("%s %s: %s; run again when the host is ready", stage, item.target_id, exc)
        return "deferred", exc.until
    except Exception as exc:  # a bug or broken infrastructure: the item is failed with it, the pass goes on
        found = Broken(exc)
    writer.put(item, found)
    return "fetched", None


def _run_stage(stage: str, Session: sessionmaker, get_tools: Callable[[], Tools], owner: str, *,
               settings: Settings, limit: int | None, stop: threading.Event, progress: ProgressFn | None,
               heartbeat: Callable[[], None], summary: RunSummary) -> None:
    """Claim the stage's due work a window ahead and keep ``fetch.concurrency`` workers busy on it,
    host by host as each host is ready (hostqueue.py); no batch waits for its slowest item.
    The pass's tools (client, WARC sink, recorder) are built only once a stage has work."""
    with Session() as s:
        if stage == "resolve" and not settings.resolver.overrides:
            work.advance_plain_links(s)  # plain links have nothing to resolve (stages.resolve_target)
        total = work.count_due(s, stage)
    if limit is not None:
        total = min(total, limit)
    done = claimed = 0
    if progress:
        progress(stage, 0, total)
    if total == 0:
        return
    tools = get_tools()
    workers = settings.fetch.concurrency
    results: SimpleQueue = SimpleQueue()
    # items leased ahead: enough to keep every worker busy and to choose among hosts, not so many
    # that other machines sharing the queue (run --worker) find nothing left to take
    window = max(2 * workers, 4)
    pass_started = utcnow()
    writer = None
    threads: list[threading.Thread] = []
    n = 1
    if stage in SPLIT:
        from .fetchlanes import lanes_for

        n = lanes_for(settings, total)
    queue: Any
    if n > 1:  # the stage's items on more than one core, each lane doing them whole (fetchlanes.py)
        from .fetchlanes import Lanes

        # a lane's item counts as waiting until its rows are written, a batch after its fetch
        # (batchwriter.LINGER_S): twice the window keeps the lanes' threads fetching meanwhile
        window *= 2

        queue = Lanes(settings, tools.run_id, n, stage, owner,
                      report=lambda outcome, error: results.put((outcome, error)),
                      crash=lambda exc: results.put((_CRASH, exc)),
                      counters=lambda c: [tools.count(k, v) for k, v in c.items()])
    else:
        gate = getattr(tools.recorder, "gate", None)
        # refilled when it runs low, not only when a result comes back: a result waits for its
        # batch (batchwriter.LINGER_S), and workers that emptied the window would wait with it
        queue = HostQueue(settings.fetch.per_host_concurrency, gate.ready_at if gate is not None else (lambda h: 0.0),
                          low=window // 2, on_low=lambda: results.put((_WAKE, None)))
        if stage in SPLIT:  # network in the workers, rows in one writer, many items per transaction
            from .batchwriter import BatchWriter

            writer = BatchWriter(Session, stage, tools, owner,
                                 lambda item, outcome, error: results.put((outcome, error)))
        threads = [threading.Thread(target=_worker, args=(queue, results, Session, stage, tools, owner, writer),
                                    name=f"{stage}-{i}", daemon=True) for i in range(workers)]
    for t in threads:
        t.start()

    def collect(block: bool) -> None:
        nonlocal done
        got = []
        try:
            got.append(results.get(timeout=0.25) if block else results.get_nowait())
            while True:
                got.append(results.get_nowait())
        except Empty:
            pass
        for outcome, error in got:
            if outcome is _WAKE:
                continue
            if outcome is _CRASH:
                raise error
            done += 1
            _count(summary, stage, outcome)
            if error:
                summary.errors.append(error)
        if got and progress:
            progress(stage, done, max(total, done))

    # Items are leased in id order, which is the report's order, and reports cite a site's pages together:
    # a window of one or two hosts' items would keep most workers idle behind the per-host limit and the
    # politeness delay (grouped links captured 2.9x slower than interleaved ones). While the items held span
    # fewer than four hosts per worker (with a politeness delay a host keeps a worker busy a fraction of the
    # time), a window more is leased, up to `wide` items in all, for as long as each such lease brings
    # new hosts (a pass of one site's pages gains nothing by holding more of them, and other machines
    # sharing the pass would find less to take).
    wide = window * 16
    exhausted = False
    widen = True
    beat_done = 0
    last_beat = last_renew = time.monotonic()
    try:
        while not stop.is_set():
            waiting = queue.waiting
            low = waiting < window // 2
            hosts = queue.hosts()
            wider = not low and widen and waiting < wide and 0 < hosts < 4 * workers
            if not exhausted and (low or wider):
                want = window - waiting if low else window
                want = want if limit is None else min(want, limit - claimed)
                rows = []
                if want > 0:
                    with Session() as s:
                        rows = work.claim_rows(s, stage, owner, limit=want, lease_s=LEASE_S, due_before=pass_started)
                exhausted = not rows
                for row in rows:
                    queue.put(Item(row.id, _item_host(stage, row),
                                   snap=Snap(row.id, row.url, row.final_url, bool(row.is_short))))
                claimed += len(rows)
                widen = low or queue.hosts() > hosts
                wider = wider and widen and bool(rows)
            if exhausted and queue.idle() and (writer is None or writer.idle()):
                break  # (results still queued are collected below)
            collect(block=not wider)  # (still widening: lease again at once)
            if writer is not None and writer.crash is not None:
                raise writer.crash
            now = time.monotonic()
            if (done != beat_done and now - last_beat >= HEARTBEAT_S) or now - last_beat >= 30 * HEARTBEAT_S:
                heartbeat()
                last_beat, beat_done = now, done
            if now - last_renew >= LEASE_S / 4:  # items waiting in the queue keep their leases
                with Session() as s:
                    work.renew_leases(s, owner, LEASE_S)
                last_renew = now
    finally:
        left = queue.close()
        for t in threads:
            t.join()
        if writer is not None:
            writer.close()  # what was fetched is written, even when the pass is stopped
        collect(block=False)
        if left or stop.is_set():  # hand back anything claimed but not run
            with Session() as s:
                work.release_leases(s, owner, None if stop.is_set() else [it.target_id for it in left])
    if writer is not None and writer.crash is not None:
        raise writer.crash
    heartbeat()


def _count(summary: RunSummary, stage: str, outcome: str) -> None:
    per_stage = summary.stages.setdefault(stage, {})
    per_stage[outcome] = per_stage.get(outcome, 0) + 1
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
    """One pass over all pending work, or the steps ``stage`` names (one, or several separated by
    commas, run in pipeline order). Raises LockHeld if another pass is running."""
    stop = stop or threading.Event()
    steps = parse_steps(stage)
    stages = tuple(st for st in STAGES if st in steps)
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
            if "resolve" in steps:
                _import_dumps(settings, Session)

            def get_tools() -> Tools:
                nonlocal tools
                if tools is None:
                    tools = tools_factory(settings, Session, run_id)
                return tools

            where: dict = {}  # the stage and how far it has got, for the run row

            def on_progress(st: str, done: int, total: int) -> None:
                where.update(stage=st, done=done, total=total)
                if progress:
                    progress(st, done, total)

            def heartbeat() -> None:
                """Every HEARTBEAT_S: renew the run lock and show the counts so far on the run row
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
                _run_stage(st, Session, get_tools, owner, settings=settings, limit=limit, stop=stop,
                           progress=on_progress, heartbeat=heartbeat, summary=summary)
            if "watch" in steps and not stop.is_set():
                from .watch import recheck_due

                summary.watch = recheck_due(Session, recorder=get_tools().recorder, client=get_tools().client,
                                            settings=settings, limit=limit)
            summary.bytes = tools.counters.get("bytes", 0) if tools is not None else 0
            status = "interrupted" if stop.is_set() else ("ok" if summary.ok else "partial")
        except BaseException as exc:
            error = f"{type(exc).__name__}: {exc}"
            status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
            raise
        finally:
            if tools is not None:
                tools.close()
            summary.seconds = round(time.monotonic() - started, 3)
            with Session() as s:
                row = s.get(Run, run_id)
                row.status, row.finished_at, row.error = status, utcnow(), error
                row.counts = summary_dict(summary)
                s.commit()
    return summary


def parse_steps(stage: str | None) -> tuple[str, ...]:
    """The steps a ``--stage`` value names ("capture", "resolve,capture"; None: all of them). Pure;
    raises ValueError naming what is not a step."""
    if stage is None:
        return STEPS
    names = tuple(dict.fromkeys(part.strip() for part in stage.split(",")))
    bad = [n for n in names if n not in STEPS]
    if bad or not names:
        raise ValueError(f"--stage takes {', '.join(STEPS)} or several of them separated by commas "
                         f"(got {stage!r})")
    return names


def _import_dumps(settings: Settings, Session: sessionmaker) -> None:
    if settings.resolver.dumps:
        from .resolve.dumps import ensure_dumps_imported

        ensure_dumps_imported(Session, settings)


def summary_dict(summary: RunSummary) -> dict:
    return {"run_id": summary.run_id, "resolved": summary.resolved, "captured": summary.captured,
            "extracted": summary.extracted, "dead": summary.dead, "refused": summary.refused,
            "failed": summary.failed, "bytes": summary.bytes, "seconds": summary.seconds,
            "watch": summary.watch, "stages": summary.stages, "errors": summary.errors[:50], "ok": summary.ok}
