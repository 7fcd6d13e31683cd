"""goo.gl and Google specifics (reference §1): pure functions, no I/O.

- The 2024-25 warning (interstitial) page is a 200 saying "This link will no longer
  work in the near future"; ``?si=1`` skips it with a 302. ``si=1`` (and ``d=1``) are
  ours, never part of a target.
- Dead answers: 404 (deactivated or never existed), 400 (disallowed), the 2018
  "this goo.gl shortlink has been disabled" 200 page, and Firebase's "Dynamic Link
  Not Found" (maps.app.goo.gl).
- Rate limiting is a redirect to Google's captcha page, never a target. Two shapes are
  recognised (``is_sorry_url``):
  * the real one: any host ``google.<tld>`` (with or without ``www.`` or a second-level
    suffix such as ``google.co.uk``) whose path starts with ``/sorry`` (ArchiveTeam's
    goo-gl-grab test ``^https?://[^/]*google\\.[^./]+/sorry``, widened to ``co.uk``-style TLDs,
    which also covers terroroftinytown's ``www.google.com/sorry/index?continue=https://goo.gl/...&q=``);
  * on any other host, only the precise shape ``/sorry/index?continue=...`` (what the
    simulated web and any local imitation serve). A bare ``/sorry`` path on an unknown
    host is an ordinary page: real sites use that path too.
"""
from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from .html_redirects import anchors

INTERSTITIAL_MARKERS = (
    "this link will no longer work in the near future",
    "goo.gl links will no longer function",
)
DEAD_PAGE_MARKERS = (
    "this goo.gl shortlink has been disabled",  # 2018 ToS page, a 200 [S24]
    "dynamic link not found",  # Firebase Dynamic Links, maps.app.goo.gl [S23]
)
OWN_PARAMS = ("si", "d")  # added by us to reach past goo.gl's pages

_GOOGLE_SORRY = re.compile(r"^https?://(?:[^/?#@]*\.)?google\.[a-z]{2,}(?:\.[a-z]{2})?(?::\d+)?/sorry", re.I)
# Hosts an interstitial links to that are not the target.
_NOT_TARGET_HOSTS = ("developers.googleblog.com", "support.google.com", "policies.google.com", "goo.gl")


def _low(body: bytes | str, limit: int = 65536) -> str:
    if isinstance(body, bytes):
        body = body[:limit].decode("utf-8", "replace")
    return body[:limit].lower()


def is_interstitial(body: bytes | str) -> bool:
    """goo.gl's "This link will no longer work" warning page (2024-08-23 .. 2025-08-25)."""
    text = _low(body)
    return any(m in text for m in INTERSTITIAL_MARKERS)


def dead_page_marker(body: bytes | str) -> str | None:
    """The phrase that makes a 200 page a "this link does not exist" answer, if any."""
    text = _low(body)
    return next((m for m in DEAD_PAGE_MARKERS if m in text), None)


def is_sorry_url(url: str | None) -> bool:
    """Is this Google's rate-limit/captcha page (real shape or local imitation)? See module doc."""
    if not url:
        return False
    if _GOOGLE_SORRY.match(url):
        return True
    parts = urlsplit(url)
    return parts.path.rstrip("/") == "/sorry/index" and any(k == "continue" for k, _ in parse_qsl(parts.query))


def _own(pair: str) -> bool:
    return pair in ("si=1", "d=1")


def with_si(url: str) -> str:
    """The URL with ``si=1`` added (``&si=1`` after an existing query, reference §7 [U]).
    The raw query is kept byte for byte so the request is the one a browser would send."""
    parts = urlsplit(url)
    pairs = [p for p in parts.query.split("&") if p and not p.startswith("si=")]
    return urlunsplit(parts._replace(query="&".join(pairs + ["si=1"]), fragment=""))


def strip_own_params(url: str) -> str:
    """Remove ``si=1``/``d=1`` so they never end up in a stored URL (the rest kept as is)."""
    parts = urlsplit(url)
    pairs = parts.query.split("&") if parts.query else []
    kept = [p for p in pairs if not _own(p)]
    if len(kept) == len(pairs):
        return url
    return urlunsplit(parts._replace(query="&".join(kept)))


def interstitial_continue(body: bytes | str, page_url: str) -> str | None:
    """The warning page's continue link: the first link off Google's own pages. A fallback
    only, since the page's markup is unconfirmed [reference §1.2, U]; ``?si=1`` comes first."""
    page_netloc = urlsplit(page_url).netloc.lower()
    for url, _attrs in anchors(body, page_url):
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.netloc.lower() == page_netloc or any(host == h or host.endswith("." + h) for h in _NOT_TARGET_HOSTS):
            continue
        return url
    return None
