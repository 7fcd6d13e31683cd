"""Page requisites: what an HTML page (or its CSS) needs to render as the reader saw it.

Discovery is pure (bytes + base URL → absolute URLs, in document order, de-duplicated);
:func:`fetch_requisites` fetches them through the Recorder within the per-page
budget (``fetch.requisites.max_per_page`` / ``max_bytes_per_page``). Requisites
on other hosts are included; each fetch is policy-checked by the HttpClient.
"""
from __future__ import annotations

import logging
import re
from collections import deque
from typing import TYPE_CHECKING, Iterable
from urllib.parse import urldefrag, urljoin, urlsplit

from ..config import Settings
from ..errors import FetchError
from ..model import WarcRef
from ..markup import scan

if TYPE_CHECKING:
    from .recorder import Recorder

log = logging.getLogger(__name__)

_CSS_URL = re.compile(r"""url\(\s*(?:"([^"]*)"|'([^']*)'|([^)'"\s]*))\s*\)""", re.I)
_CSS_IMPORT = re.compile(r"""@import\s+(?:"([^"]*)"|'([^']*)')""", re.I)


def _clean(urls: Iterable[str], base: str) -> list[str]:
    out: dict[str, None] = {}
    for raw in urls:
        raw = (raw or "").strip()
        if not raw or raw.startswith(("data:", "javascript:", "#", "about:", "blob:")):
            continue
        absolute = urldefrag(urljoin(base, raw))[0]
        if urlsplit(absolute).scheme in ("http", "https"):
            out.setdefault(absolute, None)
    return list(out)


def css_urls(css: str, base_url: str) -> list[str]:
    """url(...) references and @import targets in a style sheet or <style> block."""
    found = [next(g for g in m.groups() if g is not None) for m in _CSS_URL.finditer(css)]
    found += [m.group(1) or m.group(2) for m in _CSS_IMPORT.finditer(css)]
    return _clean(found, base_url)


def html_urls(html: bytes | str, base_url: str) -> list[str]:
    """Images (src, srcset), style sheets, icons, preloads, scripts, and url(...) in <style> / style=.

    One parse per page, shared with the evidence check (archiver/markup.py)."""
    found = scan(html)
    base = urljoin(base_url, found.base_href) if found.base_href is not None else base_url
    urls: list[str] = []
    for kind, value in found.refs:
        if kind == "css":
            urls += css_urls(value, base)
        else:
            urls.append(value)
    return _clean(urls, base)


def is_css(content_type: str | None, url: str) -> bool:
    return "css" in (content_type or "").lower() or urlsplit(url).path.lower().endswith(".css")


def fetch_requisites(page_url: str, html: bytes, *, recorder: "Recorder", settings: Settings,
                     max_redirects: int = 3) -> tuple[WarcRef, ...]:
    """Fetch the page's requisites (and those its CSS names) within the budget; failures are skipped."""
    budget = settings.fetch.requisites
    queue = deque(html_urls(html, page_url))
    seen = set(queue) | {page_url}
    refs: list[WarcRef] = []
    used_bytes = 0
    while queue and len(refs) < budget.max_per_page and used_bytes < budget.max_bytes_per_page:
        url = queue.popleft()
        hops = 0
        while True:
            try:
                ex = recorder.fetch(url, keep_body=2_000_000)
            except FetchError as exc:
                log.info("requisite %s skipped: %s", url, exc)
                break
            refs.append(ex.warc)
            used_bytes += ex.payload_length
            location = ex.headers.get("Location")
            if 300 <= ex.status < 400 and location and hops < max_redirects and len(refs) < budget.max_per_page:
                url, hops = urldefrag(urljoin(url, location))[0], hops + 1
                if url in seen:
                    break
                seen.add(url)
                continue
            if 200 <= ex.status < 300 and is_css(ex.headers.get("Content-Type"), url):
                text = ex.body.decode("utf-8", errors="replace")
                for found in css_urls(text, url):
                    if found not in seen:
                        seen.add(found)
                        queue.append(found)
            break
    return tuple(refs)
