"""Which URLs have been captured before: a URL never captured needs no revisit look-up.

A revisit record is written only for a URL captured before with the same payload, so most
captures of a first pass ask the database for nothing. At once when the database holds at most
``small`` captures (reading them costs less than a few dozen queries), else after ``after``
look-ups in a pass (so a small pass on a big database pays nothing), the first 64 bits of every capture's
``url_hash`` are read once into a sorted array (8 bytes a capture; a database of more than
``max_loaded`` captures skips this and always asks), and a URL whose prefix is not there,
nor among those this process recorded since, is known to be new. A prefix shared by two URLs
only means one query more. The set of prefixes added in the pass is bounded too: past
``max_added`` the filter stands aside and every look-up asks the database, as without it.
"""
from __future__ import annotations

import threading
from array import array
from bisect import bisect_left
from typing import Callable, Iterable


def _prefix(url_hash_hex: str) -> int:
    return int(url_hash_hex[:16], 16)


class KnownUrls:
    def __init__(self, load: Callable[[], Iterable[str]], count: Callable[[], int], *, after: int = 200,
                 small: int = 10_000, max_loaded: int = 5_000_000, max_added: int = 100_000):
        self._load, self._count = load, count
        self._after, self._small, self._max_loaded, self._max_added = after, small, max_loaded, max_added
        self._size: int | None = None  # captures in the database when first asked
        self._lock = threading.Lock()
        self._asked = 0
        self._sorted: array | None = None
        self._added: set[int] = set()
        self._off = False  # too big to hold: every look-up asks the database

    def may_have(self, url_hash_hex: str) -> bool:
        """False only when the URL was surely never captured (no query needed)."""
        loaded = self._sorted
        if loaded is None:
            if not self._ready():
                return True
            loaded = self._sorted
        if self._off or loaded is None:
            return True
        key = _prefix(url_hash_hex)
        i = bisect_left(loaded, key)
        return (i < len(loaded) and loaded[i] == key) or key in self._added

    def add(self, url_hash_hex: str) -> None:
        """A capture this process has just recorded (before its row may be committed)."""
        with self._lock:
            if self._off or self._sorted is None:
                return
            self._added.add(_prefix(url_hash_hex))
            if len(self._added) > self._max_added:
                self._off, self._added = True, set()

    def _ready(self) -> bool:
        with self._lock:
            if self._sorted is not None or self._off:
                return True
            self._asked += 1
            if self._size is None:
                self._size = self._count()
            if self._asked < self._after and self._size > self._small:
                return False
            if self._size > self._max_loaded:
                self._off = True
                return True
            self._sorted = array("Q", sorted({_prefix(h) for h in self._load() if h}))
            return True
