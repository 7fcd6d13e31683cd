"""The work queue: targets carry their stage, a retry time and a lease.

Workers claim a batch with a lease (``lease_owner``/``lease_until``); on PostgreSQL
with ``FOR UPDATE SKIP LOCKED`` so several machines share the queue without
blocking each other; on SQLite the database write lock serialises claims.
A worker that dies leaves its lease to expire; a new run on the same host takes
over at once the leases of processes that no longer exist.
"""
from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

from sqlalchemy import Row, or_, select, update
from sqlalchemy.orm import Session

from .base import utcnow
from .tables import Run, Target


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def owner_is_dead(owner: str | None) -> bool:
    """True when the owner ran on this host and its process is gone."""
    if not owner or ":" not in owner:
        return False
    host, _, pid = owner.rpartition(":")
    return host == socket.gethostname() and pid.isdigit() and not _pid_alive(int(pid))


def release_dead_leases(session: Session) -> int:
    """Free leases and close runs left by crashed processes on this host."""
    freed = 0
    owners = session.scalars(select(Target.lease_owner).where(Target.lease_owner.is_not(None)).distinct()).all()
    for owner in owners:
        if owner_is_dead(owner):
            freed += session.execute(
                update(Target).where(Target.lease_owner == owner).values(lease_owner=None, lease_until=None)
            ).rowcount
    for run in session.scalars(select(Run).where(Run.status == "running")):
        if owner_is_dead(run.worker):
            run.status, run.finished_at = "interrupted", run.finished_at or utcnow()
            run.error = "the process ended without finishing (crash or kill); its work was resumed"
    session.commit()
    return freed


def _due(stage: str, now: datetime, due_before: datetime | None = None):
    due_before = due_before or now
    return (
        Target.stage == stage,
        Target.given_up.is_(False),
        or_(Target.next_try_at.is_(None), Target.next_try_at <= due_before),
        or_(Target.lease_until.is_(None), Target.lease_until < now),
    )


def count_due(session: Session, stage: str, now: datetime | None = None, *,
              due_before: datetime | None = None) -> int:
    from sqlalchemy import func

    now = now or utcnow()
    return session.scalar(select(func.count()).select_from(Target).where(*_due(stage, now, due_before))) or 0


def oldest_due(session: Session, stage: str, now: datetime | None = None) -> datetime | None:
    """Since when the longest-waiting due item of ``stage`` has waited: its retry time, else when its
    link was first seen (the lag /metrics shows); None when nothing is due."""
    from sqlalchemy import func

    now = now or utcnow()
    return session.scalar(select(func.min(func.coalesce(Target.next_try_at, Target.created_at)))
                          .where(*_due(stage, now)))


def claim(session: Session, stage: str, owner: str, *, limit: int, lease_s: float = 900.0,
          now: datetime | None = None, due_before: datetime | None = None) -> list[int]:
    """Lease up to `limit` due targets of `stage` to `owner`; returns their ids (committed).

    `due_before` (a pass's start time) keeps a pass from retrying within itself what it
    has just failed: only retries due when the pass began are taken."""
    return [row.id for row in claim_rows(session, stage, owner, limit=limit, lease_s=lease_s, now=now,
                                         due_before=due_before)]


