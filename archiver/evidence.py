"""Is a 200 really the cited page? Soft 404s, parked domains and pages that stand in for one.

A capture answering 200 may still not be evidence: a site's "not found" page
served with 200 (soft 404), a parked or for-sale domain, or a page that stands
between the reader and the target (goo.gl's 2024-25 warning page, the Wayback
view-mode "Got an HTTP 3xx response at crawl time" page, Firebase "Dynamic Link
Not Found", Google's rate-limit "sorry" page).  Such captures are kept (they are
what the web answered) but marked ``not_evidence`` with the reason returned here,
and the pipeline goes on looking (web archives).

Soft 404s are found the way Bar-Yossef et al. and Heritrix do it: fetch a random
path on the same host (``probe``) and compare; a page that looks like the answer
to nonsense is not the cited page.  The probe is skipped for a site's home page,
which a soft-404 site legitimately serves for unknown paths.
"""
from __future__ import annotations

import difflib
import re
import secrets
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urljoin, urlsplit, urlunsplit

from .markup import scan

MAX_TEXT_BYTES = 500_000
SIMILAR = 0.90  # text similarity at or above which a page "is" the random-path page
SIMILAR_SAME_TITLE = 0.80

_SORRY_TEXT = ("our systems have detected unusual traffic from your computer network",)
_STANDIN_MARKERS: tuple[tuple[str, str], ...] = (
    ("this link will no longer work in the near future", "goo.gl warning page (interstitial), not the target"),
    ("goo.gl links will no longer function", "goo.gl warning page (interstitial), not the target"),
    ("dynamic link not found", "Firebase 'Dynamic Link Not Found' page"),
    ("this goo.gl shortlink has been disabled", "goo.gl link disabled (Terms of Service page)"),
)
_VIEW_MODE = re.compile(r"got an? http 3\d\d response at crawl time")
PARKING_HOSTS = (
    "sedoparking.com", "sedo.com", "parkingcrew.net", "bodis.com", "above.com", "hugedomains.com",
    "dan.com", "afternic.com", "undeveloped.com", "parklogic.com", "domainmarket.com", "buydomains.com",
    "parkweb.co", "smartname.com", "voodoo.com", "uniregistry.com", "namebright.com", "skenzo.com",
)
PARKING_PHRASES = (
    "this domain is for sale", "this domain may be for sale", "the domain is for sale",
    "domain is for sale", "buy this domain", "make an offer on this domain", "this domain name is for sale",
    "is parked free, courtesy of", "this web page is parked", "this domain is parked", "domain parking",
    "the owner of this domain has not yet uploaded", "parked domain", "inquire about this domain",
    "sedoparking", "parkingcrew", "window.park =",
)
# Checked on every captured page (~30 KB of text): one ``in`` scan per phrase and per host cost
# ~0.35 ms a page, a tenth of a page's whole capture. Every phrase holds one of these words
# (tests/test_evidence.py checks it), so a page without them needs no further look; a parking
# host is looked for only where a name ends as one of them does (one regex pass over the page).
PHRASE_ANCHORS = ("domain", "park")
_PARKING_SET = frozenset(PARKING_HOSTS)
_HOST_ENDS = re.compile(r"\.(?:%s)\b" % "|".join(
    sorted({h.rsplit(".", 1)[1] for h in PARKING_HOSTS}, key=len, reverse=True)))
_NOT_FOUND_TITLE = re.compile(
    r"\b(404|410)\b|not found|page cannot be found|page can(?:'|no)t be found|does ?n[o']t exist|"
    r"no longer (?:exists|available)|seite nicht gefunden|page introuvable|страница не найдена|səhifə tapılmadı",
    re.I)


@dataclass(frozen=True)
class Page:
    status: int | None
    url: str
    body: bytes
    content_type: str | None = None


def _as_page(obj: Any, url: str) -> Page:
    if obj is None:
        return Page(None, url, b"")
    if isinstance(obj, (bytes, bytearray, str)):
        body = obj.encode("utf-8", "replace") if isinstance(obj, str) else bytes(obj)
        return Page(200, url, body)
    if isinstance(obj, tuple):  # (status, url, body)
        status, purl, body = obj
        return _as_page(Page(status, purl or url, body if isinstance(body, bytes) else str(body or "").encode()),
                        url)
    if isinstance(obj, Page):
        return obj
    headers = getattr(obj, "headers", None) or {}
    ct = headers.get("Content-Type") if hasattr(headers, "get") else None
    body = getattr(obj, "body", b"") or b""
    if isinstance(body, str):
        body = body.encode("utf-8", "replace")
    return Page(getattr(obj, "status", None), getattr(obj, "url", None) or url, bytes(body), ct)


def _is_textual(page: Page) -> bool:
    ct = (page.content_type or "").lower()
    if ct:
        return "html" in ct or "text/" in ct or "xml" in ct
    head = page.body[:512].lstrip().lower()
    return head.startswith((b"<", b"<!doctype")) or not head.startswith(b"%pdf")


def page_text(body: bytes) -> tuple[str, str]:
    """(title, visible text) of an HTML page, whitespace collapsed.

    Decoded by quick_markup_text: enough to compare a page with its probe and to read markers.
    One parse per page, shared with the requisites' reader (archiver/markup.py)."""
    found = scan(body[:MAX_TEXT_BYTES])
    return found.title, found.text


def similarity(a: str, b: str) -> float:
    """Word-level similarity (difflib) of two texts; 1.0 for two empty texts."""
    wa, wb = a.lower().split()[:3000], b.lower().split()[:3000]
    if not wa and not wb:
        return 1.0
    sm = difflib.SequenceMatcher(None, wa, wb, autojunk=False)
    if sm.real_quick_ratio() < SIMILAR_SAME_TITLE:
        return sm.real_quick_ratio()
    return sm.ratio()


