"""HostQueue's low-water call: the pass refills its window when workers have taken it, not only when
a result comes back (a result waits for its batch to be written: batchwriter.LINGER_S)."""
from __future__ import annotations

from archiver.hostqueue import HostQueue, Item


def test_a_take_that_leaves_the_queue_low_calls_on_low_once_until_refilled():
    calls = []
    q = HostQueue(per_host=10, low=2, on_low=lambda: calls.append(q.waiting))
    for i in range(4):
        q.put(Item(i, "a"))
    assert q.take(0) and q.take(0) and calls == []  # 2 left: not below 2
    assert q.take(0) and calls == [1]  # 1 left: the feeder is told (the lock is re-entrant for it)
    assert q.take(0) and calls == [1]  # told once until the next put
    q.put(Item(9, "a"))
    assert q.take(0) and calls == [1, 0]


def test_without_on_low_nothing_is_called_and_items_flow():
    q = HostQueue(per_host=1)
    q.put(Item(1, "a"))
    assert q.take(0).target_id == 1 and q.take(0) is None
