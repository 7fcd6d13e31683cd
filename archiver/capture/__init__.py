"""The capture stage: URL → WARC records, following the target's redirects hop by hop.

``capture_url`` returns a CaptureResult for every expected outcome: CAPTURED (2xx),
DEAD (a 4xx/5xx final answer, whose capture is kept), REFUSED (policy, on any
hop), FAILED (network error, timeout, redirect loop, too many hops). It raises
only for broken things. ``capture_many`` runs it over many URLs with the
configured concurrency, per-host limits and politeness delay.
"""
from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import datetime, timezone
from typing import Callable, Iterable
from urllib.parse import urljoin

from ..config import Settings
from ..errors import FetchError, FetchRefused
from ..evidence import check_evidence
from ..model import CaptureResult, HopRecord, Outcome
from .gate import GatedRecorder, HostGate
from .recorder import Exchange, Recorder
from .requisites import fetch_requisites

log = logging.getLogger(__name__)

__all__ = ["capture_url", "capture_many", "page_requisites", "HostGate", "GatedRecorder"]


def _is_html(ex: Exchange) -> bool:
    ctype = (ex.headers.get("Content-Type") or "").lower()
    if ctype:
        return "html" in ctype
    return ex.body[:512].lstrip().lower().startswith((b"<!doctype html", b"<html"))


def page_requisites(url: str, ex: Exchange, *, recorder: Recorder, settings: Settings) -> tuple:
    """The requisites of an HTML answer, within the per-page budget (none for other types)."""
    rs = settings.fetch.requisites
    if not (rs.enabled and rs.max_per_page > 0 and _is_html(ex)):
        return ()
    return fetch_requisites(url, ex.body, recorder=recorder, settings=settings)


def capture_url(url: str, *, recorder: Recorder, settings: Settings,
                probe: Callable[[str], object] | None = None) -> CaptureResult:
    """Capture ``url``: each redirect recorded as a hop, then the final answer and its requisites.

    A 2xx answer is checked with :func:`archiver.evidence.check_evidence` (``probe`` fetches a
    random path on the same host, for soft-404s): a page that is not the evidence is kept,
    with ``not_evidence_reason`` set, so that the pipeline looks further."""
    hops: list[HopRecord] = []
    visited: list[str] = []
    current = url
    while True:
        if current in visited:
            chain = " → ".join(visited[visited.index(current):] + [current])
            return CaptureResult(Outcome.FAILED, hops=tuple(hops), final_url=current,
                                 reason=f"redirect loop: {chain}", error_type="TooManyHops")
        if len(visited) > settings.fetch.max_hops:
            return CaptureResult(Outcome.FAILED, hops=tuple(hops), final_url=current,
                                 reason=f"more than {settings.fetch.max_hops} redirects (fetch.max_hops): "
                                        f"not followed to {current}", error_type="TooManyHops")
        visited.append(current)
        seq = len(hops)
        try:
            ex = recorder.fetch(current)
        except FetchError as exc:
            # the hop that failed is named (and, past the first, recorded): a refusal on redirect 3
            # is not one of the URL the capture started from
            if seq:
                hops.append(HopRecord(seq=seq, url=current, status_code=None, location=None, kind="error",
                                      fetched_at=datetime.now(timezone.utc), note=str(exc)))
            return CaptureResult(Outcome.REFUSED if isinstance(exc, FetchRefused) else Outcome.FAILED,
                                 hops=tuple(hops), final_url=current, reason=at_hop(exc, current, seq),
                                 error_type=type(exc).__name__)
        location = ex.headers.get("Location")
        if 300 <= ex.status < 400 and location:
            nxt = urljoin(current, location.strip())
            # the hop keeps the Location header as sent (it may be relative); the next hop's URL is absolute
            hops.append(HopRecord(seq=seq, url=current, status_code=ex.status, location=location.strip(), kind="redirect",
                                  fetched_at=ex.warc.captured_at, warc=ex.warc))
            current = nxt
            continue
        return _final(current, ex, hops, recorder, settings, probe)


def at_hop(exc: Exception, url: str, redirects: int) -> str:
    """The reason for a failed request, naming the URL asked (a capture starts where the link's
    resolution ended, often elsewhere than the link) and which redirect led there."""
    return f"{url}: {exc}" if redirects == 0 else f"redirect {redirects} to {url}: {exc}"


def _final(url: str, ex: Exchange, hops: list[HopRecord], recorder: Recorder, settings: Settings,
           probe: Callable[[str], object] | None = None) -> CaptureResult:
    ok = 200 <= ex.status < 300
    # the final answer closes the chain; its record is `response`, so the hop carries no WarcRef
    hops = hops + [HopRecord(seq=len(hops), url=url, status_code=ex.status, location=None,
                             kind="final" if ok else "error", fetched_at=ex.warc.captured_at)]
    if ok:
        requisites = page_requisites(url, ex, recorder=recorder, settings=settings)
        return CaptureResult(Outcome.CAPTURED, response=ex.warc, requisites=requisites, hops=tuple(hops),
                             final_url=url, reason="truncated" if ex.truncated else None,
                             not_evidence_reason=check_evidence(ex, url=url, probe=probe))
    if ex.status >= 400:
        return CaptureResult(Outcome.DEAD, response=ex.warc, hops=tuple(hops), final_url=url,
                             reason=f"HTTP {ex.status} {ex.reason}".strip(), error_type=f"http_{ex.status}")
    return CaptureResult(Outcome.FAILED, response=ex.warc, hops=tuple(hops), final_url=url,
                         reason=f"unexpected HTTP {ex.status} {ex.reason}".strip(), error_type=f"http_{ex.status}")


def capture_many(urls: Iterable[str], *, recorder: Recorder, settings: Settings,
                 progress: Callable[[int, int], None] | None = None) -> dict[str, CaptureResult]:
    """Capture many URLs at once: ``fetch.concurrency`` threads, ``fetch.per_host_concurrency`` per
    host, ``fetch.politeness_delay_s`` between requests to one host. Duplicates are fetched once."""
    unique = list(dict.fromkeys(urls))
    gate = HostGate(settings.fetch.per_host_concurrency, settings.fetch.politeness_delay_s)
    gated = GatedRecorder(recorder, gate)
    results: dict[str, CaptureResult] = {}

    def one(u: str) -> CaptureResult:
        try:
            return capture_url(u, recorder=gated, settings=settings)  # type: ignore[arg-type]
        except Exception as exc:  # a bug must not stop the other captures; it is recorded as data
            log.error("capture of %s failed", u, exc_info=True)
            return CaptureResult(Outcome.FAILED, final_url=u, reason=f"{type(exc).__name__}: {exc}",
                                 error_type=type(exc).__name__)

    with ThreadPoolExecutor(max_workers=settings.fetch.concurrency, thread_name_prefix="capture") as pool:
        futures = {pool.submit(one, u): u for u in unique}
        for done, fut in enumerate(as_completed(futures), 1):
            results[futures[fut]] = fut.result()
            if progress is not None:
                progress(done, len(unique))
    return {u: results[u] for u in unique}
