"""What every answer of the replay origin may carry: the headers that keep archived pages in their box.

Archived pages are written by anyone; on the replay origin they must reach nothing but the replay
origin, read nothing of it, and leave nothing behind in the browser. So every answer:

* carries a ``Content-Security-Policy`` with ``sandbox``: an archived document gets an opaque origin
  and cannot read the replay origin's other answers (the index, other sites' records) even when opened on
  its own; a framed page's scripts may read its own site's records, through a signed scope
  (web/replay_scope.py). Scripts run only in a rewritten memento (``mp_``, ``if_``, ``fr_``) loaded as a frame
  (``Sec-Fetch-Dest: iframe``) of the interface or of pywb's frame page, whose own CSP (``frame-src``)
  keeps the frame from navigating elsewhere. Raw ``id_`` and every other mode, and any memento
  opened as a page of its own, run no script at all;
* allows loads and connections (``default-src``, ``connect-src``, so no ``ws:``/``wss:``) only to the
  replay origin itself, ``form-action`` too; framing only by the interface and pywb's frame page;
* loses what an archived response would do to the browser: ``Set-Cookie`` (cookies are per host, not
  per port: an archived ``Path=/`` cookie would replace the interface's login), ``Clear-Site-Data``,
  the archived site's own CSP and reporting endpoints (``report-uri``, ``Report-To``, ``NEL``: beacons),
  CORS grants (``Access-Control-*``: a sandboxed page could read what they allow), HSTS and ``Alt-Svc``.

pywb's frame page (``/web/<ts>/<url>``, no modifier) is pywb's own HTML and scripts, never archived
bytes; it is not sandboxed (its scripts drive the frame) but may load nothing from elsewhere and frame
only the replay origin.
"""
from __future__ import annotations

import re

DROP = frozenset({
    "set-cookie", "set-cookie2", "clear-site-data", "content-security-policy", "content-security-policy-report-only",
    "report-to", "reporting-endpoints", "nel", "strict-transport-security", "alt-svc", "service-worker-allowed",
    "access-control-allow-origin", "access-control-allow-credentials", "access-control-allow-headers",
    "access-control-allow-methods", "access-control-expose-headers", "access-control-max-age",
    "timing-allow-origin", "referrer-policy", "x-dns-prefetch-control",
})
SCRIPTED_MODES = ("mp_", "if_", "fr_")  # pywb's rewritten documents (wombat inside)
_MEMENTO = re.compile(r"^/web/(?!timemap/)(?P<ts>\d{1,14})?(?P<mod>[a-z]{2}_)?/")


def kind(path: str) -> str:
    """``frame`` (pywb's frame page or TimeGate), ``memento`` (archived bytes in some mode, ``scripted``
    when pywb rewrote them as a document), ``static`` (pywb's own scripts and styles) or ``ours``."""
    if path.startswith("/static/"):
        return "static"
    m = _MEMENTO.match(path)
    if m is None:
        return "frame" if path.startswith("/web/") and not path.startswith("/web/timemap/") else "ours"
    if m["mod"] is None:
        return "frame"
    return "scripted" if m["mod"] in SCRIPTED_MODES else "memento"


def target(path: str) -> str | None:
    """The archived URL a memento path replays (``/web/<ts><mod>/<url>`` → ``<url>``), or None."""
    m = _MEMENTO.match(path)
    return path[m.end():] if m else None


def csp(kind: str, framed: bool, ui_origin: str, self_source: str) -> str:
    """The policy for one answer (module doc). ``self_source`` is the replay origin as the browser named
    it: ``'self'`` of a sandboxed document is not the replay origin everywhere."""
    here = f"'self' {self_source}"
    ancestors = f"'self' {ui_origin}".strip()
    if kind == "frame":
        return (f"default-src {here} 'unsafe-inline'; img-src {here} data:; connect-src {here}; "
                f"frame-src {here}; form-action 'none'; base-uri 'none'; object-src 'none'; "
                "frame-ancestors 'none'")
    if kind in ("scripted", "memento"):
        sandbox = "sandbox allow-scripts" if kind == "scripted" and framed else "sandbox"
        return (f"{sandbox}; default-src {here} 'unsafe-inline' 'unsafe-eval' data: blob:; connect-src {here}; "
                f"form-action {here}; base-uri {here}; frame-ancestors {ancestors}")
    return "sandbox; default-src 'none'; frame-ancestors 'none'"


def safe_headers(headers: list[tuple[str, str]], policy: str) -> list[tuple[str, str]]:
    """pywb's headers without what an archived response must not do to the browser, plus ours."""
    kept = [(k, v) for k, v in headers if k.lower() not in DROP]
    return kept + [("Content-Security-Policy", policy), ("Referrer-Policy", "no-referrer"),
                   ("X-DNS-Prefetch-Control", "off")]


def own_headers() -> list[tuple[str, str]]:
    """For what the replay origin says itself (CDX, errors): nothing to run, nothing to frame."""
    return [("Content-Security-Policy", csp("ours", False, "", "")), ("Referrer-Policy", "no-referrer"),
            ("X-Content-Type-Options", "nosniff"), ("X-DNS-Prefetch-Control", "off")]


__all__ = ["kind", "target", "csp", "safe_headers", "own_headers", "DROP"]
