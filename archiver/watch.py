"""Watching links that still work: re-check captured targets on a cadence, keep the history.

Each due target (``next_check_at`` passed; or never scheduled and not checked for a
whole cadence) is fetched once through the Recorder (so the check itself is in
the WARC) and gets a ``LinkCheck`` row and a ``Target.watch_state``:

* ``alive``: 2xx with the payload of the latest capture (sha256);
* ``changed``: 2xx with another payload: the check's own response becomes a new
  Capture (role ``target``, not fetched again) and the page's requisites are
  fetched and saved under it, so the new version replays as it looked; every
  earlier capture is kept;
* ``moved``: a redirect to another URL;
* ``dead``: 4xx, DNS failure or refused connection, or a page that is no longer
  evidence (parked, soft 404); ``dead_since`` is the first time it was seen dead;
* ``recovered``: dead, and a web archive's copy was written into our WARC
  (tried once, when we hold no archive copy yet).

The same step asks the shortener again about short links an archive resolved when the
shortener did not answer (:mod:`archiver.resolve.recheck`; counts under ``live``).

A transient failure (429, 5xx, timeout) is logged as state ``error`` in LinkCheck and
changes nothing else. The next check is ``watch.recheck_days`` later plus a stable
per-target spread (``persist.schedule_watch``), so not every link comes due the same night.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Callable
from urllib.parse import urljoin

from sqlalchemy import and_, or_, select

from . import persist
from .capture import page_requisites
from .db.base import utcnow
from .db.tables import CAPTURED, Capture, LinkCheck, Target
from .errors import FetchError, FetchRefused, FetchTimeout
from .evidence import check_evidence
from .model import CaptureResult, Outcome

log = logging.getLogger(__name__)

STATES = ("alive", "changed", "moved", "dead", "recovered")
TRANSIENT = "error"
MAX_SAME_URL_HOPS = 3


def due_clause(now: datetime, cadence: timedelta):
    """SQL: a target is due for a re-check at ``now``."""
    return and_(Target.status == CAPTURED,
                or_(Target.next_check_at <= now,
                    and_(Target.next_check_at.is_(None),
                         or_(Target.last_checked_at.is_(None), Target.last_checked_at <= now - cadence),
                         Target.updated_at <= now - cadence)))


def due_query(now: datetime, cadence: timedelta):
    return (select(Target.id).where(due_clause(now, cadence))
            .order_by(Target.next_check_at.is_(None), Target.next_check_at, Target.id))


def _same_place(a: str, b: str) -> bool:
    """http/https, www. and a trailing slash do not make a move."""
    from .resolve.cdx import split_url
    ha, pa, qa = split_url(a)
    hb, pb, qb = split_url(b)
    return (ha, pa.rstrip("/") or "/", qa) == (hb, pb.rstrip("/") or "/", qb)


def _latest_capture(session, target: Target) -> Capture | None:
    return session.scalars(select(Capture).where(Capture.target_id == target.id, Capture.role == "target",
                                                 Capture.not_evidence.is_(False))
                           .order_by(Capture.captured_at.desc(), Capture.id.desc()).limit(1)).first()


def _has_archive_copy(session, target: Target) -> bool:
    return session.scalar(select(Capture.id).where(Capture.target_id == target.id, Capture.role == "target",
                                                   Capture.source == "archive",
                                                   Capture.not_evidence.is_(False)).limit(1)) is not None


def _as_capture(ex, recorder, settings) -> CaptureResult:
    """The check's own 2xx response as a capture, with the page's requisites fetched now."""
    requisites = page_requisites(ex.url, ex, recorder=recorder, settings=settings)
    return CaptureResult(Outcome.CAPTURED, response=ex.warc, requisites=requisites, final_url=ex.url,
                         reason="truncated" if ex.truncated else None)


def check_target(session, target: Target, *, recorder, client, settings, now: datetime,
                 recover: Callable | None = None) -> str:
    """Re-check one target; writes LinkCheck (+ Capture when changed or recovered). Returns the state."""
    url = target.final_url or target.url
    latest = _latest_capture(session, target)
    status = final = sha = None
    note = None
    state: str
    try:
        ex = recorder.fetch(url)
        for _ in range(MAX_SAME_URL_HOPS):  # http->https or a trailing slash is not a move
            loc = ex.headers.get("Location") if 300 <= ex.status < 400 else None
            if not loc or not _same_place(urljoin(ex.url, loc), url):
                break
            ex = recorder.fetch(urljoin(ex.url, loc))
        status, final, sha = ex.status, ex.url, ex.sha256
        if 300 <= ex.status < 400:
            final = urljoin(ex.url, ex.headers.get("Location") or "")
            state, note = "moved", f"now redirects to {final}"
        elif 200 <= ex.status < 300:
            why = check_evidence(ex, url=url)
            if why:
                state, note = "dead", why
                session.add(persist.capture_row(ex.warc, role="target", target_id=target.id, run_id=None,
                                                not_evidence_reason=why))
            elif latest is not None and latest.sha256 == ex.sha256:
                state = "alive"
            else:
                state, note = "changed", "payload differs from the latest capture; captured again"
                persist.save_capture(session, target, _as_capture(ex, recorder, settings), run_id=None)
        elif ex.status == 429 or ex.status >= 500:
            state, note = TRANSIENT, f"HTTP {ex.status}"
        else:
            state, note = "dead", f"HTTP {ex.status}"
    except FetchTimeout as exc:
        state, note = TRANSIENT, f"timeout: {exc}"
    except FetchRefused as exc:
        state, note = "dead", f"refused: {exc}"
    except FetchError as exc:
        state, note = "dead", str(exc)

    if state == "dead":
        target.dead_since = target.dead_since or now
        with session.no_autoflush:  # no SQLite write lock may be held while the sink records a recovery
            archived = target.watch_state == "recovered" or _has_archive_copy(session, target)
        if archived:
            state = "recovered"
        elif recover is not None:
            rec = recover(url, at=latest.captured_at if latest is not None else None)
            if rec is not None and rec.outcome is Outcome.CAPTURED and rec.response is not None \
                    and not rec.not_evidence_reason:
                persist.save_capture(session, target, rec, run_id=None)
                state, note = "recovered", f"{note}; recovered from {rec.archive_name}"
    elif state in ("alive", "changed"):
        target.dead_since = None
    session.add(LinkCheck(target_id=target.id, checked_at=now, http_status=status, final_url=final, sha256=sha,
                          state=state, note=note))
    if state != TRANSIENT:
        target.watch_state = state
    target.last_checked_at = now
    persist.schedule_watch(target, settings, now)
    return state


def by_host_turns(rows) -> list[int]:
    """Target ids ordered one host after another (round robin), so that a report citing many pages
    of one site does not hold every worker on that site's politeness limit. Pure."""
    from .capture.gate import host_of

    queues: dict[str, list[int]] = {}
    for tid, url, final_url in rows:
        queues.setdefault(host_of(final_url or url), []).append(tid)
    out: list[int] = []
    lanes = [list(reversed(q)) for q in queues.values()]
    while lanes:
        nxt = []
        for q in lanes:
            out.append(q.pop())
            if q:
                nxt.append(q)
        lanes = nxt
    return out


