"""Per-host limits for every fetch of a pass, and each host's readiness for the work scheduler.

:class:`HostGate` keeps, per host: at most ``per_host`` requests in flight, at least
``delay_s`` between two request starts (politeness), and a *not ready before* time set
when the host refused us for a while (429, or 503, with ``Retry-After`` in seconds or as
an HTTP date, or a short backoff without one). The pass's scheduler (archiver/hostqueue.py)
asks :meth:`HostGate.ready_at` and runs other hosts' work meanwhile.

:class:`GatedRecorder` is the Recorder behind the gate. A refusal whose wait is within
``fetch.max_retry_wait_s`` marks its host not ready; in a pipeline item (the
:func:`deferrable` context) the fetch then raises :class:`~archiver.errors.HostNotReady`
and the item is put back and run again in the same pass when the host is ready, so no
thread sleeps on it. A longer wait, or a URL refused ``MAX_IN_PASS_RETRIES`` times, is
returned as the answer it is: the stage records the failure and ``next_try_at``
(Retry-After honoured) for a later pass. Outside a pipeline item (the watch step,
``capture_many``) a fetch to a host that is not ready waits for it.
"""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator
from urllib.parse import urlsplit

from ..errors import HostNotReady

REFUSAL_STATUSES = (429, 503)
MAX_IN_PASS_RETRIES = 4  # a host that keeps saying "in a second" is left for a later pass
BACKOFF_S = 1.0  # without Retry-After: 1, 2, 4, 8 s (each within fetch.max_retry_wait_s)

_local = threading.local()


@contextmanager
def deferrable() -> Iterator[None]:
    """Fetches on this thread may raise HostNotReady instead of waiting (set by the pipeline)."""
    prev = getattr(_local, "deferrable", False)
    _local.deferrable = True
    try:
        yield
    finally:
        _local.deferrable = prev


def _deferring() -> bool:
    return getattr(_local, "deferrable", False)


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def refusal_wait(status: int, retry_after_s: float | None, retries: int, max_wait_s: float) -> float | None:
    """Seconds to wait before asking again within this pass, or None (leave it to a later pass). Pure."""
    if status not in REFUSAL_STATUSES or retries >= MAX_IN_PASS_RETRIES:
        return None
    wait = retry_after_s if retry_after_s is not None else BACKOFF_S * 2 ** retries
    return wait if wait <= max_wait_s else None


class HostGate:
    """Per-host concurrency, politeness delay and not-ready-until times (all in ``clock`` seconds).

    With ``slots`` (Celery workers, distributed/slots.py) each request also holds one of the host's
    slots shared by every process, so the limits hold across workers and machines."""

    def __init__(self, per_host: int, delay_s: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, slots=None):
        self._slots = slots  # shared with other processes (distributed/slots.py), or None
        self._per_host = per_host
        self._delay = delay_s
        self._clock = clock
        self._sleep = sleep
        self._cond = threading.Condition()
        self._active: dict[str, int] = {}
        self._next: dict[str, float] = {}  # politeness: earliest next request start
        self._until: dict[str, float] = {}  # refusals: not ready before

    @property
    def per_host(self) -> int:
        return self._per_host

    def ready_at(self, host: str) -> float:
        """When a request to ``host`` may start (a time in the past when it may now)."""
        with self._cond:
            return max(self._next.get(host, 0.0), self._until.get(host, 0.0))

    def defer(self, host: str, until: float) -> None:
        """``host`` takes no request before ``until``."""
        with self._cond:
            self._until[host] = max(until, self._until.get(host, 0.0))

    def run(self, url: str, fn: Callable):
        host = host_of(url)
        with self._cond:
            while self._active.get(host, 0) >= self._per_host:
                self._cond.wait()
            self._active[host] = self._active.get(host, 0) + 1
        try:
            self._wait_turn(host, url)
            if self._slots is None:
                return fn()
            with self._slots.hold(host):  # the host's limits across every worker, too
                return fn()
        finally:
            with self._cond:
                left = self._active[host] - 1
                if left:
                    self._active[host] = left
                else:
                    del self._active[host]
                self._cond.notify_all()

    def _wait_turn(self, host: str, url: str) -> None:
        """Wait out the host's refusal (or raise HostNotReady) and politeness delay; take a start slot."""
        while True:
            with self._cond:
                now = self._clock()
                until = self._until.get(host)
                if until is not None and until <= now:
                    del self._until[host]
                    until = None
                if until is None:
                    start = self._next.get(host, now)
                    if start <= now:
                        if self._delay > 0:
                            self._next[host] = now + self._delay
                        else:
                            self._next.pop(host, None)
                        return
                    wait = start - now
                else:
                    if _deferring():
                        raise HostNotReady(f"{host} is not ready for {until - now:.1f} s", host=host, until=until,
                                           url=url)
                    wait = until - now
            self._sleep(wait)


class GatedRecorder:
    """The Recorder's fetch, through the host gate (redirects and requisites included)."""

    def __init__(self, recorder, gate: HostGate, *, clock: Callable[[], float] = time.monotonic):
        self._recorder = recorder
        self._gate = gate
        self._clock = clock
        self._refused: dict[str, int] = {}  # url -> refusals waited out in this pass
        self._lock = threading.Lock()
        self.settings = recorder.settings
        self.sink = recorder.sink
        self.client = recorder.client

    @property
    def gate(self) -> HostGate:
        return self._gate

    def fetch(self, url: str, **kwargs):
        ex = self._gate.run(url, lambda: self._recorder.fetch(url, **kwargs))
        if ex.status not in REFUSAL_STATUSES:
            if self._refused:
                with self._lock:
                    self._refused.pop(url, None)
            return ex
        from ..resolve.live import parse_retry_after  # the one Retry-After parser (seconds or HTTP date)

        with self._lock:
            retries = self._refused.get(url, 0)
            wait = refusal_wait(ex.status, parse_retry_after(ex.headers.get("Retry-After")), retries,
                                self.settings.fetch.max_retry_wait_s)
            if wait is None:
                self._refused.pop(url, None)
                return ex  # a long wait, or refused too often: the stage records it for a later pass
            deferring = _deferring()
            if deferring:
                self._refused[url] = retries + 1
        host = host_of(url)
        until = self._clock() + wait
        self._gate.defer(host, until)  # the host's other work waits too
        if deferring:
            raise HostNotReady(f"{url} answered {ex.status}: retrying in {wait:.1f} s", host=host, until=until,
                               url=url)
        return ex
