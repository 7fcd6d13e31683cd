"""Fetch lanes: the network half of resolve and capture spread over ``fetch.processes`` processes.

Python runs one thread's Python code at a time, so one process uses about one core however
many fetches it has in flight; recording a page (HTTP parsing, WARC records, digests, gzip)
is CPU work. With ``fetch.processes`` above 1, that many child processes (lanes) do the
network half of items (stages.SPLIT), each started once per stage (from a fork server that
has imported the fetching code once, never forked from this process, which may run the web
UI's threads) with its own HTTP client, host gate, recorder and WARC file, while the pass's own process schedules, dispatches and writes the rows
(batchwriter.py). Each host is given to one lane, the one with fewest hosts, the first time
one of its items comes, and stays with it: per-host limits, politeness and a host's 429/503
waits are kept by one gate exactly as in a single process. What a child finds comes back
pickled (the stages' dataclasses); children only read the database (revisit look-ups) and
record the WARC files they open and finish.

``fetch.processes`` is 1 by default (no lane: everything in this process). Measured on the
project's 2-core machine (bench/capture.py, issue 8's shape) two lanes were slower than none
(capture 4.8-5.1 s against 3.4 s, 4.6 s of CPU against 3.0 s): every item makes a round trip
through this process (a pickled job out, a pickled result back, thread hand-offs on both
sides) while its host's slot is held, and that costs more than a second core gives back
there. ``auto`` starts one lane per core when a stage has at least ``AUTO_MIN_ITEMS`` items due
(a child costs about half a second of start-up), and none on one core; a number forces that
many. A child that dies fails its items in flight (retried
on a later pass, as any failure) and its hosts go to the other lanes, or back to this
process when none is left.
"""
from __future__ import annotations

import itertools
import logging
import logging.handlers
import multiprocessing as mp
import os
import threading
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from .config import Settings
from .errors import HostNotReady

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
    """A fork server where there is one: it imports the fetching code once and forks each lane from
    that clean, single-threaded process (never from this one, which may run the web UI's threads);
    a fresh interpreter per lane elsewhere."""
    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(_PRELOAD)
        return ctx
    return mp.get_context("spawn")


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


class _Job:
    __slots__ = ("done", "reply")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.reply: tuple | None = None


