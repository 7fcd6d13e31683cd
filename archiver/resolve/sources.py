"""Where a dead short link's target can still be found, asked in this order.

1. Wayback-compatible CDX servers (``resolver.archives``): the captures of the
   short link, best first (:func:`cdx.short_link_candidates`), each replayed raw
   until one names the target (:func:`memento.interpret`).
2. Memento TimeMaps (``resolver.mementos`` and the archives' ``timemap_url``),
   for the http:// and https:// forms; mementos replayed oldest first.
3. Imported URLTeam dumps (``resolver.dumps``, imported on first use).
4. Manual overrides (``resolver.overrides``), the last fallback. A ``force``
   override wins over everything and is checked before live resolution
   (:func:`forced_override`, re-exported here for the pipeline).

The first source that answers wins; its name, the memento URL and datetime and
``archive``/``dump``/``manual`` hops go into the Resolution.  ``None`` means no
source knows the link.  When none answers but an archive could not be asked
(429 after the bounded retries, 5xx, network), the result is FAILED so the link
is tried again on a later run.  A blocked archive (403) is skipped.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

from ..errors import InputError
from ..model import HopRecord, Outcome, Resolution
from . import cdx, dumps, memento
from .cdx import ArchiveBlocked, ArchiveFetcher, ArchiveRateLimited, ArchiveUnavailable, Reply
from .overrides import forced_override, override_for

log = logging.getLogger(__name__)

MAX_REPLAYS = 8  # captures replayed per archive (or TimeMap) before giving up on it
MAX_FOLLOWS = 4  # archive-internal redirects followed from one capture

__all__ = ["resolve_from_archives", "forced_override", "replay_chain", "Found"]


@dataclass
class Found:
    target: str
    source: str
    memento_url: str
    memento_datetime: datetime | None
    hops: list[HopRecord] = field(default_factory=list)
    note: str = ""


def fill(template: str, ts: str, url: str) -> str:
    return template.replace("{timestamp}", ts).replace("{url}", url)


def template_of(memento_uri: str) -> str | None:
    """A replay_url template (``…/{timestamp}id_/{url}``) from a Wayback-style URI-M."""
    m = memento._TS_IN_URL.search(memento_uri)
    if not m:
        return None
    return memento_uri[: m.start()] + "/{timestamp}id_/{url}"


def replay_chain(fetcher: ArchiveFetcher, *, name: str, rate: float, first_url: str, short_url: str,
                 template: str | None, patterns: list, tried: set[str]) -> Found | None:
    """Replay one capture (following the archive's own redirects to the same short link)."""
    url, hops = first_url, []
    for _ in range(MAX_FOLLOWS + 1):
        if url in tried:
            return None
        tried.add(url)
        reply: Reply = fetcher.get(url, archive=name, kind="replay", rate=rate, record=True)
        v = memento.interpret(reply, short_url=short_url, patterns=patterns,
                              replay_for=lambda u, ts: fill(template, ts, u) if template else u)
        hops.append(HopRecord(seq=len(hops) + 1, url=url, status_code=reply.status,
                              location=v.url if v.kind != "none" else reply.header("Location"),
                              kind="archive", fetched_at=reply.fetched_at, warc=reply.warc,
                              note=f"{name}: {v.note}"))
        if v.kind == "target":
            return Found(v.url, name, url, v.memento_datetime, hops, v.note)
        if v.kind != "follow" or not v.url:
            log.debug("%s: %s: %s", name, url, v.note)
            return None
        url = v.url
    return None


def _via_cdx(fetcher: ArchiveFetcher, archive, short_url: str, tried: set[str]) -> Found | None:
    rows = cdx.query(fetcher, archive, short_url, match_type="prefix")
    patterns = [memento.prefix_pattern(archive.replay_url)]
    for row in cdx.short_link_candidates(rows, short_url)[:MAX_REPLAYS]:
        found = replay_chain(fetcher, name=archive.name, rate=archive.requests_per_s,
                             first_url=fill(archive.replay_url, row.timestamp, row.original),
                             short_url=short_url, template=archive.replay_url, patterns=patterns, tried=tried)
        if found:
            return found
    return None


def _timemap_sources(settings) -> list[tuple[str, str, float, list]]:
    out = [(m.name, m.timemap_url, m.requests_per_s, []) for m in settings.resolver.mementos]
    for a in settings.resolver.archives:
        if a.timemap_url:
            out.append((a.name, a.timemap_url, a.requests_per_s, [memento.prefix_pattern(a.replay_url)]))
    return out


def _via_timemap(fetcher: ArchiveFetcher, name: str, timemap_url: str, rate: float, patterns: list,
                 short_url: str, tried: set[str]) -> Found | None:
    rest = short_url.split("://", 1)[-1]
    mementos: list[memento.Memento] = []
    for form in (f"http://{rest}", f"https://{rest}"):
        reply = fetcher.get(fill(timemap_url, "", form), archive=name, kind="cdx", rate=rate,
                            max_bytes=cdx.MAX_CDX_BYTES)
        if reply.status == 200:
            mementos.extend(memento.parse_timemap(reply.text))
    seen: set[str] = set()
    ordered = sorted((m for m in mementos if not (m.uri in seen or seen.add(m.uri))),
                     key=lambda m: m.datetime or datetime.max.replace(tzinfo=timezone.utc))
    for m in ordered[:MAX_REPLAYS]:
        raw = memento.raw_form(m.uri)
        found = replay_chain(fetcher, name=name, rate=rate, first_url=raw, short_url=short_url,
                             template=template_of(m.uri), patterns=patterns + [memento.prefix_pattern(m.uri)],
                             tried=tried)
        if found:
            if found.memento_datetime is None:
                found.memento_datetime = m.datetime
            return found
    return None


def _via_dumps(session_factory, short_url: str) -> Resolution | None:
    with session_factory() as session:
        hits = dumps.lookup(session, short_url)
    hits = [h for h in hits if h.target.lower().startswith(("http://", "https://"))]
    if not hits:
        return None
    first = hits[0]
    others = [h.target for h in hits[1:] if h.target != first.target]
    note = f"URLTeam dump {first.source}" + (f"; also listed: {', '.join(others[:5])}" if others else "")
    hop = HopRecord(seq=1, url=short_url, status_code=None, location=first.target, kind="dump",
                    fetched_at=datetime.now(timezone.utc), note=note)
    return Resolution(outcome=Outcome.RESOLVED, final_url=first.target, hops=(hop,), method="dump",
                      source=first.source, reason=note)


def _as_resolution(found: Found) -> Resolution:
    when = found.memento_datetime.strftime("%Y-%m-%d %H:%M:%S UTC") if found.memento_datetime else "unknown date"
    return Resolution(outcome=Outcome.RESOLVED, final_url=found.target, hops=tuple(found.hops), method="archive",
                      source=found.source, memento_url=found.memento_url, memento_datetime=found.memento_datetime,
                      reason=f"found in {found.source} ({found.note}, captured {when})")


def resolve_from_archives(short_url: str, *, client, settings, session_factory, recorder=None,
                          sleep: Callable[[float], None] | None = None,
                          fetcher: ArchiveFetcher | None = None) -> Resolution | None:
    """The target of a dead short link from archives, dumps or overrides (see module doc)."""
    if session_factory is not None and settings.resolver.dumps:
        try:  # cheap once imported: a stat per file
            dumps.ensure_dumps_imported(session_factory, settings)
        except InputError as exc:
            log.warning("dumps: %s", exc)
    fetcher = fetcher or ArchiveFetcher(client, recorder=recorder, sleep=sleep,
                                        retry_after_s=settings.resolver.archive_retry_after_s)
    failures: list[tuple[str, str, float | None]] = []  # (error type, message, retry after)
    blocked: set[str] = set()
    tried: set[str] = set()

    def attempt(name: str, fn):
        if name in blocked:
            return None
        try:
            return fn()
        except ArchiveBlocked as exc:
            log.info("%s", exc)
            blocked.add(name)
        except ArchiveRateLimited as exc:
            failures.append(("ArchiveRateLimited", str(exc), exc.retry_after_s))
            blocked.add(name)  # given up for this run
        except ArchiveUnavailable as exc:
            failures.append(("ArchiveUnavailable", str(exc), None))
        return None

    for archive in settings.resolver.archives:
        found = attempt(archive.name, lambda a=archive: _via_cdx(fetcher, a, short_url, tried))
        if found:
            return _as_resolution(found)
    for name, tm_url, rate, patterns in _timemap_sources(settings):
        found = attempt(name, lambda: _via_timemap(fetcher, name, tm_url, rate, patterns, short_url, tried))
        if found:
            return _as_resolution(found)
    if session_factory is not None:
        res = _via_dumps(session_factory, short_url)
        if res:
            return res
    res = override_for(short_url, settings)
    if res:
        return res
    if failures:
        kinds = {f[0] for f in failures}
        waits = [f[2] for f in failures if f[2] is not None]
        return Resolution(outcome=Outcome.FAILED, method="archive", reason="; ".join(f[1] for f in failures),
                          error_type="ArchiveRateLimited" if "ArchiveRateLimited" in kinds else "ArchiveUnavailable",
                          retry_after_s=max(waits) if waits else None)
    return None
