"""Live resolution of a short link, one recorded request per hop.

``resolve_live`` never lets the HTTP client follow a redirect: each hop is one
``Recorder.fetch`` (request + response written to the WARC), so the short link itself
replays from our archive and every step is a ``HopRecord`` with its ``WarcRef``.

What decides the outcome (reference §1, §4, §7):

- Only the *shortener's own* answers (hosts in ``resolver.shorteners``) can make a link
  DEAD: 404/410/400, or a known "no such link" page (goo.gl 2018 "disabled" page,
  Firebase "Dynamic Link Not Found", tinyurl's ``errorb.php`` error pages).
- Once the chain leaves the shortener hosts, the *target* (first URL off them) is known
  and the link is RESOLVED with ``final_url`` = that target, which is not fetched here:
  its own redirects, its answer (404/500, timeouts) and its requisites are the capture
  stage's, which records them and sets the link's final URL to where the chain ends.
- FAILED (retry later, bounded by ``fetch.max_attempts``): network errors, timeouts,
  429/5xx from the shortener (``retry_after_s`` from ``Retry-After``, seconds or HTTP
  date), Google's rate-limit redirect (``rate_limited``), and, on the shortener hosts,
  redirect loops (``redirect_loop``) and chains longer than ``fetch.max_hops``
  (``too_many_hops``). A loop is kept FAILED rather than DEAD on purpose: the shortener
  has not said the link does not exist, loops are often transient (cookie or bot
  checks, misconfiguration), and a retry is cheap; after ``max_attempts`` the pipeline
  gives up on it like any other failure, and archives can still be asked.
- REFUSED: the recorder's policy refused an address on any hop (reason kept).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Callable
from urllib.parse import parse_qsl, urljoin, urlsplit, urlunsplit

from ..config import Settings
from ..errors import FetchError, FetchRefused, FetchTimeout
from ..model import HopRecord, Outcome, Resolution
from . import googl, html_redirects, is_shortener

if TYPE_CHECKING:  # the capture stack is only needed by callers
    from ..capture.recorder import Exchange, Recorder

KEEP_BODY = 262_144  # enough of a page to read a redirect or a marker; the WARC keeps it all
QUICK_RETRIES = 2  # in-process retries after Google's rate-limit redirect
RATE_LIMIT_WAIT_S = 1200.0  # ArchiveTeam saw ~20-minute waits behind google.com/sorry [reference §1.2]
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
DEAD_STATUSES = (400, 404, 410)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _norm(url: str) -> str:
    """Loop-detection key: no fragment, case-insensitive scheme and host."""
    p = urlsplit(url)
    return urlunsplit((p.scheme.lower(), p.netloc.lower(), p.path or "/", p.query, ""))


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or _now())).total_seconds())


# ---- reading one answer ----------------------------------------------------------------------

@dataclass(frozen=True)
class Step:
    """What one answer means. ``action``: follow | dead | fail | ratelimited | interstitial."""

    action: str
    kind: str  # the hop's kind
    next_url: str | None = None
    reason: str | None = None
    error_type: str | None = None
    retry_after_s: float | None = None
    note: str | None = None


def _is_html(ex: "Exchange") -> bool:
    ctype = (ex.headers.get("content-type") or "").lower()
    return not ctype or "html" in ctype


def _bitly_warning(url: str) -> str | None:
    """bit.ly's flagged-link redirect ``/a/warning?hash=<code>&url=<target>`` carries the target."""
    p = urlsplit(url)
    if p.path.rstrip("/") == "/a/warning":
        target = dict(parse_qsl(p.query)).get("url")
        if target and urlsplit(target).scheme in ("http", "https"):
            return target
    return None


