"""Fetch lanes: a stage's items spread over ``fetch.processes`` processes, each doing them whole.

Python runs one thread's Python code at a time, so one process uses about one core however
many fetches it has in flight; recording a page (HTTP parsing, WARC records, digests, gzip)
and writing its rows is CPU work. With ``fetch.processes`` above 1, that many child processes
(lanes) each run a stage's items from end to end, as a pass does in one process: their own
worker threads, host queue and gate, HTTP client, recorder, WARC file and database writer
(batchwriter.py), under the pass's leases. The pass's own process only claims items, gives each
to a lane, counts what the lanes report and renews the leases. Lanes are started once per
stage from a fork server that has imported the fetching code once (never forked from this
process, which may run the web UI's threads).

Each host is given to one lane, the one with fewest hosts, the first time one of its items
comes, and stays with it: per-host limits, politeness and a host's 429/503 waits are kept by one
gate exactly as in a single process (a page's requisites on other hosts are gated per lane).
What goes to a lane is the claimed row (a Snap); what comes back is one small message per item
(its outcome), never the fetched result. A lane that dies fails its items not yet reported
(their leases are handed back: retried on a later pass, as any failure; its rows are written
batch by batch, so what it reported is in the database) and its hosts go to the other lanes;
when none is left the stage stops with an error.

``fetch.processes`` is ``auto`` by default: one lane per core when a stage has at least
``AUTO_MIN_ITEMS`` items due (a smaller stage runs in this process alone), and none on one core;
1 turns lanes off; a number forces that many. bench/capture.py measures both on issue 8's shape.
"""
from __future__ import annotations

import logging
import logging.handlers
import os
import threading
from dataclasses import dataclass
from typing import Any, Callable

from .config import Settings
from .hostqueue import Item

log = logging.getLogger(__name__)

AUTO_MIN_ITEMS = 200
MAX_LANES = 8


@dataclass(frozen=True)
class Snap:
    """The claimed row's fields a network half reads (picklable, unlike a Row)."""

    id: int
    url: str
    final_url: str | None
    is_short: bool


def lanes_for(settings: Settings, due: int, cores: int | None = None) -> int:
    """How many fetch processes a stage with ``due`` items gets (1: this process alone). Pure."""
    want = settings.fetch.processes
    if want == "auto":
        if due < AUTO_MIN_ITEMS:
            return 1
        want = cores or os.cpu_count() or 1
    return max(1, min(int(want), MAX_LANES, settings.fetch.concurrency))


_PRELOAD = ["archiver.fetchlanes", "archiver.pipeline", "archiver.stages", "archiver.capture",
            "archiver.capture.recorder", "archiver.evidence", "archiver.db.session", "archiver.resolve"]


def _context():
    """How lanes are started (processes.start_context): forked when this process runs no other
    thread, so a lane starts in milliseconds (a fork server first spends ~0.6 s importing the
    fetching code: a sixth of issue 8's 1,000-page pass)."""
    from .processes import start_context

    return start_context(_PRELOAD)


def _stop_fork_server(ctx) -> None:
    """End the fork server with the stage (waited for: the lanes' CPU time is then counted as this
    process's children's, as `time` and the benchmarks read it). CPython has no public call for
    it; without the private one the server ends with this process, as it would anyway."""
    if ctx.get_start_method() != "forkserver":
        return
    from multiprocessing import forkserver

    stop = getattr(getattr(forkserver, "_forkserver", None), "_stop", None)
    if stop is not None:
        try:
            stop()
        except OSError:  # already gone
            pass


