"""Mementos: what a replayed capture says, and Memento (RFC 7089) TimeMaps.

:func:`interpret` reads one raw (``id_``) replay of a short link and tells the
archived redirect apart from the archive's own redirects and pages:

* 3xx **with** ``Memento-Datetime``: an archived redirect. The target is
  ``X-Archive-Orig-Location`` when present, else ``Location`` with the archive's
  replay prefix (``https?://host/.../<ts>[xx_]/``) stripped; pywb leaves it
  un-rewritten, which needs no stripping.
* 3xx **without** ``Memento-Datetime`` (``X-Archive-Redirect-Reason``): the archive
  moving to its nearest capture. Followed only when it names the same short URL.
* 200 "Got an HTTP 3xx response at crawl time" (a view-mode page): the
  "Impatient?" link holds the target.
* 200 goo.gl warning page (2024-08..2025-08): its continue link holds the target.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

from bs4 import BeautifulSoup

from . import googl
from .cdx import Reply, same_resource, short_queries, ts_to_datetime

_TS_IN_URL = re.compile(r"/(\d{1,14})([a-z]{2}_)?/(?=[a-zA-Z][a-zA-Z0-9+.-]*:/)")
_GENERIC_PREFIX = re.compile(r"^https?://[^/]+(?:/[^/]*)*?/\d{1,14}(?:[a-z]{2}_)?/(?=[a-zA-Z][a-zA-Z0-9+.-]*:/)")
_VIEW_MODE = re.compile(r"Got an? HTTP 3\d\d response at crawl time", re.I)
_NOT_TARGET_HOSTS = ("goo.gl", "google.com", "www.google.com", "support.google.com",
                     "developers.googleblog.com", "policies.google.com")


def prefix_pattern(template_or_memento: str) -> re.Pattern | None:
    """The replay-prefix regex of an archive, from its replay_url template or a URI-M."""
    t = template_or_memento
    if "{timestamp}" in t:
        head = t.split("{timestamp}", 1)[0]
    else:
        m = _TS_IN_URL.search(t)
        if not m:
            return None
        head = t[: m.start() + 1]
    rest = head.split("://", 1)[-1]
    return re.compile(r"^https?://" + re.escape(rest) + r"\d{1,14}(?:[a-z]{2}_)?/")


def strip_prefix(url: str, patterns: list[re.Pattern | None]) -> str:
    """``url`` without an archive's replay prefix (unchanged when it has none)."""
    for p in patterns:
        if p is not None:
            m = p.match(url)
            if m:
                return _fix_scheme(url[m.end():])
    m = _GENERIC_PREFIX.match(url)
    return _fix_scheme(url[m.end():]) if m else url


def _fix_scheme(u: str) -> str:
    # some archives collapse "http://" to "http:/" inside paths
    return re.sub(r"^(https?):/(?!/)", r"\1://", u)


def http_datetime(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        dt = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)


@dataclass(frozen=True)
class Verdict:
    kind: str  # target | follow | none
    url: str | None = None  # the target (target) or the replay URL to request next (follow)
    memento_datetime: datetime | None = None
    note: str = ""


def _is_short(u: str, short_url: str) -> bool:
    return same_resource(u, short_url, short_queries(short_url))


def _acceptable(target: str) -> str | None:
    if not target.lower().startswith(("http://", "https://")):
        return "target is not an http(s) URL"
    if googl.is_sorry_url(target):
        return "the capture is Google's rate-limit (sorry) page"
    return None


def interpret(reply: Reply, *, short_url: str, patterns: list[re.Pattern | None],
              replay_for: "callable") -> Verdict:
    """What one raw replay of ``short_url`` says (pure). ``replay_for(url, ts)`` builds a replay URL."""
    md = http_datetime(reply.header("Memento-Datetime"))
    ts_match = _TS_IN_URL.search(reply.url)
    ts = ts_match.group(1) if ts_match else None
    when = md or (ts_to_datetime(ts) if ts else None)
    if 300 <= reply.status < 400:
        loc = reply.header("Location")
        if md is not None:
            orig = reply.header("X-Archive-Orig-Location")
            if orig:
                target = urljoin(short_url, orig.strip())
            elif loc and not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", loc.strip()) and not loc.startswith("//") \
                    and strip_prefix(urljoin(reply.url, loc.strip()), patterns) == urljoin(reply.url, loc.strip()):
                target = urljoin(short_url, loc.strip())  # relative and not into the archive: the original's
            elif loc:
                target = strip_prefix(urljoin(reply.url, loc.strip()), patterns)
            else:
                return Verdict("none", note=f"archived {reply.status} without Location")
            if _is_short(target, short_url):  # http -> https of the same short link
                abs_loc = urljoin(reply.url, loc.strip()) if loc else None
                rewritten = abs_loc is not None and strip_prefix(abs_loc, patterns) != abs_loc
                nxt = abs_loc if rewritten else replay_for(target, ts or "")
                return Verdict("follow", nxt, when, f"archived {reply.status} to the same short link")
            bad = _acceptable(target)
            if bad:
                return Verdict("none", note=bad)
            return Verdict("target", target, when, f"archived {reply.status} redirect")
        if not loc:
            return Verdict("none", note=f"archive answered {reply.status} without Location")
        nxt = urljoin(reply.url, loc.strip())
        if _is_short(strip_prefix(nxt, patterns), short_url):
            return Verdict("follow", nxt, None, reply.header("X-Archive-Redirect-Reason") or "archive redirect")
        return Verdict("none", note="archive redirected to another URL (a substitution, not evidence)")
    if reply.status == 200:
        text = reply.text
        if _VIEW_MODE.search(text):
            return _view_mode(text, reply, short_url, patterns, replay_for, when)
        if googl.is_interstitial(text):
            target = interstitial_target(text, short_url)
            if target:
                return Verdict("target", target, when, "goo.gl warning page names the target")
            return Verdict("none", note="goo.gl warning page without a continue link")
        return Verdict("none", note="a 200 page that names no target (soft 404?)")
    if reply.status == 404:
        return Verdict("none", note="not archived (404)")
    return Verdict("none", note=f"replay answered HTTP {reply.status}")


