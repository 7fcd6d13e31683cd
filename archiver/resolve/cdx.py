"""Wayback-compatible CDX servers: query, parse (both dialects), choose captures.

Two dialects answer ``output=json`` and we tell them apart by the body, never
by configuration:

* the Internet Archive: one JSON array of arrays whose **first row names the
  fields** (it follows ``fl``; we never index by position);
* pywb: one JSON object per line with ``url``/``mime``/``status`` (IA names are
  aliases there).

A plain-text (space separated) answer is understood too, by the ``fl`` we asked for.

CDX keys are lower-cased SURTs, goo.gl codes are case-sensitive: rows are kept
only when ``original`` names the very resource (:func:`same_resource`).
Every request goes through :class:`ArchiveFetcher`, which holds the per-archive
token buckets and turns 429/403/5xx into the exceptions below.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import urlencode, urlsplit

from ..errors import ArchiverError, FetchError
from . import ratelimit

log = logging.getLogger(__name__)

FIELDS = ("timestamp", "original", "statuscode", "mimetype", "digest")
_ALIASES = {"url": "original", "mime": "mimetype", "status": "statuscode"}
_TEXT_DEFAULT = ("urlkey", "timestamp", "original", "mimetype", "statuscode", "digest", "length")
MAX_CDX_BYTES = 20_000_000
MAX_REPLAY_BYTES = 5_000_000
MAX_429_RETRIES = 2  # tries = 1 + this; then the archive is given up for this run
# FetchError kinds (archiver/net) that mean the archive could not be reached at all, as opposed to a slow or
# broken answer: the archive is then not asked again for ``resolver.archive_retry_after_s``
UNREACHABLE_KINDS = frozenset({"dns", "connect", "tls"})
SHORT_QUERIES = ("", "si=1", "d=1")  # goo.gl variants a capture of a short link may carry
INTERSTITIAL_ERA = ("20240823", "20250826")  # [from, to): goo.gl warning pages were served then


class ArchiveBlocked(ArchiverError):
    """403 + X-Archive-Wayback-Runtime-Error (excluded/blocked): skip this archive."""


class ArchiveRateLimited(ArchiverError):
    """Still 429 after the bounded retries: give the archive up for this run."""

    def __init__(self, message: str, retry_after_s: float | None = None, **context):
        super().__init__(message, **context)
        self.retry_after_s = retry_after_s


class ArchiveUnavailable(ArchiverError):
    """Network error or 5xx: try again on a later run."""


# ---- rows --------------------------------------------------------------------------------

@dataclass(frozen=True)
class CdxRow:
    timestamp: str
    original: str
    statuscode: str = "-"
    mimetype: str = ""
    digest: str = ""

    @property
    def is_revisit(self) -> bool:
        return self.mimetype == "warc/revisit" or self.statuscode in ("-", "")

    @property
    def status(self) -> int | None:
        return int(self.statuscode) if self.statuscode.isdigit() else None


def _row(d: Mapping[str, Any]) -> CdxRow | None:
    d = {_ALIASES.get(k, k): ("" if v is None else str(v)) for k, v in d.items()}
    if not d.get("timestamp") or not d.get("original"):
        return None
    return CdxRow(d["timestamp"], d["original"], d.get("statuscode") or "-",
                  d.get("mimetype", ""), d.get("digest", ""))


def parse_cdx(body: bytes | str, fl: Iterable[str] = FIELDS) -> list[CdxRow]:
    """Rows of a CDX answer in either JSON dialect (detected from the body) or text mode."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = text.strip()
    if not text:
        return []
    rows: list[CdxRow] = []
    if text.startswith("["):  # IA: array of arrays, header row first
        data = json.loads(text)
        if not data:
            return []
        header = [str(h) for h in data[0]]
        for values in data[1:]:
            if not values:  # `[]` then `["<resumeKey>"]` ends the rows
                break
            r = _row(dict(zip(header, values)))
            if r:
                rows.append(r)
        return rows
    fl = tuple(fl)
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("{"):  # pywb NDJSON
            r = _row(json.loads(line))
        elif "{" in line:  # CDXJ: "<urlkey> <timestamp> {json}"
            key_ts, _, js = line.partition("{")
            parts = key_ts.split()
            d = json.loads("{" + js)
            d.setdefault("timestamp", parts[1] if len(parts) > 1 else "")
            r = _row(d)
        else:
            parts = line.split(" ")
            names = fl if len(parts) == len(fl) else _TEXT_DEFAULT
            r = _row(dict(zip(names, parts)))
        if r:
            rows.append(r)
    return rows


# ---- which rows name the resource ------------------------------------------------------------

def _host(netloc: str) -> str:
    host = netloc.rsplit("@", 1)[-1].lower()
    for port in (":80", ":443"):
        if host.endswith(port):
            host = host[: -len(port)]
    return host[4:] if host.startswith("www.") else host


