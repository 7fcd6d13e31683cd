"""A replayed page's own scripts may read its own site's records, and nothing else (issue 11).

**The problem.** A scripted memento runs sandboxed (``sandbox="allow-scripts"`` on the interface's
iframe, ``sandbox allow-scripts`` in our CSP): its origin is opaque, ``null``. Its script's
``fetch('/data.json')``, which wombat rewrites to ``/web/<ts>mp_/http://site/data.json`` on the
replay origin, is therefore a *cross-origin* request sent with ``Origin: null``; the replay origin
answered it without ``Access-Control-Allow-Origin`` (and drops the archived one), so Chromium kept
the answer from the script ("blocked by CORS policy ... from origin 'null'") and a page built by
scripts replayed as an empty shell, although every record it needs is in the WARC.

**Why not ``allow-same-origin``.** On a frame that is cross-origin to the interface it would not give
archived scripts the interface's origin, but it would give them the replay origin's: they could read
everything it serves, the index and every other site's records, and keep state there for the next
page. The isolation tests (tests/browser/test_replay_isolation.py) refuse exactly that.

**What we do: a capability per archived origin.** A framed scripted memento of ``http://site`` that
comes without a scope is redirected once to the same memento under ``/o/<scope>/``, a scope the
replay origin signs (web/access.py) naming ``http://site``; pywb writes the prefix into every URL it
rewrites, so the page's own requests carry it. An answer to a request that carries a valid scope and
comes from an opaque origin (``Origin: null``) gets ``Access-Control-Allow-Origin: null`` only when
the record asked for is of the scope's origin (what the page could read on the live web without
CORS), or when its archived answer allowed that origin or ``*`` (what the live site allowed it). The
index (our CDX API, TimeMaps), TimeGates, pywb's frame page and other sites' records never get it.

**Why that holds.**

* The page keeps its opaque origin: no cookies, storage or DOM of the replay origin or the interface.
* A scope cannot be forged (HMAC, ``SCOPE_MAX_AGE_S``) and is issued only to a framed scripted
  memento (``Sec-Fetch-Dest``, which scripts cannot set), for the origin of the URL it replays: a
  page cannot fetch its way to another site's scope, and a page that frames another site's memento
  gets a document it cannot read (another opaque origin).
* A frame moved to another site's memento is redirected to that site's scope, never left in the old one.
* Without a scope (a memento opened alone, another web page's sandboxed frame) nothing is readable.
* What a page reads it still cannot send anywhere: loads and connections go to the replay origin only.
"""
from __future__ import annotations

import re
from urllib.parse import urlsplit

SCOPE_PREFIX = "/o/"
_TOKEN_CHARS = re.compile(r"[^A-Za-z0-9, -]")
PREFLIGHT_METHODS = "GET, HEAD, POST"


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of an archived URL (lower-cased, default port dropped); '' without a host."""
    if not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", url):
        url = "http://" + url.lstrip("/")  # pywb accepts URLs without a scheme
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return ""
    host = (parts.hostname or "").lower()
    if not host:
        return ""
    scheme = parts.scheme.lower()
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}" + (f":{port}" if port and port != {"http": 80, "https": 443}.get(scheme) else "")


def split(path: str) -> tuple[str | None, str]:
    """(scope token, the path after it) for ``/o/<scope>/...``; (None, path) for any other path."""
    if not path.startswith(SCOPE_PREFIX):
        return None, path
    token, _, rest = path[len(SCOPE_PREFIX):].partition("/")
    return token, "/" + rest


def may_read(scope: str, target_url: str, archived_allow_origin: str | None) -> bool:
    """Whether a page of origin ``scope`` may read the record of ``target_url`` (module doc)."""
    if origin_of(target_url) == scope:
        return True
    allowed = (archived_allow_origin or "").strip()
    return allowed == "*" or (bool(allowed) and origin_of(allowed) == scope)


def archived_allow_origin(headers: list[tuple[str, str]]) -> str | None:
    """The archived answer's ``Access-Control-Allow-Origin`` (pywb passes it as is or as X-Archive-Orig-...)."""
    for k, v in headers:
        if k.lower() in ("access-control-allow-origin", "x-archive-orig-access-control-allow-origin"):
            return v
    return None


def read_grant() -> list[tuple[str, str]]:
    return [("Access-Control-Allow-Origin", "null"), ("Vary", "Origin")]


def preflight_grant(environ) -> list[tuple[str, str]]:
    """The answer to a CORS preflight of an in-scope request: the headers it asked for (tokens only)."""
    asked = _TOKEN_CHARS.sub("", environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS", ""))[:512]
    out = read_grant() + [("Access-Control-Allow-Methods", PREFLIGHT_METHODS), ("Access-Control-Max-Age", "600")]
    return out + ([("Access-Control-Allow-Headers", asked)] if asked.strip() else [])


__all__ = ["SCOPE_PREFIX", "origin_of", "split", "may_read", "archived_allow_origin", "read_grant",
           "preflight_grant"]
