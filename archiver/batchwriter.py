"""The pass's one database writer: what the network half of a stage found, applied in batches.

Worker threads run the network half of resolve and capture (stages.SPLIT) holding no
session, and hand each result here. One thread turns results into rows, as many targets
per transaction as have arrived (up to ``max_batch``): one commit, one bulk read of the
targets and their attempt numbers, instead of a session, a commit and SQLite's write lock
taken by every worker for every item. If applying a batch raises, the batch is rolled back
and its items are applied one by one, so one bad item fails alone and nothing fetched is
lost (its WARC records are written; the item's rows are what is retried). A batch is taken
``LINGER_S`` after its first item arrives (or when ``max_batch`` are waiting, or at close).
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from . import persist
from .db import work
from .db.tables import Target
from .stages import SPLIT, Tools, last_attempts

log = logging.getLogger(__name__)

# a batch waits this long for more items after its first: each transaction's fixed cost (reading
# the targets and attempt numbers, the INSERTs, the commit) is then shared by more items; on issue
# 8's 1,000-page shape the pass's CPU went from 4.9 to 4.2 s (median of 4, bench/capture.py's shape)
LINGER_S = 0.05


@dataclass(frozen=True)
class Broken:
    """The network half raised (a bug or broken infrastructure): the item is failed with this."""

    exc: Exception


Result = tuple[str, "str | None"]  # (outcome, error message)


class BatchWriter:
    """Applies (item, found) pairs for one stage; ``put`` from any thread, results to ``on_result``."""

    def __init__(self, Session: sessionmaker, stage: str, tools: Tools, owner: str,
                 on_result: Callable[[Any, str, "str | None"], None], *, max_batch: int = 256):
        self._Session, self._stage, self._tools, self._owner = Session, stage, tools, owner
        self._apply = SPLIT[stage][1]
        self._on_result = on_result
        self._max = max_batch
        self._cond = threading.Condition()
        self._pending: deque = deque()
        self._busy = 0
        self._closed = False
        self.crash: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"{stage}-writer", daemon=True)
        self._thread.start()

    def put(self, item: Any, found: Any) -> None:
        with self._cond:
            self._pending.append((item, found))
            self._cond.notify()

    def idle(self) -> bool:
        with self._cond:
            return not self._pending and not self._busy

    def close(self) -> None:
        """Apply what is pending, then stop."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if not self._pending:
                    return
                deadline = time.monotonic() + LINGER_S  # more items per transaction (module doc)
                while len(self._pending) < self._max and not self._closed:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
                batch = [self._pending.popleft() for _ in range(min(self._max, len(self._pending)))]
                self._busy = len(batch)
            try:
                results = self._apply_batch(batch)
            except BaseException as exc:  # the database is gone: the pass stops (pipeline re-raises)
                self.crash = exc
                results = [("failed", f"{type(exc).__name__}: {exc}")] * len(batch)
            for (item, _), (outcome, error) in zip(batch, results):
                self._on_result(item, outcome, error)
            with self._cond:
                self._busy = 0
            if self.crash is not None:
                with self._cond:
                    for item, _ in self._pending:
                        self._on_result(item, "failed", "the pass stopped: database error")
                    self._pending.clear()
                return

    def _apply_batch(self, batch: list) -> list[Result]:
        try:
            with self._Session() as s:
                out = self._apply_all(s, batch)
                s.commit()
                return out
        except Exception:
            log.warning("applying a batch of %d %s results failed; applying them one by one",
                        len(batch), self._stage, exc_info=True)
        out = []
        for pair in batch:
            with self._Session() as s:
                try:
                    out += self._apply_all(s, [pair])
                    s.commit()
                except Exception as exc:  # this item's rows cannot be written: fail it alone
                    s.rollback()
                    out.append(self._fail(s, pair[0], exc))
        return out

    def _apply_all(self, s: Session, batch: list) -> list[Result]:
        ids = [item.target_id for item, _ in batch]
        persist.begin_batch(s)
        targets = {t.id: t for t in s.scalars(select(Target).where(Target.id.in_(ids)))}
        attempts = last_attempts(s, ids, self._stage)
        out: list[Result] = []
        for item, found in batch:
            target = targets.get(item.target_id)
            if target is None or target.lease_owner != self._owner:
                out.append(("skipped", None))
                continue
            if isinstance(found, Broken):
                out.append(self._failed(target, found.exc))
            else:
                outcome = self._apply(s, target, found, self._tools, attempts.get(target.id, 0) + 1)
                out.append((outcome, None))
            work.release(s, target)
        persist.finish_batch(s)
        return out

    def _failed(self, target: Target, exc: BaseException) -> Result:
        message = f"{self._stage} {target.url}: {type(exc).__name__}: {exc}"
        log.error("stage failed: %s", message, exc_info=exc)  # traceback only with --verbose
        persist.mark_failed(target, self._tools.settings, reason=f"{type(exc).__name__}: {exc}",
                            error_type=type(exc).__name__)
        return "failed", message

    def _fail(self, s: Session, item: Any, exc: Exception) -> Result:
        target = s.get(Target, item.target_id)
        if target is None:
            return "failed", f"{self._stage} {item.target_id}: {type(exc).__name__}: {exc}"
        result = self._failed(target, exc)
        work.release(s, target)
        s.commit()
        return result