def due_ids(session, now: datetime, settings, limit: int | None = None) -> list[int]:
    """Every target due for a re-check at ``now``, one host after another (:func:`by_host_turns`)."""
    q = due_query(now, timedelta(days=settings.watch.recheck_days)).with_only_columns(
        Target.id, Target.url, Target.final_url)
    return by_host_turns(session.execute(q.limit(limit) if limit else q).all())


def archive_recovery(settings, *, client, recorder, session_factory) -> Callable | None:
    """``recover(url, at=None)`` for :func:`check_target`: a dead link's copy from the web archives."""
    if not (settings.resolver.archives or settings.resolver.mementos):
        return None
    from .capture.fallback import recover_from_archives

    def recover(url, at=None):
        return recover_from_archives(url, client=client, recorder=recorder, settings=settings,
                                     session_factory=session_factory, at=at)
    return recover


def recheck_one(session_factory, tid: int, *, recorder, client, settings, now: datetime,
                recover: Callable | None = None) -> str | None:
    """Re-check one target in a session of its own and commit; its state, or None when the target is
    gone or the check failed on a bug (logged: one link must not stop the watch of the others)."""
    with session_factory() as session:
        target = session.get(Target, tid)
        if target is None:
            return None
        try:
            state = check_target(session, target, recorder=recorder, client=client, settings=settings,
                                 now=now, recover=recover)
            session.commit()
        except Exception:
            session.rollback()
            log.error("watch: re-check of target %s failed", tid, exc_info=True)
            return None
    return state


def recheck_due(session_factory, *, recorder, client, settings, now: datetime | None = None,
                limit: int | None = None) -> dict:
    """Re-check every due target (at most ``limit``); counts by state.

    ``fetch.concurrency`` targets at a time, each in a session of its own, taken host after host;
    the recorder's host gate keeps ``fetch.per_host_concurrency`` and the politeness delay, as in
    the capture stage. (A distributed pass sends each due target to the workers instead:
    distributed/enqueue.py.)"""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    now = now or utcnow()
    with session_factory() as session:
        ids = due_ids(session, now, settings, limit)
    counts = {s: 0 for s in STATES + (TRANSIENT,)}
    counts["checked"] = 0
    lock = threading.Lock()
    recover = archive_recovery(settings, client=client, recorder=recorder, session_factory=session_factory)

    def one(tid: int) -> None:
        state = recheck_one(session_factory, tid, recorder=recorder, client=client, settings=settings,
                            now=now, recover=recover)
        if state is None:
            return
        with lock:
            counts[state] += 1
            counts["checked"] += 1

    workers = max(1, min(settings.fetch.concurrency, len(ids)))
    if ids:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="watch") as pool:
            for _ in pool.map(one, ids):
                pass
    from .resolve.recheck import recheck_due as recheck_live_due

    counts["live"] = recheck_live_due(session_factory, recorder=recorder, settings=settings, now=now, limit=limit)
    return counts