def _view_mode(text, reply, short_url, patterns, replay_for, when) -> Verdict:
    soup = BeautifulSoup(text, "lxml")
    a = soup.select_one("p.impatient a[href]") or soup.find("a", string=re.compile("Impatient", re.I))
    if a is None or not a.get("href"):
        return Verdict("none", note="view-mode redirect page without the Impatient link")
    nxt = urljoin(reply.url, a["href"])
    target = strip_prefix(nxt, patterns)
    if _is_short(target, short_url):
        m = _TS_IN_URL.search(nxt)
        return Verdict("follow", replay_for(target, m.group(1) if m else ""), when, "view-mode page")
    bad = _acceptable(target)
    if bad:
        return Verdict("none", note=bad)
    return Verdict("target", target, when, "view-mode 'Got an HTTP 3xx' page")


def interstitial_target(html: str, short_url: str) -> str | None:
    """The continue link of a goo.gl warning page: the first absolute link off Google's hosts."""
    soup = BeautifulSoup(html, "lxml")
    for a in soup.find_all("a", href=True):
        href = a["href"].strip()
        if not href.lower().startswith(("http://", "https://")):
            continue
        host = (urlsplit(href).hostname or "").lower()
        if host in _NOT_TARGET_HOSTS or host.endswith(".google.com") or _is_short(href, short_url):
            continue
        return href
    return None


# ---- TimeMaps ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Memento:
    uri: str
    datetime: datetime | None
    rel: str


def _split_entries(body: str) -> list[str]:
    """Split link-format on commas outside <...> and quoted strings."""
    out, buf, in_uri, in_q = [], [], False, False
    for ch in body:
        if ch == "<" and not in_q:
            in_uri = True
        elif ch == ">" and not in_q:
            in_uri = False
        elif ch == '"' and not in_uri:
            in_q = not in_q
        if ch == "," and not in_uri and not in_q:
            out.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
    out.append("".join(buf))
    return [e.strip() for e in out if e.strip()]


_PARAM = re.compile(r';\s*([a-zA-Z*-]+)\s*=\s*(?:"([^"]*)"|([^;\s]+))')


def parse_link_format(body: str) -> list[tuple[str, dict[str, str]]]:
    """(URI, params) of every entry of an RFC 6690/7089 link-format document."""
    entries = []
    for e in _split_entries(body):
        m = re.match(r"<([^>]*)>(.*)$", e, re.S)
        if not m:
            continue
        params = {k.lower(): (q if q is not None else b) for k, q, b in _PARAM.findall(m.group(2))}
        entries.append((m.group(1).strip(), params))
    return entries


def parse_timemap(body: str) -> list[Memento]:
    """Mementos of a TimeMap: entries whose rel holds the token ``memento``, oldest first."""
    seen, out = set(), []
    for uri, params in parse_link_format(body):
        rels = params.get("rel", "").lower().split()
        if "memento" not in rels or uri in seen:
            continue
        seen.add(uri)
        out.append(Memento(uri, http_datetime(params.get("datetime")), " ".join(rels)))
    far = datetime.max.replace(tzinfo=timezone.utc)
    return sorted(out, key=lambda m: m.datetime or far)


def raw_form(memento_uri: str) -> str:
    """The ``id_`` (raw) form of a Wayback-style URI-M; others unchanged."""
    m = _TS_IN_URL.search(memento_uri)
    if not m:
        return memento_uri
    return memento_uri[: m.start()] + f"/{m.group(1)}id_/" + memento_uri[m.end():]


def closest(mementos: list[Memento], at: datetime | None) -> list[Memento]:
    """Mementos closest to ``at`` first (newest first without it); undated ones last."""
    dated = [m for m in mementos if m.datetime is not None]
    undated = [m for m in mementos if m.datetime is None]
    if at is None:
        return sorted(dated, key=lambda m: m.datetime, reverse=True) + undated
    at = at.astimezone(timezone.utc) if at.tzinfo else at.replace(tzinfo=timezone.utc)
    return sorted(dated, key=lambda m: abs((m.datetime - at).total_seconds())) + undated
