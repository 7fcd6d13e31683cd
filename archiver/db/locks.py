"""A named lock in the database: never two pipeline runs at once, across processes and machines.

Taken by inserting the row (primary key = name); a lock whose ``expires_at`` has
passed, or whose owner process on this host is gone, is taken over. The holder
renews it (heartbeat) while it works.
"""
from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta
from typing import Iterator

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError as SAIntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ..errors import LockHeld
from .base import utcnow
from .tables import Lock
from .work import owner_is_dead, worker_id


def acquire(session: Session, name: str, owner: str, ttl_s: float) -> bool:
    now = utcnow()
    existing = session.get(Lock, name)
    if existing is not None:
        if existing.owner != owner and existing.expires_at > now and not owner_is_dead(existing.owner):
            session.rollback()
            return False
        # expired, dead or ours: take it over only if nobody changed it meanwhile
        taken = session.execute(
            update(Lock).where(Lock.name == name, Lock.owner == existing.owner,
                               Lock.expires_at == existing.expires_at)
            .values(owner=owner, acquired_at=now, expires_at=now + timedelta(seconds=ttl_s))
        ).rowcount
        session.commit()
        return taken == 1
    session.add(Lock(name=name, owner=owner, acquired_at=now, expires_at=now + timedelta(seconds=ttl_s)))
    try:
        session.commit()
    except SAIntegrityError:
        session.rollback()
        return False
    return True


def renew(session: Session, name: str, owner: str, ttl_s: float) -> bool:
    n = session.execute(update(Lock).where(Lock.name == name, Lock.owner == owner)
                        .values(expires_at=utcnow() + timedelta(seconds=ttl_s))).rowcount
    session.commit()
    return n == 1


def release(session: Session, name: str, owner: str) -> None:
    session.execute(delete(Lock).where(Lock.name == name, Lock.owner == owner))
    session.commit()


def holder(session: Session, name: str) -> Lock | None:
    return session.get(Lock, name)


@contextmanager
def held(Session_: sessionmaker, name: str, ttl_s: float, owner: str | None = None) -> Iterator[str]:
    """Hold the lock for the block or raise LockHeld (one line naming the holder)."""
    owner = owner or worker_id()
    with Session_() as s:
        if not acquire(s, name, owner, ttl_s):
            lock = holder(s, name)
            who = f"{lock.owner} since {lock.acquired_at:%Y-%m-%d %H:%M:%SZ}" if lock else "another process"
            raise LockHeld(f"another run is in progress ({who}); not starting a second one")
    try:
        yield owner
    finally:
        with Session_() as s:
            release(s, name, owner)