def _lower_text(page: Page) -> str:
    return page.body[:MAX_TEXT_BYTES].decode("utf-8", "replace").lower()


def standin_reason(page: Page, low: str | None = None) -> str | None:
    """Pages that stand in for the target (interstitials, archive and Google pages), by marker.
    ``low``: the page's text lower-cased, when the caller has it already."""
    from .resolve.googl import is_sorry_url

    if is_sorry_url(page.url):
        return "Google rate-limit (sorry) page"
    low = _lower_text(page) if low is None else low
    if any(m in low for m in _SORRY_TEXT):
        return "Google rate-limit (sorry) page"
    if _VIEW_MODE.search(low):
        return "web archive redirect page ('Got an HTTP 3xx response at crawl time'), not the target"
    for marker, reason in _STANDIN_MARKERS:
        if marker in low:
            return reason
    return None


def parked_reason(page: Page, low: str | None = None) -> str | None:
    host = (urlsplit(page.url).hostname or "").lower()
    if is_parking_host(host):
        return f"parked or for-sale domain (served by {host})"
    low = _lower_text(page) if low is None else low
    hit = next((p for p in PARKING_PHRASES if p in low), None) if any(a in low for a in PHRASE_ANCHORS) else None
    if hit:
        return f"parked or for-sale domain ('{hit}')"
    if not names_parking_host(low):  # no parking host named at all: no link to one
        return None
    links = re.findall(r"(?:href|src)\s*=\s*[\"']?https?://([^/\"'\s>]+)", low)
    for h in links:
        if is_parking_host(h):
            return f"parked or for-sale domain (page loads {h})"
    return None


def names_parking_host(low: str) -> bool:
    """Whether lower-cased ``low`` names a parking host, alone or as the end of a longer host name
    (www.sedo.com), as a word: what a link to one must hold. Pure."""
    for m in _HOST_ENDS.finditer(low):
        start = m.start()
        while start > 0 and (low[start - 1].isalnum() or low[start - 1] in "-."):
            start -= 1
        if is_parking_host(low[start:m.end()]):
            return True
    return False


def is_parking_host(host: str) -> bool:
    """``host`` is a parking host or a name under one (www.sedo.com). Pure."""
    labels = host.split(".")
    return any(".".join(labels[i:]) in _PARKING_SET for i in range(len(labels)))


def probe_url(url: str) -> str | None:
    """A random path on the same host (None for a home page: nothing to compare it with)."""
    parts = urlsplit(url)
    if parts.path in ("", "/") and not parts.query:
        return None
    return urlunsplit((parts.scheme, parts.netloc, f"/{secrets.token_hex(8)}-archiver-probe", "", ""))


def check_evidence(exchange_or_body: Any, *, url: str, probe: Callable[[str], Any] | None = None) -> str | None:
    """Why this capture is not the cited page, or None when it may well be.

    ``exchange_or_body``: a recorder Exchange (status, url, headers, body), a
    ``(status, url, body)`` tuple, or the body alone. ``probe(random_url)`` fetches
    a random path on the same host and returns the same kinds of thing (or None).
    """
    page = _as_page(exchange_or_body, url)
    if page.status is not None and not 200 <= page.status < 300:
        return None  # not a 200: the caller already knows it is not the page
    if not _is_textual(page):
        return parked_reason(Page(page.status, page.url, b""))
    low = _lower_text(page)
    reason = standin_reason(page, low) or parked_reason(page, low)
    if reason:
        return reason
    found = scan(page.body[:MAX_TEXT_BYTES])  # the text is worked out only when it is compared
    title = found.title
    if _NOT_FOUND_TITLE.search(title) and len(found.text) < 5000:
        return f"soft 404: the page says '{title[:80]}'"
    if probe is None:
        return None
    purl = probe_url(url)  # the cited URL decides: a cited home page is not compared
    if purl is None:
        return None
    other = _as_page(probe(purl), purl)
    if other.status is None or not 200 <= other.status < 300 or not other.body:
        return None  # the site answers nonsense with an error: a 200 here means something
    if other.url and page.url and _same_url(other.url, page.url) and not _same_url(page.url, url):
        return f"soft 404: a random path ends at the same URL ({other.url})"
    p_title, p_text = page_text(other.body)
    text = found.text
    sim = similarity(text, p_text)
    if not text and not p_text:
        size_close = abs(len(page.body) - len(other.body)) <= 0.02 * max(len(page.body), 1)
        return "soft 404: same page as a random path on this host" if size_close and title == p_title else None
    if sim >= SIMILAR or (title and title == p_title and sim >= SIMILAR_SAME_TITLE):
        return f"soft 404: {sim:.0%} the same as a random path on this host"
    return None


def _same_url(a: str, b: str) -> bool:
    pa, pb = urlsplit(a), urlsplit(b)
    return (pa.netloc.lower(), pa.path or "/", pa.query) == (pb.netloc.lower(), pb.path or "/", pb.query)


def make_probe(client, *, max_bytes: int = 1_000_000, max_hops: int = 5) -> Callable[[str], Page | None]:
    """A probe over the HttpClient: follows redirects itself (the client never does)."""
    from .errors import FetchError

    def probe(url: str) -> Page | None:
        for _ in range(max_hops):
            try:
                fetched, body = client.get_bytes(url, max_bytes=max_bytes)
            except FetchError:
                return None
            loc = fetched.headers.get("Location")
            if 300 <= fetched.status < 400 and loc:
                url = urljoin(url, loc)
                continue
            return Page(fetched.status, url, body, fetched.headers.get("Content-Type"))
        return None
    return probe
