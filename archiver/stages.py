"""What each pipeline stage does to one target, given the collaborators it needs.

Resolve and capture come in two halves (``SPLIT``): a network half that fetches and
writes WARC records with no database session held, and a database half that records
the outcome through :mod:`archiver.persist` (the pipeline applies many targets per
transaction, batchwriter.py). Extract is one handler taking a session and a leased
target (``HANDLERS``, which also runs both halves of the others in one session).
Expected failures are data; only broken things raise.
"""
from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Callable, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from . import persist
from .config import Settings
from .db.base import utcnow
from .db.work import backoff_delay
from .db.tables import Activity, Capture, Extraction, Hop, Link, Report, Target
from .errors import HostNotReady
from .model import CaptureResult, Outcome, Resolution
from .store import open_store


ONCE_MAX = 8192  # finished results Tools.once remembers


@dataclass
class Tools:
    """The collaborators a stage may use, built once per run (see pipeline.make_tools)."""

    settings: Settings
    Session: sessionmaker
    client: Any
    sink: Any
    recorder: Any
    run_id: int | None = None
    probe: Callable[[str], Any] | None = None  # soft-404 probe (evidence.make_probe), or None
    sleep: Callable[[float], None] = time.sleep  # waits inside a resolution (rate-limit quick retries)
    browser: Any = None  # the pass's Chromium, made on first use (capture/browse.py), closed with the pass
    counters: dict = field(default_factory=dict)
    _once: dict = field(default_factory=dict)  # key -> [done Event, result, exception], oldest first
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def close(self) -> None:
        """End the pass's browser and WARC file (and the sink's own connection, where it has one)."""
        if self.browser is not None:
            self.browser.close()
        if hasattr(self.sink, "close"):
            self.sink.close()
            if getattr(self.sink, "db_connection", None) is not None:
                self.sink.db_connection.close()

    def count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self.counters[key] = self.counters.get(key, 0) + n

    def once(self, key: str, fn: Callable[[], Any]) -> tuple[Any, bool]:
        """Run fn once per key in this pass (two links to one target are fetched once).
        Returns (result, fresh): fresh is False for the callers that reuse the first result.

        Only the last ``ONCE_MAX`` finished results are remembered (memory stays flat over a pass
        of any size): a key asked again after that runs again, which costs a fetch, not evidence."""
        with self._lock:
            slot = self._once.get(key)
            if slot is None:
                slot = self._once[key] = [threading.Event(), None, None]
                mine = True
                if len(self._once) > ONCE_MAX:
                    self._forget_oldest()
            else:
                mine = False
        if mine:
            try:
                slot[1] = fn()
            except BaseException as exc:
                slot[2] = exc
                if isinstance(exc, HostNotReady):  # defer: forgotten, so that the item's retry runs fn again
                    with self._lock:
                        if self._once.get(key) is slot:
                            del self._once[key]
                raise
            finally:
                slot[0].set()
            return slot[1], True
        slot[0].wait()
        if slot[2] is not None:
            raise slot[2]  # a HostNotReady defers the callers that waited, too
        return slot[1], False

    def _forget_oldest(self) -> None:
        """Drop the oldest finished results (called with the lock held); running ones stay."""
        for key in list(itertools.islice(self._once, len(self._once) - ONCE_MAX + ONCE_MAX // 8)):
            if self._once[key][0].is_set():
                del self._once[key]


def _cited_at(session: Session, target_id: int) -> datetime | None:
    """The earliest date an activity citing this target happened: where to look in the archives."""
    d = session.scalar(select(func.min(Activity.date_start)).join(Link, Link.activity_id == Activity.id)
                       .where(Link.target_id == target_id))
    if d is None:  # no dated activity: when the report came in
        return session.scalar(select(func.min(Report.ingested_at)).join(Activity).join(Link)
                              .where(Link.target_id == target_id))
    return datetime(d.year, d.month, d.day)


def _has_sources(settings: Settings) -> bool:
    r = settings.resolver
    return bool(r.archives or r.mementos or r.dumps or r.overrides)


def _attempt_no(target: Target, stage: str) -> int:
    return (max((h.attempt for h in target.hops if h.stage == stage), default=0)) + 1


def last_attempts(session: Session, target_ids: list[int], stage: str) -> dict[int, int]:
    """The last attempt number of ``stage`` for each target (absent: none yet), in one query."""
    if not target_ids:
        return {}
    return dict(session.execute(select(Hop.target_id, func.max(Hop.attempt))
                                .where(Hop.target_id.in_(target_ids), Hop.stage == stage)
                                .group_by(Hop.target_id)).all())


# Each network stage is split in two: ``*_fetch`` does the network work of one target and writes
# its WARC records, holding no database session (it may read through short sessions of its own);
# ``*_apply`` turns what it found into rows, in the pass's one writing session, many targets per
# transaction (pipeline.py). ``fetch`` takes anything with the claimed row's fields (id, url,
# final_url, is_short); ``apply`` the loaded Target.

class Snapshot(Protocol):
    id: int
    url: str
    final_url: str | None
    is_short: bool


# ---- resolve -------------------------------------------------------------------------------

@dataclass
class Resolved:
    """What resolving one short link found (resolve_fetch), for resolve_apply."""

    started: datetime
    res: Resolution | None  # None: a plain link, nothing to resolve
    hops: list = field(default_factory=list)
    live_retry: bool = False  # an archive answered for a shortener that failed: ask it again later
    live_retry_after_s: float | None = None


def resolve_fetch(snap: Snapshot, tools: Tools) -> Resolved:
    """Resolve a short link live; when the shortener does not give its target (any failure, a
    refusal, or "no such link"), ask the archives in the same pass (issue 8 §2).

    An archived answer is used with its provenance; when live resolution failed rather than said
    "dead", the shortener is asked again on later passes (``live_retry_at``, resolve/recheck.py)
    and both answers are kept. With no archived answer a failure is retried as before."""
    from .resolve import resolve_live
    from .resolve.sources import forced_override, resolve_from_archives

    settings, started = tools.settings, utcnow()
    res: Resolution | None = forced_override(snap.url, settings)
    if res is None and not snap.is_short:
        return Resolved(started, None)  # plain links are captured directly, redirects recorded there
    done = Resolved(started, res, list(res.hops) if res is not None else [])
    if res is None:  # (a forced manual override wins over every other source)
        live = done.res = resolve_live(snap.url, recorder=tools.recorder, settings=settings, sleep=tools.sleep)
        done.hops = list(live.hops)
        if live.outcome is not Outcome.RESOLVED:
            alt = resolve_from_archives(snap.url, client=tools.client, settings=settings,
                                        session_factory=tools.Session, recorder=tools.recorder)
            if alt is not None and alt.outcome is Outcome.RESOLVED:
                done.hops += alt.hops
                live_reason = f"live: {live.reason}" if live.reason else None
                done.res = replace(alt, reason="; ".join(r for r in (alt.reason, live_reason) if r) or None)
                if live.outcome is not Outcome.DEAD:  # the shortener may still answer: ask it again later
                    done.live_retry, done.live_retry_after_s = True, live.retry_after_s
            elif alt is not None and alt.outcome is Outcome.FAILED and live.outcome is Outcome.FAILED:
                done.res = replace(live, reason=f"{live.reason}; archives: {alt.reason}")
            elif alt is not None and alt.outcome is Outcome.FAILED and live.outcome is Outcome.DEAD:
                # the shortener says the link does not exist, but an archive that may hold its redirect could
                # not be asked (unreachable, rate limited): not dead yet, asked again on a later pass
                done.res = replace(live, outcome=Outcome.FAILED, reason=f"{live.reason}; archives: {alt.reason}",
                                   error_type=alt.error_type, retry_after_s=alt.retry_after_s)
            elif alt is None and live.outcome is Outcome.FAILED and _has_sources(settings):
                done.res = replace(live, reason=f"{live.reason}; no web archive knows the link")
    return done


def resolve_apply(session: Session, target: Target, done: Resolved, tools: Tools, attempt: int) -> str:
    settings, res = tools.settings, done.res
    if res is None:
        target.stage = "capture"
        return "direct"
    if done.live_retry:
        persist.schedule_live_retry(target, settings, retry_after_s=done.live_retry_after_s)
    persist.save_hops(session, target, tuple(done.hops), stage="resolve", attempt=attempt, run_id=tools.run_id)
    if res.outcome is Outcome.FAILED:
        persist.mark_failed(target, settings, reason=res.reason, error_type=res.error_type,
                            retry_after_s=res.retry_after_s)
        outcome = "failed"
    else:
        persist.apply_resolution(target, res)
        outcome = res.outcome.value
    persist.record_attempt(session, target, stage="resolve", outcome=outcome, run_id=tools.run_id,
                           started=done.started, error_type=res.error_type, message=res.reason)
    return outcome


def resolve_target(session: Session, target: Target, tools: Tools) -> str:
    """Both halves for one target in one session (the pipeline runs them apart, in batches)."""
    return resolve_apply(session, target, resolve_fetch(target, tools), tools, _attempt_no(target, "resolve"))


# ---- capture -------------------------------------------------------------------------------

@dataclass
class Captured:
    """What capturing one target found (capture_fetch), for capture_apply."""

    started: datetime
    result: CaptureResult
    fresh: bool  # False: another target of the pass fetched the same URL (counted once)
    recovered: CaptureResult | None
    missing: str  # why there is no archive copy, when there is none


def _recover(target_id: int, tools: Tools, url: str) -> tuple[CaptureResult | None, str]:
    """An archive's copy of ``url`` (where the target's chain ends; once per URL in a pass), or
    None and why there is none."""
    from .capture.fallback import recover_from_archives

    with tools.Session() as s:  # a short read of its own: no session is held over the network
        at = _cited_at(s, target_id)
    rec, _fresh = tools.once(f"recover {url}", lambda: recover_from_archives(
        url, client=tools.client, recorder=tools.recorder, settings=tools.settings,
        session_factory=tools.Session, at=at))
    if rec is not None and rec.outcome is Outcome.CAPTURED and rec.response is not None:
        return rec, ""
    if rec is not None and rec.outcome is Outcome.FAILED:
        return None, f"archives could not be asked: {rec.reason}"
    return None, "not found in any web archive" if _has_sources(tools.settings) else "no web archive configured"


def capture_fetch(snap: Snapshot, tools: Tools) -> Captured:
    from .capture import capture_url
    from .capture.browse import after_plain_capture  # the browser hook: loads the page too when it should
    from .capture.media import after_capture as media_hook  # capture.media: the page's video and audio

    settings, started = tools.settings, utcnow()
    url = snap.final_url or snap.url
    result, fresh = tools.once(url, lambda: media_hook(after_plain_capture(
        capture_url(url, recorder=tools.recorder, settings=settings, probe=tools.probe), tools=tools), tools=tools))
    good = result.outcome is Outcome.CAPTURED and not result.not_evidence_reason
    # dead, refused, not evidence, or not reachable at all (DNS, refused, reset, TLS, timeout): look
    # in the web archives now, in this pass (issue 8 §2)
    if good:
        recovered, missing = None, ""
    elif result.browser is not None and result.browser.status == "failed" and result.response is not None:
        recovered, missing = None, "the plain capture is kept"  # the page answered: no archive copy wanted
    else:
        recovered, missing = _recover(snap.id, tools, result.final_url or url)
    return Captured(started, result, fresh, recovered, missing)


def capture_apply(session: Session, target: Target, done: Captured, tools: Tools, attempt: int) -> str:
    from .browser_rows import save_browser, save_media

    settings, result, recovered, missing = tools.settings, done.result, done.recovered, done.missing
    good = result.outcome is Outcome.CAPTURED and not result.not_evidence_reason
    if result.hops:
        persist.save_hops(session, target, result.hops, stage="capture", attempt=attempt, run_id=tools.run_id)
    main = persist.save_capture(session, target, result, run_id=tools.run_id)
    save_browser(session, target, main, result, run_id=tools.run_id)
    save_media(session, target, main, result, run_id=tools.run_id)
    if result.response is not None and done.fresh:
        tools.count("bytes", (result.response.payload_length or 0)
                    + sum(r.payload_length or 0 for r in result.requisites))
    if result.final_url:
        target.final_url = result.final_url  # where the target's own redirects end
    outcome = result.outcome.value
    if good:
        target.status, target.stage, target.status_reason = "captured", "extract", None
        target.attempts, target.next_try_at, target.error_type = 0, None, None
        target.watch_state, target.last_checked_at = "alive", utcnow()
        persist.schedule_watch(target, settings)
    else:
        why = result.not_evidence_reason or result.reason or result.outcome.value
        if recovered is not None:
            persist.save_capture(session, target, recovered, run_id=tools.run_id)
            target.status, target.stage = "captured", "extract"
            target.watch_state = "recovered"
            target.status_reason = f"recovered from {recovered.archive_name}: live capture {why}"
            target.attempts, target.next_try_at, target.given_up = 0, None, False
            if result.outcome is Outcome.FAILED:
                # unreachable rather than gone: the watch step tries it live again after the usual
                # backoff; a live answer is then kept beside the archive copy, which is never dropped
                target.next_check_at = utcnow() + backoff_delay(1, settings.fetch.retry_base_s)
            outcome = "recovered"
        elif result.outcome is Outcome.FAILED and not persist.mark_failed(
                target, settings, reason=f"{result.reason}; {missing}", error_type=result.error_type):
            outcome = "failed"  # retried on a later run
        else:
            target.status = "failed" if result.outcome is Outcome.FAILED else (
                "refused" if result.outcome is Outcome.REFUSED else "dead")
            target.stage = "extract" if main is not None else "done"
            target.status_reason = f"{why}; {missing}"
            if target.status == "dead":
                target.dead_since = target.dead_since or utcnow()
                target.watch_state = "dead"
            outcome = target.status
    persist.record_attempt(session, target, stage="capture", outcome=outcome, run_id=tools.run_id,
                           started=done.started, error_type=result.error_type, message=result.reason)
    return outcome


def capture_target(session: Session, target: Target, tools: Tools) -> str:
    """Both halves for one target in one session (the pipeline runs them apart, in batches)."""
    return capture_apply(session, target, capture_fetch(target, tools), tools, _attempt_no(target, "capture"))


# ---- extract -------------------------------------------------------------------------------

def extract_target(session: Session, target: Target, tools: Tools) -> str:
    from .browser_rows import extract_rendered
    from .extract import extract_capture

    started = utcnow()
    pending = session.scalars(
        select(Capture).outerjoin(Extraction, Extraction.capture_id == Capture.id)
        .where(Capture.target_id == target.id, Capture.role.in_(("target", "dom")), Extraction.id.is_(None))
        .order_by(Capture.id)  # a page before its rendered DOM, which is compared with it
    ).all()
    for cap in pending:
        if cap.role == "dom":
            extract_rendered(session, cap, tools.settings)
        else:
            extract_capture(session, cap, tools.settings, open_store(tools.settings.storage))
    target.stage = "done"
    persist.record_attempt(session, target, stage="extract", outcome="extracted", run_id=tools.run_id,
                           started=started, message=f"{len(pending)} capture(s)")
    return "extracted" if pending else "nothing"


HANDLERS: dict[str, Callable[[Session, Target, Tools], str]] = {
    "resolve": resolve_target,
    "capture": capture_target,
    "extract": extract_target,
}

# The stages the pipeline runs in two halves: (network part, database part).
SPLIT: dict[str, tuple[Callable[[Snapshot, Tools], Any], Callable[[Session, Target, Any, Tools, int], str]]] = {
    "resolve": (resolve_fetch, resolve_apply),
    "capture": (capture_fetch, capture_apply),
}
