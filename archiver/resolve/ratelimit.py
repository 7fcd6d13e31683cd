"""Token buckets that keep us inside each web archive's published request rates.

The Internet Archive asks for at most ~30 CDX queries and ~600 replays a minute
and answers a 429 *without* Retry-After when a client goes faster; repeated 429s
lead to IP blocks.  So every archive gets one bucket for CDX queries
(``requests_per_s``, default 0.4) and one for replays (``REPLAY_RATE`` or the
archive's own rate when that is higher), shared by every caller in the process, and
held with other processes where several ask at once: a pass's fetch processes take
turns through shared memory (:class:`SharedRate`), processes on one Redis through it
(distributed/slots.py ``RedisRate``). An archive that cannot be reached at all is not
asked again for a while (:func:`mark_unreachable`).

A TokenBucket's clock and sleep are injectable so tests run with a fake clock and never wait.
"""
from __future__ import annotations

import threading
import time
from typing import Callable

REPLAY_RATE = 8.0  # req/s: 80% of the IA playback limit (600/min)


class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` saved up; ``acquire`` blocks until one is free."""

    def __init__(self, rate: float, burst: float = 1.0, *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        if rate <= 0:
            raise ValueError("rate must be > 0")
        self.rate = float(rate)
        self.burst = max(1.0, float(burst))
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.burst
        self._last = clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now

    def acquire(self) -> float:
        """Take one token, sleeping as long as needed; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                self._refill()
                if self._tokens >= 1.0:
                    self._tokens -= 1.0
                    return waited
                wait = (1.0 - self._tokens) / self.rate
            self._sleep(wait)
            waited += wait

    def penalise(self, seconds: float) -> None:
        """After a 429: nobody in this process gets a token for ``seconds``."""
        with self._lock:
            self._refill()
            self._tokens = min(self._tokens, 0.0) - seconds * self.rate


_BUCKETS: dict[tuple[str, str], TokenBucket] = {}
_BUCKETS_LOCK = threading.Lock()
_SHARED: Callable[[str, str, float], object] | None = None  # rates held with other processes (use_shared)


def use_shared(factory: Callable[[str, str, float], object] | None) -> None:
    """Hold every archive's rates with the other processes that share ``factory``'s store (Redis, for Celery
    workers: distributed/slots.py ``RedisHostSlots.rate_for``) instead of in this process alone; None: alone again."""
    global _SHARED
    with _BUCKETS_LOCK:
        if factory is None and _SHARED is None:
            return  # (nothing changes: the buckets keep what they hold)
        _SHARED = factory
        _BUCKETS.clear()


class SharedRate:
    """One archive's kind of request at ``rate`` a second across the processes that inherit ``turn`` (a
    ``multiprocessing.Value('d')`` holding the monotonic time the next request may start: CLOCK_MONOTONIC
    is one clock for every process of the machine). The interface of TokenBucket; one saved-up request."""

    def __init__(self, turn, rate: float, *, sleep: Callable[[float], None] = time.sleep):
        if rate <= 0:
            raise ValueError("rate must be > 0")
        self._turn, self._sleep = turn, sleep
        self.rate = float(rate)

    def acquire(self) -> float:
        """Take the next turn, sleeping as long as needed; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._turn.get_lock():
                now = time.monotonic()
                if self._turn.value <= now:
                    self._turn.value = now + 1.0 / self.rate
                    return waited
                wait = self._turn.value - now
            self._sleep(wait)
            waited += wait


def turns_for(settings, ctx) -> dict[tuple[str, str], object]:
    """Shared turns (``ctx.Value``) for every configured archive's kinds of request, made before helper
    processes start: pass them to each, which calls :func:`use_turns`."""
    names = [a.name for a in settings.resolver.archives] + [m.name for m in settings.resolver.mementos]
    return {(name, kind): ctx.Value("d", 0.0) for name in names for kind in ("cdx", "replay")}


def use_turns(turns: dict[tuple[str, str], object]) -> None:
    """This process asks the archives at the rates it shares with its siblings (the fetch processes of a pass,
    fetchlanes.py: a target's host decides its process, so every process may ask the same archive), unless
    its rates are already held elsewhere (Redis, :func:`use_shared`). An archive without a shared turn (none
    is configured under its name) is asked at its rate by this process alone."""
    if _SHARED is not None:
        return

    def rate_for(archive: str, kind: str, rate: float):
        turn = turns.get((archive, kind))
        return SharedRate(turn, rate) if turn is not None else TokenBucket(rate)
    use_shared(rate_for)


def bucket_for(archive: str, kind: str, rate: float) -> TokenBucket:
    """The process-wide bucket for (archive, kind), or the rate held with other processes (use_shared);
    recreated when its rate changes."""
    key = (archive, kind)
    with _BUCKETS_LOCK:
        b = _BUCKETS.get(key)
        if b is None or b.rate != rate:  # (use_shared empties _BUCKETS: every entry is of the current kind)
            b = _BUCKETS[key] = _SHARED(archive, kind, rate) if _SHARED is not None else TokenBucket(rate)
        return b


# archive -> (monotonic time until which it is not asked, wall-clock time it failed, why)
_UNREACHABLE: dict[str, tuple[float, float, str]] = {}


def mark_unreachable(archive: str, seconds: float, why: str, *, clock: Callable[[], float] = time.monotonic) -> None:
    """``archive`` could not be reached at all (its name does not resolve, nothing listens, the connection
    times out): nobody in this process asks it again for ``seconds``. Without this, every dead link of a
    pass waits its turn in the archive's rate limit (0.4 requests a second for the Internet Archive) only
    to fail the same way: 20 links took 98 s instead of 19 on a machine without the internet."""
    if seconds <= 0:
        return
    with _BUCKETS_LOCK:
        _UNREACHABLE[archive] = (clock() + seconds, time.time(), why)


def unreachable(archive: str, *, clock: Callable[[], float] = time.monotonic) -> tuple[float, float, str] | None:
    """(seconds left, when it failed as a Unix time, why) while ``archive`` is not to be asked, else None."""
    with _BUCKETS_LOCK:
        entry = _UNREACHABLE.get(archive)
        if entry is None:
            return None
        left = entry[0] - clock()
        if left <= 0:
            del _UNREACHABLE[archive]
            return None
        return left, entry[1], entry[2]


def reset() -> None:
    """Forget all buckets and unreachable archives, and take whole rates in this process alone (tests)."""
    global _SHARED
    with _BUCKETS_LOCK:
        _BUCKETS.clear()
        _UNREACHABLE.clear()
        _SHARED = None
