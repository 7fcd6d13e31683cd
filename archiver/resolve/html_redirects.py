"""Redirects written in HTML instead of HTTP headers (pure functions, no I/O).

Shorteners answer some clients with a 200 page that moves the browser on:
``<meta http-equiv="refresh" content="0;URL=...">`` and/or a script such as
``location.replace("https:\\/\\/bit.ly\\/3MPuAsi")`` (t.co, reference §4; the JSON-style
``\\/`` escapes must be undone). Regexes rather than an HTML parser on purpose: these
pages are tiny and often malformed (t.co's 2013 page puts ``<meta>`` outside ``<head>``,
inside ``<noscript>``), and the same code must read pages that are not quite HTML.
"""
from __future__ import annotations

import html
import re
from urllib.parse import urljoin, urlsplit

# JavaScript redirects are only believed on pages this small: a large page that
# mentions `window.location = ...` is a real page with scripts, not a redirect.
JS_PAGE_MAX_BYTES = 4096
# A meta refresh that waits longer than this is a "reload the page" timer, not a redirect.
META_MAX_DELAY_S = 10.0

_META_TAG = re.compile(r"<meta\b[^>]*>", re.I | re.S)
_ATTR = re.compile(r"""([\w:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.S)
_REFRESH = re.compile(r"""^\s*(\d+(?:\.\d*)?)?\s*[;,]?\s*(?:url\s*=\s*)?(.*)$""", re.I | re.S)
_JS_STRING = r"""(?P<q>["'])(?P<url>(?:\\.|(?!(?P=q)).)*)(?P=q)"""
_JS_REDIRECTS = [
    re.compile(r"(?:window\.|document\.|top\.|self\.)?location\.(?:replace|assign)\s*\(\s*" + _JS_STRING, re.S),
    re.compile(r"(?:window\.|document\.|top\.|self\.)?location(?:\.href)?\s*=\s*" + _JS_STRING, re.S),
]
_JS_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|.)", re.S)
_ANCHOR = re.compile(r"<a\b([^>]*)>", re.I | re.S)


def _attrs(tag: str) -> dict[str, str]:
    out = {}
    for m in _ATTR.finditer(tag):
        value = next(v for v in m.groups()[1:] if v is not None)
        out.setdefault(m.group(1).lower(), html.unescape(value))
    return out


def _text(body: bytes | str) -> str:
    if isinstance(body, str):
        return body
    # Encoding barely matters for URLs; latin-1 never fails and keeps ASCII intact.
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body.decode("latin-1")


def _usable(url: str) -> bool:
    return bool(url) and urlsplit(url).scheme in ("http", "https")


def meta_refresh(body: bytes | str, base_url: str) -> str | None:
    """The absolute URL a ``<meta http-equiv="refresh">`` sends the browser to, if any."""
    for tag in _META_TAG.findall(_text(body)):
        attrs = _attrs(tag)
        if attrs.get("http-equiv", "").strip().lower() != "refresh":
            continue
        m = _REFRESH.match(attrs.get("content", ""))
        if not m:
            continue
        delay, target = m.group(1), m.group(2).strip().strip("'\"").strip()
        if not target or (delay and float(delay) > META_MAX_DELAY_S):
            continue
        url = urljoin(base_url, target)
        if _usable(url):
            return url
    return None


def unescape_js(s: str) -> str:
    """Undo JavaScript string escapes: ``\\/`` -> ``/``, ``\\u0026`` -> ``&``, ``\\x3d`` -> ``=``."""
    def repl(m: re.Match) -> str:
        e = m.group(1)
        if len(e) > 1 and e[0] in "ux":
            return chr(int(e[1:], 16))
        return {"n": "\n", "t": "\t", "r": "\r"}.get(e, e)
    return _JS_ESCAPE.sub(repl, s)


def js_redirect(body: bytes | str, base_url: str) -> str | None:
    """The URL of a simple scripted redirect on a tiny page, if any."""
    if len(body) > JS_PAGE_MAX_BYTES:
        return None
    text = _text(body)
    for pattern in _JS_REDIRECTS:
        for m in pattern.finditer(text):
            url = urljoin(base_url, unescape_js(m.group("url")).strip())
            if _usable(url):
                return url
    return None


def html_redirect(body: bytes | str, base_url: str) -> tuple[str, str] | None:
    """``(kind, url)`` for a page that redirects: kind is ``meta-refresh`` or ``js``.

    The meta tag wins when both are present (t.co sends both, pointing at the same URL).
    """
    url = meta_refresh(body, base_url)
    if url:
        return "meta-refresh", url
    url = js_redirect(body, base_url)
    if url:
        return "js", url
    return None


def anchors(body: bytes | str, base_url: str) -> list[tuple[str, dict[str, str]]]:
    """Absolute http(s) ``<a href>`` targets with their attributes, in document order."""
    out = []
    for m in _ANCHOR.finditer(_text(body)):
        attrs = _attrs(m.group(1))
        href = attrs.get("href", "").strip()
        if href:
            url = urljoin(base_url, href)
            if _usable(url):
                out.append((url, attrs))
    return out


# ---- what other shorteners' 200 pages mean (reference §4) -----------------------------------

def owly_continue(body: bytes | str, base_url: str) -> str | None:
    """ow.ly's warning page links the target as ``<a class="btn ignore" href="...">``."""
    for url, attrs in anchors(body, base_url):
        if {"btn", "ignore"} <= set(attrs.get("class", "").split()):
            return url
    return None


def is_tinyurl_error(url: str) -> bool:
    """tinyurl's "errorhelp" pages meta-refresh to ``/errorb.php?url=...&path=/<code>``."""
    return urlsplit(url).path.rstrip("/").endswith("/errorb.php")
