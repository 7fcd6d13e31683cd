"""Recover a dead target from a web archive into OUR WARC, with its provenance.

When the cited URL cannot be captured live (DNS gone, refused, 404/410, timeouts
for good, a parked domain) we ask each ``resolver.archives`` CDX server for exact
captures of the URL, then the Memento TimeMaps (``resolver.mementos``; an
archive's own ``timemap_url`` only when its CDX server could not be asked, since
both read the same index). We take the 2xx capture closest to ``at`` (the date
the report cites it; the newest without one), replay it raw (``id_``; a TimeMap
lists no status, so a memento that replays as non-2xx is skipped) and write it as:

* a ``response`` record whose ``WARC-Target-URI`` is the **original URL**, whose
  ``WARC-Date`` is when **our** request to the archive began (WARC 1.1 §5.4: the instant
  data capture for the record began) and whose ``WARC-Source-URI`` is the memento URL
  we read it from (the field pywb's recorder and warcit write for content taken from
  another archive or a file; an extension field, which WARC readers ignore if unknown).
  ``WARC-Refers-To-Target-URI``/``-Date`` are not used: WARC 1.1 allows them on revisit
  records only;
* a ``metadata`` record (``WARC-Refers-To`` and ``WARC-Concurrent-To`` the response)
  naming the archive, the memento URL, the **memento datetime** (the archive's capture
  date), the CDX row (or the TimeMap and its datetime), when we fetched it, and the
  archive's raw response header block, verbatim.

The capture's row keeps the archive's date as ``captured_at`` and ``memento_datetime``
(what ``get``, ``show`` and the export summary show), and the replay origin indexes the
record at that date (web/replay.py), so that its Memento-Datetime is the archive's.

HTTP headers of the response record (what we do, exactly):

1. ``X-Archive-Orig-<Name>: v`` becomes ``<Name>: v`` (the original server's header),
   except framing headers (Content-Length, Transfer-Encoding, Content-Encoding,
   Connection, Keep-Alive), which stay prefixed: they described the original
   transfer, not the bytes we store.
2. An archive header with the same name as a restored one (``Date``, ``Server``...)
   is dropped from the response record; it lives on in the metadata record.
3. The archive's Memento headers (``Memento-Datetime``, and ``Link`` headers naming
   Memento relations: original, timegate, timemap, memento) are dropped: they describe
   the archive's memento, and a replay of our record sends its own (twice otherwise,
   which Memento clients cannot parse). They are in the metadata record.
4. ``Transfer-Encoding`` is dropped (we store the body de-chunked) and
   ``Content-Length`` is set to the stored body length when it differs.
5. Everything else (Content-Type, X-Archive-Src, ...) is kept as the archive sent it,
   in its order. The body is stored as received (Content-Encoding kept).

Page requisites come from the same archive at the same timestamp (the archive
moves to its nearest capture on its own; that redirect is followed when it names
the same URL).
"""
from __future__ import annotations

import logging
import re
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from io import BytesIO
from typing import Callable
from urllib.parse import urljoin

from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date

from .. import digests
from ..errors import FetchError
from ..evidence import check_evidence
from ..model import CaptureResult, Outcome, WarcRef
from ..net.decode import decode_prefix
from ..resolve import cdx, memento
from ..resolve.cdx import ArchiveBlocked, ArchiveFetcher, ArchiveRateLimited, ArchiveUnavailable
from ..resolve.sources import fill, template_of
from . import requisites as reqs

log = logging.getLogger(__name__)

MAX_CANDIDATES = 5
MAX_FOLLOWS = 3
KEEP_BODY = 2_000_000
FRAMING = {"content-length", "transfer-encoding", "content-encoding", "connection", "keep-alive"}
ORIG = "x-archive-orig-"
_MEMENTO_REL = re.compile(r'rel\s*=\s*"?[^";,]*\b(original|timegate|timemap|memento)\b', re.I)


def is_memento_header(name: str, value: str) -> bool:
    """An archive's own Memento header: Memento-Datetime, or a Link naming a Memento relation."""
    low = name.lower()
    return low == "memento-datetime" or (low == "link" and bool(_MEMENTO_REL.search(value)))


def restore_headers(raw: list[tuple[str, str]], stored_length: int) -> list[tuple[str, str]]:
    """The response record's HTTP headers from the archive's raw ones (rules in the module doc)."""
    restored = {k[len(ORIG):].lower() for k, _ in raw
                if k.lower().startswith(ORIG) and k[len(ORIG):].lower() not in FRAMING}
    out: list[tuple[str, str]] = []
    for k, v in raw:
        low = k.lower()
        if low.startswith(ORIG):
            name = k[len(ORIG):]
            out.append((k, v) if name.lower() in FRAMING else (name, v))
        elif low in restored or low == "transfer-encoding" or is_memento_header(k, v):
            continue
        elif low == "content-length":
            out.append((k, str(stored_length)))
        else:
            out.append((k, v))
    if not any(k.lower() == "content-length" for k, _ in out):
        out.append(("Content-Length", str(stored_length)))
    return out


