"""The pass's work, scheduled by host readiness: a worker takes the next item whose host can take it.

The pipeline claims (leases) items from the database a window ahead and puts them here,
keyed by the host the item will ask first (None for items that make no request, e.g.
extraction). :meth:`HostQueue.take` hands out items round-robin across hosts, skipping a
host that already has ``per_host`` items in flight or that is not ready yet
(``ready_at(host)`` in the future: politeness delay, or a 429/503 being waited out, from
capture.gate.HostGate). An item put back with :meth:`defer` waits in the queue, not on a
thread, and comes back at its host's turn. There is no batch barrier: a slow item holds
one worker, never the others.
"""
from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Hashable


@dataclass(eq=False)
class Item:
    """One leased target in the pass."""

    target_id: int
    host: str | None  # the host it asks first; None: no request
    deferrals: int = 0
    snap: Any = None  # the claimed row (id, url, final_url, is_short), for a stage's network half


class HostQueue:
    def __init__(self, per_host: int, ready_at: Callable[[str], float] = lambda host: 0.0, *,
                 clock: Callable[[], float] = time.monotonic, low: int = 0,
                 on_low: Callable[[], None] | None = None):
        """``on_low()`` is called (once until the next ``put``) when a take leaves fewer than ``low``
        items waiting: the feeder refills then, not only when a result comes back."""
        self._per_host = per_host
        self._low, self._on_low, self._low_told = low, on_low, False
        self._ready_at = ready_at
        self._clock = clock
        self._cond = threading.Condition()
        self._queues: dict[Hashable, deque[Item]] = {}
        self._ring: deque[Hashable] = deque()  # hosts that may have a ready item, each once
        self._in_ring: set[Hashable] = set()
        self._host_wait: list[tuple[float, int, Hashable]] = []  # (ready time, seq, host) not ready yet
        self._waiting_hosts: set[Hashable] = set()
        self._later: list[tuple[float, int, Item]] = []  # deferred items: (not before, seq, item)
        self._inflight: dict[Hashable, int] = {}
        self._seq = itertools.count()
        self._queued = 0
        self._closed = False

    # ---- state, for the feeder -----------------------------------------------------------------

    @property
    def waiting(self) -> int:
        """Items not yet taken (queued or deferred)."""
        with self._cond:
            return self._queued + len(self._later)

    @property
    def in_flight(self) -> int:
        with self._cond:
            return sum(self._inflight.values())

    def idle(self) -> bool:
        with self._cond:
            return not self._queued and not self._later and not self._inflight

    def hosts(self) -> int:
        """Distinct hosts (None aside) among the items waiting or in flight: how many hosts the workers
        can be spread over (the feeder leases more when they are too few, see pipeline._run_stage)."""
        with self._cond:
            hosts = {h for h, q in self._queues.items() if q} | set(self._inflight) | {it.host for _, _, it in self._later}
            hosts.discard(None)
            return len(hosts)

    # ---- producer / consumer -------------------------------------------------------------------

    def put(self, item: Item) -> None:
        with self._cond:
            self._queues.setdefault(item.host, deque()).append(item)
            self._queued += 1
            self._low_told = False
            self._offer(item.host)
            self._cond.notify()

    def take(self, timeout: float | None = None) -> Item | None:
        """The next ready item, waiting up to ``timeout`` seconds; None on timeout or once closed."""
        deadline = None if timeout is None else self._clock() + timeout
        with self._cond:
            while not self._closed:
                now = self._clock()
                item = self._next_ready(now)
                if item is not None:
                    if (self._on_low is not None and not self._low_told
                            and self._queued + len(self._later) < self._low):
                        self._low_told = True
                        self._on_low()
                    return item
                wake = [t for t in (deadline, self._host_wait[0][0] if self._host_wait else None,
                                    self._later[0][0] if self._later else None) if t is not None]
                if deadline is not None and now >= deadline:
                    return None
                self._cond.wait(max(0.0, min(wake) - now) if wake else None)
            return None

    def done(self, item: Item) -> None:
        with self._cond:
            self._release(item.host)
            self._cond.notify()  # one slot freed: one worker is enough

    def defer(self, item: Item, until: float) -> None:
        """Put ``item`` back: it is taken again no sooner than ``until`` (a ``clock`` time)."""
        with self._cond:
            item.deferrals += 1
            self._release(item.host)
            heapq.heappush(self._later, (until, next(self._seq), item))
            self._cond.notify()  # a worker re-reads the next wake-up time

    def close(self) -> list[Item]:
        """Stop handing out items; returns those never taken (their leases are to be released)."""
        with self._cond:
            self._closed = True
            left = [it for q in self._queues.values() for it in q] + [it for _, _, it in self._later]
            self._queues.clear()
            self._later.clear()
            self._queued = 0
            self._cond.notify_all()
            return left

    # ---- internals (called with the lock held) -------------------------------------------------

    def _eligible(self, host: Hashable) -> bool:
        return bool(self._queues.get(host)) and host not in self._waiting_hosts and (
            host is None or self._inflight.get(host, 0) < self._per_host)

    def _offer(self, host: Hashable) -> None:
        if host not in self._in_ring and self._eligible(host):
            self._ring.append(host)
            self._in_ring.add(host)

    def _release(self, host: Hashable) -> None:
        left = self._inflight.get(host, 0) - 1
        if left > 0:
            self._inflight[host] = left
        else:
            self._inflight.pop(host, None)
        self._offer(host)

    def _next_ready(self, now: float) -> Item | None:
        while self._later and self._later[0][0] <= now:  # deferred items whose time has come go first
            _, _, item = heapq.heappop(self._later)
            self._queues.setdefault(item.host, deque()).appendleft(item)
            self._queued += 1
            self._offer(item.host)
        while self._host_wait and self._host_wait[0][0] <= now:
            _, _, host = heapq.heappop(self._host_wait)
            self._waiting_hosts.discard(host)
            self._offer(host)
        while self._ring:
            host = self._ring.popleft()
            self._in_ring.discard(host)
            if not self._eligible(host):
                continue
            if host is not None:
                ready = self._ready_at(host)
                if ready > now:
                    heapq.heappush(self._host_wait, (ready, next(self._seq), host))
                    self._waiting_hosts.add(host)
                    continue
            queue = self._queues[host]
            item = queue.popleft()
            if not queue:
                del self._queues[host]
            self._queued -= 1
            self._inflight[host] = self._inflight.get(host, 0) + 1
            self._offer(host)  # round robin: back at the end of the ring if it can take more
            return item
        return None