class Lanes:
    """``n`` child processes running one stage's items whole, fed host by host.

    The pass's loop uses it as it uses a HostQueue: ``put`` an item, ``waiting``, ``idle``,
    ``close`` (returns the items whose leases are to be handed back). Results go to
    ``report(outcome, error)``; a lane's crash (the database gone) to ``crash(exc)``; each lane's
    counters (bytes) to ``counters(dict)`` when it ends."""

    def __init__(self, settings: Settings, run_id: int | None, n: int, stage: str, owner: str, *,
                 report: Callable[[str, "str | None"], None], crash: Callable[[BaseException], None],
                 counters: Callable[[dict], None]):
        self._ctx = _context()
        self._out = self._ctx.Queue()
        self._lock = threading.Lock()
        self._report, self._crash, self._counters = report, crash, counters
        self._workers = max(1, settings.fetch.concurrency)
        self._host_lane: dict[str | None, int] = {}
        self._outstanding: dict[int, tuple[int, Item]] = {}  # target id -> (lane, item)
        self._left: list[Item] = []
        threads = max(1, -(-settings.fetch.concurrency // n))
        level = logging.getLogger("archiver").getEffectiveLevel()
        self._children: list[tuple[Any, Any]] = []  # (process, its job queue), lane i
        from .resolve.ratelimit import turns_for

        # every lane may ask the same web archive: they share its rates (held here for the lanes' lifetime:
        # a fork server's child opens their semaphores after start() returns, and a dropped Value unlinks its own)
        self._turns = turns = turns_for(settings, self._ctx)
        for lane in range(n):
            jobs = self._ctx.Queue()
            proc = self._ctx.Process(target=_child_main,
                                     args=(settings, run_id, stage, owner, lane, turns, jobs, self._out, threads,
                                           level),
                                     daemon=True, name=f"archiver-{stage}-lane-{lane}")
            proc.start()
            self._children.append((proc, jobs))
        log.info("%d fetch processes started (%s) for the %s stage", n, self._ctx.get_start_method(), stage)
        self._alive = [True] * n
        self._closed = [False] * n
        self._reader = threading.Thread(target=self._read, name="fetch-lanes", daemon=True)
        self._reader.start()

    @property
    def waiting(self) -> int:
        """Items given to lanes beyond what their threads can have in flight (about: queued there)."""
        with self._lock:
            return max(0, len(self._outstanding) - self._workers)

    def idle(self) -> bool:
        with self._lock:
            return not self._outstanding

    def hosts(self) -> int:
        """Distinct hosts (None aside) among the items given to lanes and not yet done (as HostQueue.hosts)."""
        with self._lock:
            return len({it.host for _, it in self._outstanding.values()} - {None})

    def put(self, item: Item) -> None:
        with self._lock:
            alive = [i for i, a in enumerate(self._alive) if a]
            if not alive:
                raise RuntimeError("every fetch process ended")
            lane = self._host_lane.get(item.host)
            if lane is None or not self._alive[lane]:
                lane = min(alive, key=lambda i: sum(1 for v in self._host_lane.values() if v == i))
                self._host_lane[item.host] = lane
            self._outstanding[item.target_id] = (lane, item)
        self._children[lane][1].put((item.target_id, item.host, item.snap))

    def close(self) -> list[Item]:
        """Lanes stop taking items, finish (and write) those in flight and end; returns the items
        never run, and those of a lane that died, whose leases are to be handed back."""
        for lane, (proc, jobs) in enumerate(self._children):
            if proc.is_alive():
                jobs.put(None)
        for proc, _ in self._children:
            proc.join(timeout=120)
            if proc.is_alive():
                proc.kill()
                proc.join()
        self._out.put(None)
        self._reader.join(timeout=30)
        self._lost_lanes(lambda lane: True, "the fetch process ended")
        _stop_fork_server(self._ctx)
        with self._lock:
            left, self._left = self._left, []
            return left

    # ---- internals -------------------------------------------------------------------------

    def _lost_lanes(self, which: Callable[[int], bool], why: str) -> None:
        """Fail what lanes that ended without reporting it held (not run again in this pass)."""
        with self._lock:
            gone = [(tid, item) for tid, (lane, item) in self._outstanding.items() if which(lane)]
            for tid, item in gone:
                del self._outstanding[tid]
                self._left.append(item)
        for _tid, item in gone:
            self._report("failed", f"{item.snap.url if item.snap else item.target_id}: {why}")

    def _read(self) -> None:
        from queue import Empty

        while True:
            try:
                msg = self._out.get(timeout=1.0)
            except Empty:
                for lane, (proc, _) in enumerate(self._children):
                    if self._alive[lane] and not self._closed[lane] and not proc.is_alive():
                        self._alive[lane] = False
                        log.warning("a fetch process ended (exit code %s); its items are retried on a later pass",
                                    proc.exitcode)
                        self._lost_lanes(lambda ln, lane=lane: ln == lane,
                                         f"the fetch process ended (exit code {proc.exitcode})")
                continue
            if msg is None:
                return
            kind = msg[0]
            if kind == "log":
                record = msg[1]
                logging.getLogger(record.name).handle(record)
            elif kind == "done":
                _, tid, outcome, error = msg
                with self._lock:
                    known = self._outstanding.pop(tid, None) is not None
                if known:
                    self._report(outcome, error)
            elif kind == "left":
                with self._lock:
                    for tid in msg[1]:
                        entry = self._outstanding.pop(tid, None)
                        if entry is not None:
                            self._left.append(entry[1])
            elif kind == "closed":
                _, lane, counters = msg
                self._closed[lane] = True
                self._counters(counters)
            elif kind == "crash":
                self._crash(RuntimeError(msg[1]))


class _LogToParent(logging.handlers.QueueHandler):
    def enqueue(self, record: logging.LogRecord) -> None:
        self.queue.put(("log", record))


def _child_main(settings: Settings, run_id: int | None, stage: str, owner: str, lane: int, turns: dict, jobs, out,
                threads: int, level: int) -> None:
    """A lane: run the stage's items the parent sends, whole, until it sends None."""
    from queue import Empty, SimpleQueue

    from .batchwriter import BatchWriter
    from .db.session import make_engine, make_sessionmaker
    from .hostqueue import HostQueue
    from .pipeline import _worker, make_tools
    from .resolve import ratelimit

    logger = logging.getLogger("archiver")
    logger.handlers[:] = [_LogToParent(out)]
    logger.setLevel(level)
    logger.propagate = False
    engine = make_engine(settings)
    Session = make_sessionmaker(engine)
    tools = make_tools(settings, Session, run_id)
    # a target's host decides its lane, not the archive's: every lane may ask the same web archive, and
    # together they keep to its rates (unless make_tools found them held in Redis)
    ratelimit.use_turns(turns)
    gate = getattr(tools.recorder, "gate", None)
    queue = HostQueue(settings.fetch.per_host_concurrency, gate.ready_at if gate is not None else (lambda h: 0.0))
    crashes: SimpleQueue = SimpleQueue()  # (marker, exception) from a worker that met a broken database
    writer = BatchWriter(Session, stage, tools, owner,
                         lambda item, outcome, error: out.put(("done", item.target_id, outcome, error)))
    workers = [threading.Thread(target=_worker, args=(queue, crashes, Session, stage, tools, owner, writer),
                                name=f"{stage}-lane{lane}-{i}", daemon=True) for i in range(threads)]
    for t in workers:
        t.start()
    told = False
    left: list = []
    try:
        while True:
            try:
                job = jobs.get(timeout=0.5)
            except Empty:
                job = ()
            if job is None:
                break
            if job:
                tid, host, snap = job
                queue.put(Item(tid, host, snap=snap))
            broken = writer.crash
            if broken is None and not crashes.empty():
                broken = crashes.get()[1]
            if broken is not None and not told:
                out.put(("crash", f"{type(broken).__name__}: {broken}"))
                told = True
    finally:
        left = queue.close()
        for t in workers:
            t.join()
        writer.close()
        out.put(("left", [it.target_id for it in left]))
        tools.close()
        engine.dispose()
        out.put(("closed", lane, dict(tools.counters)))