@dataclass(frozen=True)
class _Source:
    """What a replay needs of an archive; a TimeMap source is seen through one of its URI-Ms."""
    name: str
    replay_url: str  # a {timestamp}/{url} template, or the URI-M itself when it is not Wayback-style
    requests_per_s: float


@dataclass
class _Replay:
    url: str  # the memento (replay) URL that answered
    status: int
    reason: str
    http_version: str
    raw_headers: list[tuple[str, str]]
    body_file: object  # temp file, positioned anywhere; length bytes
    length: int
    truncated: bool
    head: bytes  # first KEEP_BODY bytes, for evidence checks and requisites
    memento_datetime: datetime | None
    fetched_at: datetime  # when the archive's answer was complete
    started_at: datetime  # when our request began: the record's WARC-Date
    peer_ip: str | None = None

    def header(self, name: str) -> str | None:
        return cdx.header(self.raw_headers, name)


def _replay_raw(client, fetcher: ArchiveFetcher, archive, url: str, replay_url: str, max_bytes: int) -> _Replay | None:
    """GET a raw replay (following the archive's own redirects to the same URL); None if not a 2xx memento."""
    for _ in range(MAX_FOLLOWS + 1):
        fetcher._bucket(archive.name, "replay", archive.requests_per_s).acquire()
        spool = tempfile.TemporaryFile()
        started = datetime.now(timezone.utc)
        try:
            with client.open(replay_url, headers={"Accept-Encoding": "identity"}) as f:
                if f.status == 403 and cdx.header(f.raw_headers, "X-Archive-Wayback-Runtime-Error"):
                    raise ArchiveBlocked(f"{archive.name}: blocked")
                if f.status == 429:
                    raise ArchiveRateLimited(f"{archive.name}: rate limited (429) on replay",
                                             retry_after_s=fetcher.retry_after_s)
                md = memento.http_datetime(cdx.header(f.raw_headers, "Memento-Datetime"))
                if 300 <= f.status < 400:
                    loc = cdx.header(f.raw_headers, "Location")
                    nxt = urljoin(replay_url, loc) if loc else None
                    patterns = [memento.prefix_pattern(archive.replay_url)]
                    if md is None and nxt and cdx.same_resource(memento.strip_prefix(nxt, patterns), url):
                        replay_url = nxt  # the archive moving to its nearest capture of the same URL
                        spool.close()
                        continue
                    spool.close()
                    return None  # an archived redirect, or a substitution
                if not 200 <= f.status < 300:
                    spool.close()
                    return None
                n, head, truncated = 0, bytearray(), False
                for chunk in f.iter_raw():
                    if n + len(chunk) > max_bytes:
                        chunk, truncated = chunk[: max_bytes - n], True
                    spool.write(chunk)
                    n += len(chunk)
                    if len(head) < KEEP_BODY:
                        head += chunk[: KEEP_BODY - len(head)]
                    if truncated:
                        break
                ts_m = memento._TS_IN_URL.search(replay_url)
                when = md or (cdx.ts_to_datetime(ts_m.group(1)) if ts_m else None)
                return _Replay(replay_url, f.status, f.reason, f.http_version, list(f.raw_headers), spool, n,
                               truncated, bytes(head), when, datetime.now(timezone.utc), started,
                               getattr(f, "peer_ip", None))
        except FetchError as exc:
            spool.close()
            raise ArchiveUnavailable(f"{archive.name}: {replay_url}: {exc}") from exc  # the hop that failed
        except BaseException:  # blocked, rate limited: the spool is not handed on
            spool.close()
            raise
    return None


def _decoded(rp: _Replay) -> bytes:
    """The kept head with Content-Encoding undone (for reading, never for storing), at most
    KEEP_BODY decoded bytes: a head of a few MB of gzip may inflate to gigabytes."""
    return decode_prefix(rp.head, rp.header("Content-Encoding"), KEEP_BODY)


def _iso(dt: datetime, micros: bool = False) -> str:
    return datetime_to_iso_date(dt.astimezone(timezone.utc).replace(tzinfo=None), use_micros=micros)


