"""One parse of a captured HTML page: its title, visible text and requisite references.

The capture stage reads every HTML page twice, for two reasons: whether the page is the
evidence (evidence.py: title, and visible text when it must be compared) and what it needs
to render (capture.requisites.html_urls). Both come from :func:`scan`, which parses with
lxml's HTML parser (libxml2, the parser BeautifulSoup's "lxml" builder drives, so the same
tree) once; each thread remembers its last two pages, so the second reader of a page (on
the same worker thread, right after the first) gets the first one's parse. The visible
text is only worked out when asked for. BeautifulSoup cost ~10x more per page here and
added nothing.

Text follows BeautifulSoup's ``get_text(" ", strip=True)`` after dropping script, style,
noscript and template (comments and processing instructions are not text): every string
in document order, whitespace collapsed to single spaces.
"""
from __future__ import annotations

import threading
from functools import cached_property

from lxml import etree

from .net.decode import quick_markup_text

HIDDEN = frozenset(("script", "style", "noscript", "template"))
MEDIA = ("img", "source", "input", "video", "audio", "embed", "track")
REF_TAGS = MEDIA + ("script", "link", "style", "body", "table", "td")
LINK_RELS = frozenset(("stylesheet", "icon", "shortcut", "apple-touch-icon", "apple-touch-icon-precomposed",
                       "preload", "mask-icon", "manifest"))

_local = threading.local()


class Scan:
    """What the capture stage reads of one HTML page (URLs as written, not yet resolved)."""

    def __init__(self, root=None):
        self._root = root
        title_el = next(root.iter("title"), None) if root is not None else None  # the first, wherever it is
        self.title = ""
        if title_el is not None and not any(a.tag == "template" for a in title_el.iterancestors()):
            self.title = _collapse(title_el.itertext())  # (inside a <template> it is no text, as for BeautifulSoup)
        base_el = next((b for b in root.iter("base") if b.get("href") is not None), None) if root is not None else None
        self.base_href: str | None = base_el.get("href") if base_el is not None else None
        # (kind, value) in document order: "url" (an attribute's URL) or "css" (style sheet text to read)
        self.refs: tuple[tuple[str, str], ...] = _refs(root) if root is not None else ()

    @cached_property
    def text(self) -> str:
        """The visible text, whitespace collapsed (worked out on first use)."""
        return _visible_text(self._root) if self._root is not None else ""


def _parser() -> etree.HTMLParser:
    parser = getattr(_local, "parser", None)
    if parser is None:  # lxml parsers are not thread-safe: one per thread
        # etree's, not lxml.html's: the same libxml2 parse, without a Python class lookup for every
        # element reached (lxml.html's HtmlElement API is not used here; 13 % of a scan)
        parser = _local.parser = etree.HTMLParser(encoding="utf-8")
    return parser


def _root(markup: bytes | str):
    text = quick_markup_text(markup) if isinstance(markup, (bytes, bytearray)) else markup
    if not text.strip():
        return None
    try:
        # bytes with the encoding given: lxml refuses str holding an XML encoding declaration
        return etree.fromstring(text.encode("utf-8", "surrogatepass"), _parser())
    except (etree.ParserError, etree.XMLSyntaxError, ValueError):
        return None


def _collapse(parts) -> str:
    return " ".join(" ".join(parts).split())


def _visible_text(root) -> str:
    out: list[str] = []
    stack: list[tuple[object, bool]] = [(root, False)]
    while stack:
        el, closing = stack.pop()
        if closing:
            if el.tail and el is not root:
                out.append(el.tail)
            continue
        tag = el.tag
        if isinstance(tag, str) and tag.lower() not in HIDDEN:
            stack.append((el, True))
            if el.text:
                out.append(el.text)
            stack.extend((child, False) for child in reversed(el))
        elif el.tail and el is not root:  # hidden element, comment or PI: only what follows it is text
            out.append(el.tail)
    return _collapse(out)


def _refs(root) -> tuple[tuple[str, str], ...]:
    found: list[tuple[str, str]] = []
    for el in root.iter(*REF_TAGS):  # the order of the tests matters: an element falls through to background
        name = el.tag.lower()
        if name in MEDIA:
            for attr in ("src", "poster"):
                if el.get(attr):
                    found.append(("url", el.get(attr)))
            if el.get("srcset"):
                found += [("url", part.strip().split()[0]) for part in el.get("srcset").split(",") if part.strip()]
        elif name == "script" and el.get("src"):
            found.append(("url", el.get("src")))
        elif name == "link" and el.get("href"):
            if {r.lower() for r in (el.get("rel") or "").split()} & LINK_RELS:
                found.append(("url", el.get("href")))
        elif name == "style":
            found.append(("css", "".join(el.itertext())))
        elif el.get("background"):
            found.append(("url", el.get("background")))
    for el in root.iter(etree.Element):
        if el.get("style") is not None:
            found.append(("css", el.get("style")))
    return tuple(found)


class _Recent(threading.local):
    """This thread's last pages: [(markup, Scan)], newest last; and hit/miss counts."""

    def __init__(self) -> None:
        self.pages: list = []
        self.hits = self.misses = 0


_recent = _Recent()
_KEEP = 2


def scan(markup: bytes | str) -> Scan:
    """Title, base and references (and, on demand, visible text) of an HTML page: bytes as UTF-8,
    else Latin-1. Pure; a page this thread has just scanned is not parsed again."""
    recent = _recent
    for seen, result in recent.pages:
        if seen is markup or (len(seen) == len(markup) and type(seen) is type(markup) and seen == markup):
            recent.hits += 1
            return result
    recent.misses += 1
    result = Scan(_root(markup))
    recent.pages = recent.pages[-(_KEEP - 1):] + [(markup, result)]
    return result


def cache_info() -> tuple[int, int]:
    """(hits, misses) of this thread's page memory."""
    return _recent.hits, _recent.misses