def classify(ex: "Exchange") -> Step:
    """Read one answer from a shortener host (pure): where it leads and what it says about the link.

    Only shortener answers are read here: resolution stops at the first URL off the shorteners."""
    status, url = ex.status, ex.url
    if status in REDIRECT_STATUSES and (ex.headers.get("location") or "").strip():
        loc = ex.headers["location"].strip()
        nxt = urljoin(url, loc)
        if googl.is_sorry_url(nxt):
            return Step("ratelimited", "error", nxt, error_type="rate_limited",
                        reason=f"rate limited: {url} redirects to Google's unusual-traffic page")
        tiny = (ex.headers.get("x-tinyurl-target") or "").strip()
        if tiny and urlsplit(tiny).scheme in ("http", "https"):
            return Step("follow", "redirect", tiny, note=f"X-TinyURL-Target preferred over Location {loc}")
        warned = _bitly_warning(nxt)
        if warned:
            return Step("follow", "redirect", warned, note=f"target taken from the warning URL {nxt}")
        return Step("follow", "redirect", nxt)
    if status == 429:
        ra = parse_retry_after(ex.headers.get("retry-after"))
        return Step("fail", "error", error_type="rate_limited", retry_after_s=ra,
                    reason=f"rate limited: {url} answered 429" + (f", retry after {ra:.0f} s" if ra is not None else ""))
    if status >= 500:
        ra = parse_retry_after(ex.headers.get("retry-after"))
        return Step("fail", "error", error_type="server_error", retry_after_s=ra,
                    reason=f"{url} answered {status} {ex.reason or ''}".rstrip())
    if status in DEAD_STATUSES:
        return Step("dead", "error", error_type=f"http_{status}",
                    reason=f"the shortener answered {status} {ex.reason or ''}".rstrip())
    if status >= 300:
        return Step("fail", "error", error_type="http_error", reason=f"{url} answered {status} {ex.reason or ''}".rstrip())
    if googl.is_interstitial(ex.body):
        return Step("interstitial", "interstitial", googl.interstitial_continue(ex.body, url),
                    note="goo.gl warning page")
    marker = googl.dead_page_marker(ex.body)
    if marker:
        return Step("dead", "error", error_type="dead_page", reason=f"the shortener's page says {marker!r}")
    if _is_html(ex):
        found = html_redirects.html_redirect(ex.body, url)
        if found and html_redirects.is_tinyurl_error(found[1]):
            return Step("dead", "error", error_type="dead_page",
                        reason=f"the shortener sends to its error page {found[1]}")
        if found and googl.is_sorry_url(found[1]):
            return Step("ratelimited", "error", found[1], error_type="rate_limited",
                        reason=f"rate limited: {url} sends to Google's unusual-traffic page")
        if found and _norm(found[1]) != _norm(url):
            return Step("follow", found[0], found[1])
        owly = html_redirects.owly_continue(ex.body, url)
        if owly:
            return Step("follow", "interstitial", owly, note="warning page: its continue link")
    return Step("fail", "error", error_type="no_redirect",
                reason=f"the shortener answered {status} without a redirect or a known page")


# ---- the hop loop ----------------------------------------------------------------------------

@dataclass
class _Chain:
    hops: list[HopRecord] = field(default_factory=list)

    def add(self, url: str, kind: str, *, ex: "Exchange | None" = None, location: str | None = None,
            note: str | None = None) -> None:
        """Record one request as a hop; the URL is the one requested (``?si=1`` included)."""
        warc = ex.warc if ex is not None else None
        self.hops.append(HopRecord(
            seq=len(self.hops) + 1, url=url, status_code=ex.status if ex is not None else None,
            location=location, kind=kind, fetched_at=warc.captured_at if warc is not None else _now(),
            warc=warc, note=note))

    def result(self, outcome: Outcome, **kw) -> Resolution:
        return Resolution(outcome=outcome, hops=tuple(self.hops), method="live", **kw)


def _location(ex: "Exchange", step: Step) -> str | None:
    """What the hop records as its Location: the header as sent for 3xx, else where the page leads."""
    header = (ex.headers.get("location") or "").strip()
    if header and ex.status in REDIRECT_STATUSES:
        return header
    return step.next_url