def write_memento(sink, url: str, rp: _Replay, *, archive_name: str, cdx_row: cdx.CdxRow | None,
                  timemap: tuple[str, datetime | None] | None = None) -> WarcRef:
    """Write the response + metadata records for one replayed memento; the response's WarcRef."""
    b = sink.builder
    when = rp.memento_datetime or rp.fetched_at
    resp_id = b._make_warc_id()
    http = StatusAndHeaders(f"{rp.status} {rp.reason}".strip(), restore_headers(rp.raw_headers, rp.length),
                            protocol=rp.http_version if rp.http_version.startswith("HTTP/1") else "HTTP/1.1")
    rp.body_file.seek(0)
    sha256, _ = digests.file_digest(rp.body_file)  # stored de-chunked: the entity is the body itself
    rp.body_file.seek(0)
    warc_headers = {"WARC-Record-ID": resp_id, "WARC-Date": _iso(rp.started_at, micros=True),
                    "WARC-Source-URI": rp.url}
    if rp.peer_ip:
        warc_headers["WARC-IP-Address"] = rp.peer_ip  # the address the bytes came from: the archive's
    if rp.truncated:
        warc_headers["WARC-Truncated"] = "length"
    response = b.create_warc_record(url, "response", payload=rp.body_file, length=rp.length,
                                    http_headers=http, warc_headers_dict=warc_headers)
    b.ensure_digest(response, block=True, payload=False)
    raw_block = "".join(f"{k}: {v}\r\n" for k, v in rp.raw_headers)
    fields = [("archive", archive_name), ("memento-url", rp.url),
              ("memento-datetime", _iso(when)), ("fetched-at", _iso(rp.fetched_at)),
              ("archive-status", f"{rp.status} {rp.reason}".strip())]
    if cdx_row is not None:
        fields.append(("cdx", " ".join((cdx_row.timestamp, cdx_row.original, cdx_row.statuscode,
                                         cdx_row.mimetype, cdx_row.digest))))
    if timemap is not None:
        fields.append(("timemap", timemap[0]))
        if timemap[1] is not None:
            fields.append(("timemap-datetime", _iso(timemap[1])))
    meta = ("".join(f"{k}: {v}\r\n" for k, v in fields) + "archive-response-headers:\r\n"
            + "".join("  " + line + "\r\n" for line in raw_block.splitlines())).encode("utf-8")
    metadata = b.create_warc_record(url, "metadata", payload=BytesIO(meta), length=len(meta),
                                    warc_content_type="application/warc-fields",
                                    warc_headers_dict={"WARC-Date": _iso(rp.started_at, micros=True),
                                                       "WARC-Refers-To": resp_id, "WARC-Concurrent-To": resp_id})
    # the row's captured_at is the archive's date (what the capture shows), not the record's WARC-Date
    refs = sink.write_records([response, metadata], [
        {"sha256": sha256, "payload_length": rp.length, "truncated": rp.truncated, "captured_at": when},
        {}])
    return refs[0]


def _requisites(client, fetcher, archive, sink, page_url: str, rp: _Replay, settings) -> list[WarcRef]:
    rs = settings.fetch.requisites
    ct = (rp.header("Content-Type") or "").lower()
    if not rs.enabled or "html" not in ct or "{timestamp}" not in archive.replay_url:
        return []  # (a non-Wayback URI-M gives no way to ask for the requisites at its time)
    ts = cdx.datetime_to_ts(rp.memento_datetime) if rp.memento_datetime else ""
    out, budget = [], rs.max_bytes_per_page
    for req_url in reqs.html_urls(_decoded(rp), page_url)[: rs.max_per_page]:
        try:
            sub = _replay_raw(client, fetcher, archive, req_url, fill(archive.replay_url, ts, req_url),
                              max(1, min(budget, settings.fetch.max_bytes)))
        except (ArchiveUnavailable, ArchiveRateLimited, ArchiveBlocked) as exc:
            log.info("requisite %s: %s", req_url, exc)
            continue
        if sub is None:
            continue
        with sub.body_file:
            out.append(write_memento(sink, req_url, sub, archive_name=archive.name, cdx_row=None))
        budget -= sub.length
        if budget <= 0:
            break
    return out


def _timemap_candidates(fetcher: ArchiveFetcher, name: str, timemap_url: str, rate: float, url: str,
                        at: datetime | None) -> list[memento.Memento]:
    """The URL's mementos in a TimeMap, closest to ``at`` first; [] when it has none."""
    reply = fetcher.get(fill(timemap_url, "", url), archive=name, kind="cdx", rate=rate,
                        max_bytes=cdx.MAX_CDX_BYTES)
    if reply.status in (404, 410):
        return []
    if reply.status != 200:
        raise ArchiveUnavailable(f"{name}: TimeMap answered HTTP {reply.status}")
    return memento.closest(memento.parse_timemap(reply.text), at)


