"""The batch writer's target rows (persist.begin_batch / finish_batch): each target's changes written, an
unchanged one left alone (its updated_at kept), on both databases."""
from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import select

from archiver import persist
from archiver.db.base import utcnow
from archiver.db.tables import Target


def _targets(Session, n):
    with Session() as s:
        s.add_all([Target(url=f"http://example.org/{i}", url_hash=f"{i:064x}") for i in range(n)])
        s.commit()
        return [t.id for t in s.scalars(select(Target).order_by(Target.id))]


def test_changed_targets_are_written_as_the_orm_would_and_unchanged_ones_are_left_alone(Session):
    a, b, c = _targets(Session, 3)
    with Session() as s:
        before = {t.id: t.updated_at for t in s.scalars(select(Target))}
    time.sleep(0.01)  # (updated_at must be seen to move)
    when = utcnow() + timedelta(days=3)
    with Session() as s:
        persist.begin_batch(s)
        ta, tb, tc = (s.get(Target, i) for i in (a, b, c))
        ta.status, ta.stage, ta.status_reason, ta.next_check_at = "captured", "extract", None, when
        ta.attempts, ta.lease_owner = 0, None
        tb.status, tb.attempts, tb.status_reason = "failed", 2, "HTTP 503; none"  # another set of columns
        tc.status = tc.status  # set, but not changed: no UPDATE, updated_at kept
        persist.finish_batch(s)
        s.commit()
    with Session() as s:
        ta, tb, tc = (s.get(Target, i) for i in (a, b, c))
        assert (ta.status, ta.stage, ta.status_reason, ta.attempts) == ("captured", "extract", None, 0)
        assert abs((ta.next_check_at - when).total_seconds()) < 1e-3 and ta.next_check_at.tzinfo is not None
        assert (tb.status, tb.attempts, tb.status_reason, tb.stage) == ("failed", 2, "HTTP 503; none", "resolve")
        assert ta.updated_at > before[a] and tb.updated_at > before[b]  # onupdate, as in a flush
        assert tc.updated_at == before[c] and tc.status == "pending"