def _at_hop(exc: Exception, url: str, redirects: int) -> str:
    """A failed request's reason, naming the hop when it is not the link itself."""
    return str(exc) if redirects == 0 else f"redirect {redirects} to {url}: {exc}"


def resolve_live(url: str, *, recorder: "Recorder", settings: Settings, sleep: Callable[[float], None] = time.sleep,
                 quick_retries: int = QUICK_RETRIES) -> Resolution:
    """Follow ``url`` hop by hop through ``recorder``; every expected outcome is a Resolution."""
    chain = _Chain()
    current = url
    seen = {_norm(url)}
    redirects = 0
    retries = 0
    max_hops = settings.fetch.max_hops
    # An interstitial's continue link, used only if the ?si=1 request right after it does not redirect.
    fallback: str | None = None

    while True:
        if not is_shortener(current, settings):
            # Off the shortener (the link itself too, e.g. a host dropped from the list since
            # ingest): the link is resolved. The target itself (its own redirects, its answer,
            # its requisites) is the capture stage's, which records it: fetching it here too
            # would put every target in the WARC twice.
            return chain.result(Outcome.RESOLVED, final_url=current)
        try:
            ex = recorder.fetch(current, keep_body=KEEP_BODY)
        except FetchRefused as exc:
            chain.add(current, "error", note=str(exc))
            return chain.result(Outcome.REFUSED, reason=_at_hop(exc, current, redirects), error_type="refused")
        except FetchError as exc:
            chain.add(current, "error", note=str(exc) + ("; using the warning page's continue link" if fallback else ""))
            if fallback:
                step = Step("follow", "interstitial", fallback)
            else:
                etype = "timeout" if isinstance(exc, FetchTimeout) else "network"
                return chain.result(Outcome.FAILED, reason=_at_hop(exc, current, redirects), error_type=etype)
        else:
            step = classify(ex)  # every URL fetched here is on a shortener host
            note = step.note or step.reason
            if fallback and step.action not in ("follow", "dead"):
                step = Step("follow", "interstitial", fallback)
                note = f"{note}; ?si=1 did not redirect, using the warning page's continue link"
            chain.add(current, step.kind, ex=ex, location=_location(ex, step), note=note)
        fallback = None

        if step.action == "dead":
            return chain.result(Outcome.DEAD, reason=step.reason, error_type=step.error_type)
        if step.action == "fail":
            return chain.result(Outcome.FAILED, reason=step.reason, error_type=step.error_type,
                                retry_after_s=step.retry_after_s)
        if step.action == "ratelimited":
            if retries < quick_retries:
                retries += 1
                sleep(2.0 ** retries)  # 2 s, 4 s, ...: deterministic exponential backoff
                continue  # the same URL again: a retry, not a hop forward
            return chain.result(Outcome.FAILED, reason=step.reason, error_type="rate_limited",
                                retry_after_s=RATE_LIMIT_WAIT_S)
        if step.action == "interstitial":
            if "si=1" in urlsplit(current).query.split("&"):
                if not step.next_url:
                    return chain.result(Outcome.FAILED, error_type="interstitial",
                                        reason="goo.gl shows its warning page even with ?si=1, and no continue link")
                nxt = step.next_url
            else:
                fallback, nxt = step.next_url, googl.with_si(current)
        else:
            nxt = step.next_url
        assert nxt is not None
        if _norm(nxt) in seen:
            return chain.result(Outcome.FAILED, error_type="redirect_loop", reason=f"redirect loop: back to {nxt}")
        if redirects >= max_hops:
            return chain.result(Outcome.FAILED, error_type="too_many_hops",
                                reason=f"more than {max_hops} redirects (fetch.max_hops): not followed to {nxt}")
        seen.add(_norm(nxt))
        redirects += 1
        current = nxt