def _keep(client, fetcher, source: _Source, sink, url: str, rp: _Replay, settings, *, have_fallback: bool,
          how: str, cdx_row: cdx.CdxRow | None = None,
          timemap: tuple[str, datetime | None] | None = None) -> CaptureResult | None:
    """Write one replayed 2xx memento (and its requisites when it is evidence); None when not worth it."""
    with rp.body_file:
        why = check_evidence((rp.status, url, _decoded(rp)), url=url)
        if why and have_fallback:
            return None
        ref = write_memento(sink, url, rp, archive_name=source.name, cdx_row=cdx_row, timemap=timemap)
        requisites = () if why else tuple(_requisites(client, fetcher, source, sink, url, rp, settings))
    return CaptureResult(
        outcome=Outcome.CAPTURED, response=ref, requisites=requisites, final_url=url,
        source="archive", archive_name=source.name, memento_url=rp.url,
        memento_datetime=rp.memento_datetime, not_evidence_reason=why,
        reason=f"recovered from {source.name} ({how})")


def recover_from_archives(url: str, *, client, settings, session_factory=None, recorder=None, sink=None,
                          at: datetime | None = None, sleep: Callable[[float], None] | None = None,
                          fetcher: ArchiveFetcher | None = None) -> CaptureResult | None:
    """The closest archived 2xx capture of ``url`` written into our WARC, or None if no archive has one.

    CDX archives are asked first, then the TimeMaps (module doc). A capture that is
    not evidence (soft 404, parked page...) is returned only when no better one
    exists, with ``not_evidence_reason`` set. FAILED when a source could not be
    asked (rate limit, 5xx) and none had it.
    """
    sink = sink or getattr(recorder, "sink", None)
    if sink is None:
        raise ValueError("recover_from_archives needs a WarcSink (sink= or recorder=)")
    fetcher = fetcher or ArchiveFetcher(client, recorder=None, sleep=sleep,
                                        retry_after_s=settings.resolver.archive_retry_after_s)
    fallback: CaptureResult | None = None
    failures: list[str] = []

    def consider(source, rp, **how) -> CaptureResult | None:
        """Write a replayed capture; the result if it is the evidence, else keep it as the fallback."""
        nonlocal fallback
        if rp is None:
            return None
        result = _keep(client, fetcher, source, sink, url, rp, settings, have_fallback=fallback is not None, **how)
        if result is None:
            return None
        if not result.not_evidence_reason:
            return result
        fallback = fallback or result
        return None

    timemaps = [(m.name, m.timemap_url, m.requests_per_s, None) for m in settings.resolver.mementos]
    for archive in settings.resolver.archives:
        try:
            rows = cdx.query(fetcher, archive, url, match_type="exact")
            for row in cdx.capture_candidates(rows, url, at)[:MAX_CANDIDATES]:
                rp = _replay_raw(client, fetcher, archive, url, fill(archive.replay_url, row.timestamp,
                                                                         row.original), settings.fetch.max_bytes)
                found = consider(archive, rp, how=f"capture of {row.timestamp}", cdx_row=row)
                if found is not None:
                    return found
        except ArchiveBlocked as exc:
            log.info("%s", exc)
        except ArchiveUnavailable as exc:
            if archive.timemap_url:  # the same index, another way in
                timemaps.append((archive.name, archive.timemap_url, archive.requests_per_s, str(exc)))
            else:
                failures.append(str(exc))
        except ArchiveRateLimited as exc:
            failures.append(str(exc))
    for name, timemap_url, rate, earlier in timemaps:
        try:
            for m in _timemap_candidates(fetcher, name, timemap_url, rate, url, at)[:MAX_CANDIDATES]:
                source = _Source(name, template_of(m.uri) or m.uri, rate)
                rp = _replay_raw(client, fetcher, source, url, memento.raw_form(m.uri), settings.fetch.max_bytes)
                if rp is not None:
                    rp.memento_datetime = rp.memento_datetime or m.datetime
                found = consider(source, rp, how=f"memento {m.uri}", timemap=(fill(timemap_url, "", url), m.datetime))
                if found is not None:
                    return found
        except ArchiveBlocked as exc:
            log.info("%s", exc)
        except (ArchiveRateLimited, ArchiveUnavailable) as exc:
            failures.append(f"{earlier}; TimeMap: {exc}" if earlier else str(exc))
    if fallback is not None:
        return fallback
    if failures:
        return CaptureResult(outcome=Outcome.FAILED, final_url=url, source="archive", reason="; ".join(failures),
                             error_type="ArchiveUnavailable")
    return None