def claim_rows(session: Session, stage: str, owner: str, *, limit: int, lease_s: float = 900.0,
               now: datetime | None = None, due_before: datetime | None = None) -> list[Row]:
    """As :func:`claim`, with what the scheduler needs to know of each (id, url, final_url, is_short)."""
    now = now or utcnow()
    query = select(Target.id).where(*_due(stage, now, due_before)).order_by(Target.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = list(session.scalars(query))
    if not ids:
        session.rollback()
        return []
    until = now + timedelta(seconds=lease_s)
    # Re-check the lease in the UPDATE itself so two SQLite writers cannot both win.
    session.execute(
        update(Target)
        .where(Target.id.in_(ids), or_(Target.lease_until.is_(None), Target.lease_until < now))
        .values(lease_owner=owner, lease_until=until)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return list(session.execute(
        select(Target.id, Target.url, Target.final_url, Target.is_short)
        .where(Target.id.in_(ids), Target.lease_owner == owner).order_by(Target.id)))


def claim_one(session: Session, target_id: int, stage: str, owner: str, *, lease_s: float = 900.0,
              now: datetime | None = None, due_before: datetime | None = None) -> bool:
    """Lease one target to `owner` if it is due in `stage` and nobody holds a live lease on it (a
    queued task's item: a task redelivered, or enqueued twice, finds it taken or done); committed.

    A lease left by a process of this host that no longer exists is taken over at once."""
    now = now or utcnow()
    return lease_one(session, target_id, owner, _due(stage, now, due_before), lease_s=lease_s, now=now)


def lease_one(session: Session, target_id: int, owner: str, conditions, *, lease_s: float = 900.0,
              now: datetime | None = None) -> bool:
    """Lease one target to `owner` when the SQL ``conditions`` hold of it and nobody holds a live lease
    (a lease of a dead process of this host is taken over); committed."""
    now = now or utcnow()
    held = session.scalar(select(Target.lease_owner).where(Target.id == target_id))
    if held and owner_is_dead(held):
        session.execute(update(Target).where(Target.id == target_id, Target.lease_owner == held)
                        .values(lease_owner=None, lease_until=None).execution_options(synchronize_session=False))
    n = session.execute(
        update(Target).where(Target.id == target_id, *conditions,
                             or_(Target.lease_until.is_(None), Target.lease_until < now))
        .values(lease_owner=owner, lease_until=now + timedelta(seconds=lease_s))
        .execution_options(synchronize_session=False)).rowcount
    session.commit()
    return n == 1


def release_one(session: Session, target_id: int, owner: str) -> None:
    """Give back `owner`'s lease on one target; committed."""
    session.execute(update(Target).where(Target.id == target_id, Target.lease_owner == owner)
                    .values(lease_owner=None, lease_until=None).execution_options(synchronize_session=False))
    session.commit()


def due_rows(session: Session, stage: str, *, due_before: datetime | None = None, batch: int = 1000):
    """(id, url, final_url) of every target due in `stage`, a batch at a time (a distributed pass
    enqueues them), in id order; never one parameter per row."""
    now = utcnow()
    last = 0
    while True:
        rows = session.execute(select(Target.id, Target.url, Target.final_url)
                               .where(*_due(stage, now, due_before), Target.id > last)
                               .order_by(Target.id).limit(batch)).all()
        session.rollback()
        if not rows:
            return
        yield from rows
        last = rows[-1][0]


def advance_plain_links(session: Session, now: datetime | None = None) -> int:
    """Move every due plain (not short) link of the resolve stage to capture at once; committed.

    What resolve_target does to each of them one by one (there is nothing to resolve), for the
    case where no manual override may apply (resolver.overrides unset): one statement instead
    of a session, a read and a commit per link."""
    now = now or utcnow()
    n = session.execute(update(Target).where(*_due("resolve", now), Target.is_short.is_(False))
                        .values(stage="capture").execution_options(synchronize_session=False)).rowcount
    session.commit()
    return n


def renew_leases(session: Session, owner: str, lease_s: float, now: datetime | None = None) -> int:
    """Extend every lease `owner` holds (items waiting in a long pass keep theirs); committed."""
    now = now or utcnow()
    n = session.execute(update(Target).where(Target.lease_owner == owner)
                        .values(lease_until=now + timedelta(seconds=lease_s))
                        .execution_options(synchronize_session=False)).rowcount
    session.commit()
    return n


def release_leases(session: Session, owner: str, ids: list[int] | None = None) -> int:
    """Hand back `owner`'s leases (all, or those of `ids`); committed."""
    q = update(Target).where(Target.lease_owner == owner)
    if ids is not None:
        q = q.where(Target.id.in_(ids))
    n = session.execute(q.values(lease_owner=None, lease_until=None)
                        .execution_options(synchronize_session=False)).rowcount
    session.commit()
    return n


def release(session: Session, target: Target) -> None:
    target.lease_owner = None
    target.lease_until = None


def backoff_delay(attempts: int, base_s: float, retry_after_s: float | None = None) -> timedelta:
    """Exponential backoff: base, 2×base, 4×base…; a server's Retry-After wins when longer."""
    delay = base_s * (2 ** max(attempts - 1, 0))
    if retry_after_s is not None:
        delay = max(delay, retry_after_s)
    return timedelta(seconds=min(delay, 30 * 86400))