class Lanes:
    """``n`` child processes, lanes 1..n; lane 0, this process, takes hosts only once none is left."""

    def __init__(self, settings: Settings, run_id: int | None, n: int):
        self._ctx = _context()
        self._out = self._ctx.Queue()
        self._lock = threading.Lock()
        self._jobs: dict[int, tuple[int, _Job]] = {}
        self._ids = itertools.count()
        self._host_lane: dict[str | None, int] = {}
        self._busy = [0] * (n + 1)
        threads = max(1, -(-settings.fetch.concurrency // n))
        level = logging.getLogger("archiver").getEffectiveLevel()
        self._children: list[tuple[Any, Any]] = []  # (process, its job queue), lane i + 1
        for _ in range(n):
            jobs = self._ctx.Queue()
            proc = self._ctx.Process(target=_child_main, args=(settings, run_id, jobs, self._out, threads, level),
                                     daemon=True, name="archiver-fetch-lane")
            proc.start()
            self._children.append((proc, jobs))
        self._alive = [False] + [True] * n
        self._reader = threading.Thread(target=self._read, name="fetch-lanes", daemon=True)
        self._reader.start()

    def fetch(self, stage: str, snap: Snap, host: str | None, tools: Any, deferrable: bool) -> Any:
        """The network half of one item in its host's lane; raises HostNotReady like a local fetch."""
        from .capture.gate import deferrable as deferrable_ctx
        from .stages import SPLIT

        lane = self._lane_for(host)
        try:
            if lane == 0:
                with deferrable_ctx() if deferrable else nullcontext():
                    return SPLIT[stage][0](snap, tools)
            return self._remote(lane, (stage, snap, deferrable))
        finally:
            with self._lock:
                self._busy[lane] -= 1

    def close(self) -> None:
        for proc, jobs in self._children:
            if proc.is_alive():
                jobs.put(None)
        for proc, _ in self._children:
            proc.join(timeout=60)
            if proc.is_alive():
                proc.kill()
                proc.join()
        self._out.put(None)
        self._reader.join(timeout=10)
        self._fail_lane(None, "the fetch process ended")
        _stop_fork_server(self._ctx)

    # ---- internals -------------------------------------------------------------------------

    def _lane_for(self, host: str | None) -> int:
        with self._lock:
            lane = self._host_lane.get(host)
            if lane is None or not self._alive[lane]:
                alive = [i for i in range(1, len(self._busy)) if self._alive[i]]
                lane = min(alive, key=lambda i: (self._host_count(i), self._busy[i])) if alive else 0
                self._host_lane[host] = lane
            self._busy[lane] += 1
            return lane

    def _host_count(self, lane: int) -> int:
        return sum(1 for v in self._host_lane.values() if v == lane)

    def _remote(self, lane: int, job: tuple) -> Any:
        from .batchwriter import Broken

        ticket = _Job()
        with self._lock:
            jid = next(self._ids)
            self._jobs[jid] = (lane, ticket)
        proc, jobs = self._children[lane - 1]
        jobs.put((jid,) + job)
        while not ticket.done.wait(1.0):
            if not proc.is_alive():
                self._fail_lane(lane, f"the fetch process ended (exit code {proc.exitcode})")
        kind, *rest = ticket.reply
        if kind == "ok":
            return rest[0]
        if kind == "deferred":
            message, host, until = rest
            raise HostNotReady(message, host=host, until=until)
        return Broken(RuntimeError(rest[0]))

    def _fail_lane(self, lane: int | None, why: str) -> None:
        with self._lock:
            if lane is not None:
                self._alive[lane] = False
            gone = [(jid, t) for jid, (ln, t) in self._jobs.items() if lane is None or ln == lane]
            for jid, _ in gone:
                del self._jobs[jid]
        for _, ticket in gone:
            ticket.reply = ("broken", why)
            ticket.done.set()

    def _read(self) -> None:
        while True:
            msg = self._out.get()
            if msg is None:
                return
            if msg[0] == "log":
                record = msg[1]
                logging.getLogger(record.name).handle(record)
                continue
            jid, reply = msg
            with self._lock:
                entry = self._jobs.pop(jid, None)
            if entry is not None:
                entry[1].reply = reply
                entry[1].done.set()


class _LogToParent(logging.handlers.QueueHandler):
    def enqueue(self, record: logging.LogRecord) -> None:
        self.queue.put(("log", record))


def _child_main(settings: Settings, run_id: int | None, jobs, out, threads: int, level: int) -> None:
    """A child lane: run network halves as the parent sends them, until it sends None."""
    from concurrent.futures import ThreadPoolExecutor

    from .capture.gate import deferrable as deferrable_ctx
    from .db.session import make_engine, make_sessionmaker
    from .pipeline import make_tools
    from .stages import SPLIT

    logger = logging.getLogger("archiver")
    logger.handlers[:] = [_LogToParent(out)]
    logger.setLevel(level)
    logger.propagate = False
    engine = make_engine(settings)
    tools = make_tools(settings, make_sessionmaker(engine), run_id)

    def one(jid: int, stage: str, snap: Snap, defer: bool) -> None:
        try:
            with deferrable_ctx() if defer else nullcontext():
                reply: tuple = ("ok", SPLIT[stage][0](snap, tools))
        except HostNotReady as exc:
            reply = ("deferred", str(exc), exc.host, exc.until)
        except Exception as exc:  # a bug or broken infrastructure: the parent fails the item with it
            log.error("%s %s failed in a fetch process", stage, snap.url, exc_info=True)
            reply = ("broken", f"{type(exc).__name__}: {exc}")
        out.put((jid, reply))

    try:
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="lane") as pool:
            while (job := jobs.get()) is not None:
                pool.submit(one, *job)
    finally:
        tools.close()
        engine.dispose()
