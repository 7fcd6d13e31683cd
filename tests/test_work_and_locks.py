"""The work queue and the run lock, on SQLite and PostgreSQL."""
from datetime import timedelta

import pytest

from archiver.db import locks, work
from archiver.db.base import utcnow
from archiver.db.tables import Lock, Run, Target
from archiver.errors import LockHeld
from archiver.persist import url_hash


def _targets(Session, n):
    with Session() as s:
        for i in range(n):
            url = f"https://example.org/{i}"
            s.add(Target(url=url, url_hash=url_hash(url), is_short=True))
        s.commit()


def test_claims_do_not_overlap(Session):
    _targets(Session, 10)
    with Session() as s:
        a = work.claim(s, "resolve", "host:1", limit=4)
    with Session() as s:
        b = work.claim(s, "resolve", "host:2", limit=10)
    assert len(a) == 4 and len(b) == 6 and not set(a) & set(b)
    with Session() as s:
        assert work.claim(s, "resolve", "host:3", limit=10) == []


def test_expired_lease_is_claimed_again_and_retry_time_respected(Session):
    _targets(Session, 2)
    past = utcnow() - timedelta(hours=1)
    with Session() as s:
        t1, t2 = s.query(Target).order_by(Target.id).all()
        t1.lease_owner, t1.lease_until = "elsewhere:1", past  # a worker that died long ago
        t2.next_try_at = utcnow() + timedelta(hours=1)  # backing off
        s.commit()
        ids = work.claim(s, "resolve", "me:1", limit=10)
    assert ids == [t1.id]


def test_dead_local_process_leases_are_released(Session):
    import socket

    _targets(Session, 1)
    dead = f"{socket.gethostname()}:999999"
    with Session() as s:
        t = s.query(Target).one()
        t.lease_owner, t.lease_until = dead, utcnow() + timedelta(hours=1)
        s.add(Run(kind="run", worker=dead, status="running"))
        s.commit()
        assert work.release_dead_leases(s) == 1
        assert s.query(Run).one().status == "interrupted"
        assert work.claim(s, "resolve", "me:1", limit=5) == [t.id]


def test_lock_excludes_a_second_holder_and_is_released(Session):
    with locks.held(Session, "pipeline", 60, owner="host-a:1"):
        with pytest.raises(LockHeld) as exc:
            with locks.held(Session, "pipeline", 60, owner="host-b:2"):
                pass
        assert "host-a:1" in str(exc.value)
    with locks.held(Session, "pipeline", 60, owner="host-b:2"):
        pass
    with Session() as s:
        assert s.query(Lock).count() == 0


def test_expired_lock_is_taken_over(Session):
    with Session() as s:
        s.add(Lock(name="pipeline", owner="gone:1", expires_at=utcnow() - timedelta(seconds=1)))
        s.commit()
        assert locks.acquire(s, "pipeline", "me:1", 60)
        assert not locks.acquire(s, "pipeline", "other:2", 60)


def test_backoff_grows_and_honours_retry_after():
    assert work.backoff_delay(1, 60).total_seconds() == 60
    assert work.backoff_delay(3, 60).total_seconds() == 240
    assert work.backoff_delay(1, 60, retry_after_s=600).total_seconds() == 600
