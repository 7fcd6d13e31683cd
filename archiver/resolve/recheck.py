"""Ask the shortener again about links an archive resolved when the shortener did not answer.

When live resolution fails (DNS, refused, reset, TLS, timeout, 5xx, rate limit, loops...) the
resolve stage uses an archive's answer in the same pass and sets ``Target.live_retry_at``
(:func:`archiver.persist.schedule_live_retry`). The watch step calls :func:`recheck_due` on
every pass: each due link is resolved live again, hop by hop, as a new ``resolve`` attempt
(its hops are kept beside the archive's), and the two answers are compared:

* ``agree``: the shortener names the same target as the archive (:func:`same_target`);
* ``disagree``: it names another one; flagged in ``show``, the web UI and the export summary;
* ``dead``: it now says the link does not exist; no further re-tries;
* ``failed`` / ``refused``: re-tried later, doubling the delay, at most ``resolver.live_retries``.

Once a shortener host has failed in a pass, its other due links wait for the next pass
(``skipped``, not counted as tries): a stalled or rate-limiting shortener costs one timeout
per pass, not one per link.

The archive's answer stays the one in use (``final_url``, the captures): it is what the
report's link led to when it was archived, and a disagreement is for a person to judge.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Callable

from sqlalchemy import select

from .. import persist
from ..db.base import utcnow
from ..db.tables import Target
from ..ingest.links import normalize
from . import host_port
from .cdx import split_url

log = logging.getLogger(__name__)

OUTCOMES = ("agree", "disagree", "dead", "failed", "refused", "skipped")


def same_target(a: str | None, b: str | None) -> bool:
    """Two answers name the same target: equal after normalisation (scheme and host case, default
    port, fragment), where http/https and a leading ``www.`` do not make another target either."""
    if not a or not b:
        return False
    try:
        return split_url(normalize(a)) == split_url(normalize(b))
    except ValueError:
        return a == b


def due_query(now: datetime):
    return (select(Target.id).where(Target.live_retry_at.is_not(None), Target.live_retry_at <= now)
            .order_by(Target.live_retry_at, Target.id))


def recheck_target(session, target: Target, *, recorder, settings, now: datetime,
                   sleep: Callable[[float], None] = time.sleep) -> str:
    """One live re-try of one archive-resolved link; its hops and attempt are recorded."""
    from . import resolve_live

    started = utcnow()
    res = resolve_live(target.url, recorder=recorder, settings=settings, sleep=sleep)
    attempt = max((h.attempt for h in target.hops if h.stage == "resolve"), default=0) + 1
    persist.save_hops(session, target, res.hops, stage="resolve", attempt=attempt, run_id=None)
    agree = same_target(res.final_url, target.archived_target) if res.final_url else None
    outcome = persist.apply_live_answer(target, res, settings, agree=agree, now=now)
    persist.record_attempt(session, target, stage="resolve", outcome=f"live {outcome}", run_id=None,
                           started=started, error_type=res.error_type, message=target.live_note)
    return outcome


def recheck_due(session_factory, *, recorder, settings, now: datetime | None = None, limit: int | None = None,
                sleep: Callable[[float], None] = time.sleep) -> dict:
    """Re-try live every due archive-resolved link (at most ``limit``); counts by outcome."""
    now = now or utcnow()
    with session_factory() as session:
        q = due_query(now)
        ids = list(session.scalars(q.limit(limit) if limit else q))
    counts = {o: 0 for o in OUTCOMES}
    down: set[tuple[str, int | None]] = set()  # shortener hosts that failed in this pass
    for tid in ids:
        with session_factory() as session:
            target = session.get(Target, tid)
            if target is None:
                continue
            host = host_port(target.url)
            if host in down:
                counts["skipped"] += 1
                continue
            try:
                outcome = recheck_target(session, target, recorder=recorder, settings=settings, now=now, sleep=sleep)
                session.commit()
            except Exception:  # a bug on one link must not stop the others
                session.rollback()
                log.error("live re-try of target %s failed", tid, exc_info=True)
                continue
        if outcome == "failed":
            down.add(host)
        counts[outcome] += 1
    return counts
