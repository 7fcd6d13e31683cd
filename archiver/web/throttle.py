"""Failed logins and wrong tokens slow down, per client address (both origins, each in its own process).

A client address that gave ``FAILURES`` wrong tokens is answered 429 with ``Retry-After`` for any
credential it sends until its window has room again; its credentials are not even checked meanwhile,
so blocking tells nothing about them. IPv6 clients count per /64 (one host usually has a whole /64).
Moving windows from the ``limits`` library, in memory.
"""
from __future__ import annotations

import ipaddress
import math
import threading
import time
from typing import Callable, TypeVar

from limits import parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

T = TypeVar("T")
FAILURES = "10/minute;100/day"  # wrong tokens a client address may send: 300 guesses now take over two days


def client_key(address: str | None) -> str:
    try:
        ip = ipaddress.ip_address((address or "").split("%")[0])
    except ValueError:
        return address or "?"
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class Failures:
    def __init__(self, spec: str = FAILURES):
        self.limits = parse_many(spec)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
        self._lock = threading.Lock()

    def check(self, address: str | None, verify: Callable[[], T | None]) -> tuple[T | None, int]:
        """``(verify(), 0)``, a None result counted as a failure; or ``(None, seconds to wait)`` without
        calling ``verify`` when this client is blocked. One at a time, so that concurrent guesses cannot
        all pass the test before any is counted."""
        with self._lock:
            wait = self.wait_s(address)
            if wait:
                return None, wait
            result = verify()
            if result is None:
                self.failed(address)
            return result, 0

    def wait_s(self, address: str | None) -> int:
        """Seconds this client must wait before its credentials are looked at again (0: go ahead)."""
        key = client_key(address)
        wait = 0.0
        for item in self.limits:
            if not self.limiter.test(item, "auth", key):
                reset = self.limiter.get_window_stats(item, "auth", key).reset_time
                wait = max(wait, reset - time.time())
        return max(1, math.ceil(wait)) if wait > 0 else 0

    def failed(self, address: str | None) -> None:
        key = client_key(address)
        for item in self.limits:
            self.limiter.hit(item, "auth", key)


__all__ = ["Failures", "FAILURES", "client_key"]