def split_url(url: str) -> tuple[str, str, str]:
    """(host without www./default port, case-kept path, query) of a URL with or without scheme."""
    if "://" not in url[:12]:
        url = "http://" + url
    parts = urlsplit(url)
    return _host(parts.netloc), parts.path or "/", parts.query


def same_resource(original: str, wanted: str, queries: Iterable[str] | None = None) -> bool:
    """Does a CDX ``original`` name ``wanted``? Scheme and www. ignored, path case-sensitive.

    ``queries`` lists the query strings accepted on ``original`` (default: exactly
    ``wanted``'s own query).
    """
    try:
        oh, op, oq = split_url(original)
        wh, wp, wq = split_url(wanted)
    except ValueError:
        return False
    allowed = {wq} if queries is None else set(queries) | {wq}
    return oh == wh and op == wp and oq in allowed


def short_queries(short_url: str) -> tuple[str, ...]:
    """Query variants a capture of this short link may carry (goo.gl's si=1 and d=1)."""
    host = split_url(short_url)[0]
    return SHORT_QUERIES if host.endswith("goo.gl") else ("",)


def short_link_candidates(rows: Iterable[CdxRow], short_url: str) -> list[CdxRow]:
    """Captures worth replaying, best first.

    Archived redirects (3xx), then revisits (status only known on replay), then
    200s of the goo.gl warning era (the page names the target), then other 200s
    (usually a ToS or home page: replayed last, kept only if a target parses).
    404/400/5xx captures are ignored. Within a group the **oldest** capture comes
    first: a short link's target never changes, and older captures predate the
    2024 warning pages and the 2025 deactivations.
    """
    queries = short_queries(short_url)
    seen: set[tuple[str, str]] = set()
    groups: dict[int, list[CdxRow]] = {0: [], 1: [], 2: [], 3: []}
    for r in rows:
        if not same_resource(r.original, short_url, queries):
            continue
        if (r.timestamp, r.original) in seen:
            continue
        seen.add((r.timestamp, r.original))
        st = r.status
        if st is not None and 300 <= st < 400:
            groups[0].append(r)
        elif r.is_revisit:
            groups[1].append(r)
        elif st == 200 and INTERSTITIAL_ERA[0] <= r.timestamp[:8] < INTERSTITIAL_ERA[1]:
            groups[2].append(r)
        elif st == 200:
            groups[3].append(r)
    out: list[CdxRow] = []
    for g in range(4):
        out.extend(sorted(groups[g], key=lambda r: r.timestamp))
    return out


def ts_to_datetime(ts: str) -> datetime | None:
    digits = (ts + "00000101000000"[len(ts):])[:14] if ts.isdigit() else ""
    try:
        return datetime.strptime(digits, "%Y%m%d%H%M%S").replace(tzinfo=timezone.utc) if digits else None
    except ValueError:
        return None


def datetime_to_ts(dt: datetime) -> str:
    if dt.tzinfo is not None:
        dt = dt.astimezone(timezone.utc)
    return dt.strftime("%Y%m%d%H%M%S")


def capture_candidates(rows: Iterable[CdxRow], url: str, at: datetime | None) -> list[CdxRow]:
    """2xx captures (then revisits) of exactly ``url``, closest to ``at`` (newest first without it)."""
    ok = [r for r in rows if same_resource(r.original, url)
          and (r.is_revisit or (r.status is not None and 200 <= r.status < 300))]
    if at is None:
        key = lambda r: (r.is_revisit, -int(r.timestamp.ljust(14, "0")[:14]))  # noqa: E731
    else:
        target = at.astimezone(timezone.utc) if at.tzinfo else at.replace(tzinfo=timezone.utc)

        def key(r: CdxRow):
            dt = ts_to_datetime(r.timestamp) or target
            return (r.is_revisit, abs((dt - target).total_seconds()))
    return sorted({(r.timestamp, r.original): r for r in ok}.values(), key=key)


# ---- HTTP to archives ------------------------------------------------------------------------

@dataclass
class Reply:
    """What an archive answered: enough to interpret a CDX answer or a replay."""

    url: str
    status: int
    headers: Any
    body: bytes
    fetched_at: datetime
    warc: Any = None  # model.WarcRef when the request went through the recorder

    def header(self, name: str) -> str | None:
        return header(self.headers, name)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def header(headers: Any, name: str) -> str | None:
    """Case-insensitive header lookup over a mapping or a list of pairs."""
    if headers is None:
        return None
    items = headers.items() if hasattr(headers, "items") else headers
    low = name.lower()
    for k, v in items:
        if str(k).lower() == low:
            return v
    return None


class ArchiveFetcher:
    """GETs against archives: rate limited per archive, 429 retried a bounded number of times.

    Replays go through the Recorder when one is given, so the archive's answer is
    evidence in our own WARC; CDX and TimeMap answers are only read.
    """

    def __init__(self, client, *, recorder=None, retry_after_s: float = 60.0,
                 sleep: Callable[[float], None] | None = None,
                 buckets: Callable[[str, str, float], Any] | None = None):
        self.client = client
        self.recorder = recorder
        self.retry_after_s = retry_after_s
        self.sleep = sleep or time.sleep
        self._buckets = buckets or ratelimit.bucket_for  # process-wide unless a test injects its own

    def _bucket(self, archive: str, kind: str, rate: float):
        if kind != "cdx":
            rate = max(rate, ratelimit.REPLAY_RATE)
        return self._buckets(archive, kind, rate)

    def get(self, url: str, *, archive: str, kind: str, rate: float, record: bool = False,
            max_bytes: int = MAX_REPLAY_BYTES) -> Reply:
        headers = {"Accept-Encoding": "identity"}
        bucket = self._bucket(archive, kind, rate)
        for attempt in range(MAX_429_RETRIES + 1):
            self._not_known_unreachable(archive)
            bucket.acquire()
            self._not_known_unreachable(archive)  # (another thread may have found out while this one waited)
            reply = self._once(url, headers, record, max_bytes, archive)
            if reply.status == 429:
                wait = _retry_after(reply) or self.retry_after_s
                if attempt == MAX_429_RETRIES:
                    raise ArchiveRateLimited(f"{archive}: rate limited (429) {MAX_429_RETRIES + 1} times",
                                             retry_after_s=wait)
                log.info("%s: 429, waiting %.0fs", archive, wait)
                self.sleep(wait)
                continue
            if reply.status == 403 and reply.header("X-Archive-Wayback-Runtime-Error"):
                raise ArchiveBlocked(f"{archive}: blocked ({reply.header('X-Archive-Wayback-Runtime-Error')})")
            if reply.status >= 500:
                raise ArchiveUnavailable(f"{archive}: HTTP {reply.status} for {url}")
            return reply
        raise AssertionError("unreachable")

    @staticmethod
    def _not_known_unreachable(archive: str) -> None:
        known = ratelimit.unreachable(archive)
        if known is not None:
            left, failed_at, why = known
            at = datetime.fromtimestamp(failed_at, timezone.utc).strftime("%H:%M:%S UTC")
            raise ArchiveUnavailable(f"{archive}: not asked, unreachable at {at} ({why}); asked again in "
                                     f"{left:.0f} s")

    def _once(self, url: str, headers: dict, record: bool, max_bytes: int, archive: str | None = None) -> Reply:
        now = datetime.now(timezone.utc)
        try:
            if record and self.recorder is not None:
                ex = self.recorder.fetch(url, headers=headers)
                body = ex.body if ex.body is not None else b""
                if isinstance(body, str):
                    body = body.encode("utf-8", "surrogateescape")
                return Reply(url, ex.status, ex.headers, body, now, getattr(ex, "warc", None))
            fetched, body = self.client.get_bytes(url, headers=headers, max_bytes=max_bytes)
            return Reply(url, fetched.status, fetched.headers, body or b"", now)
        except FetchError as exc:
            if archive is not None and exc.context.get("kind") in UNREACHABLE_KINDS:
                ratelimit.mark_unreachable(archive, self.retry_after_s, str(exc))
            raise ArchiveUnavailable(f"cannot reach {url}: {exc}") from exc


def _retry_after(reply: Reply) -> float | None:
    v = reply.header("Retry-After")
    try:
        return float(v) if v is not None else None
    except ValueError:
        return None


def cdx_query_url(cdx_url: str, url: str, *, match_type: str, limit: int | None = None) -> str:
    params = {"url": url, "matchType": match_type, "output": "json", "fl": ",".join(FIELDS)}
    if limit:
        params["limit"] = str(limit)
    return cdx_url + ("&" if "?" in cdx_url else "?") + urlencode(params)


def query(fetcher: ArchiveFetcher, archive, url: str, *, match_type: str,
          limit: int | None = 2000) -> list[CdxRow]:
    """One CDX query; [] when the archive has nothing (404 or an empty body)."""
    q = url.split("://", 1)[-1]
    reply = fetcher.get(cdx_query_url(archive.cdx_url, q, match_type=match_type, limit=limit),
                        archive=archive.name, kind="cdx", rate=archive.requests_per_s,
                        max_bytes=MAX_CDX_BYTES)
    if reply.status == 404 or reply.status == 400 and not reply.body.strip().startswith((b"[", b"{")):
        return []
    if reply.status != 200:
        raise ArchiveUnavailable(f"{archive.name}: CDX answered HTTP {reply.status}")
    try:
        return parse_cdx(reply.body)
    except ValueError as exc:
        raise ArchiveUnavailable(f"{archive.name}: unreadable CDX answer ({exc})") from exc
