"""Every request the browser makes, answered by archiver's own Recorder (the browser never touches the network).

Why our fetcher rather than a recording proxy (warcprox, pywb's recorder): the plain capture's
HttpClient already enforces the address policy on every connection (the URL *and* the
connected peer, so DNS rebinding cannot slip through), the size and time limits, and records
the exact bytes sent and received with archiver.digests. Answering each of the browser's
requests through it (Playwright ``route`` → :meth:`Recorder.fetch` → ``route.fulfill``) gives
the browser's traffic the very same policy, records, digests and revisits as plain captures,
with no second recorder to keep in step. A script that navigates or fetches to a private
address is refused by the same check (FetchRefused) and nothing of it is recorded.

Redirects are followed here, one recorded hop at a time under the same policy, and the
browser is answered with the final response: Chromium sends the next request of a redirect
fulfilled by Playwright straight to the network, past ``route`` (the launch's dead proxy
stops it, see browser.py), so a 3xx is never handed to it.

The page's own document is answered from the plain capture's record (``document``), so the
screenshot shows the bytes that are the evidence and the page is not fetched twice.

GET is fetched, and POST when a script sends it (``fetch``/``XMLHttpRequest``: search boxes, APIs
that take a JSON query), with its body (at most ``MAX_POST_BYTES``): its request record keeps the
body, so a replay system can match the answer to it (cdxj-indexer's ``__wb_method=post`` keys).
Every other method, form posts (a navigation) and beacons are refused, never sent. A POST
redirected with 301/302/303 goes on as a GET, with 307/308 as the same POST, as browsers do.
"""
from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import urldefrag, urljoin, urlsplit

from ..errors import FetchError, FetchRefused
from ..model import WarcRef

log = logging.getLogger(__name__)

# request headers the browser chose that are passed on; the rest (User-Agent, Accept-Encoding,
# Connection...) are the HttpClient's own, as for every plain fetch
FORWARDED = ("accept", "accept-language", "referer", "cookie", "origin")
POST_FORWARDED = FORWARDED + ("content-type",)  # what a POST's body means
POST_FROM = ("fetch", "xhr")  # resource types whose POST is sent (not form navigations, beacons)
MAX_POST_BYTES = 1 << 20
# response headers that describe the bytes on the wire, not the body the browser is handed
# (the Recorder hands over the body with chunking and Content-Encoding undone)
HOP_BY_HOP = frozenset(("content-encoding", "content-length", "transfer-encoding", "connection", "keep-alive",
                        "trailer", "upgrade", "proxy-connection"))


@dataclass(frozen=True)
class Document:
    """The page's own answer, from the plain capture: served to the browser's first navigation."""

    url: str
    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass
class Traffic:
    """What one page visit fetched, refused and could not fetch (filled by :class:`Router`)."""

    records: list[WarcRef] = field(default_factory=list)  # response/revisit records, in order
    refused: list[tuple[str, str]] = field(default_factory=list)  # (url, why): policy, scheme, method, budget
    failed: list[tuple[str, str]] = field(default_factory=list)  # (url, why): network errors
    requests: int = 0


def fulfil_headers(headers) -> dict[str, str]:
    """Response headers for ``route.fulfill``: the server's, less those about the wire encoding."""
    items = headers.items() if hasattr(headers, "items") else headers
    out: dict[str, str] = {}
    for k, v in items:
        if k.lower() in HOP_BY_HOP:
            continue
        out[k] = f"{out[k]}\n{v}" if k in out and k.lower() == "set-cookie" else v
    return out


class Router:
    """The ``route`` handler of one page visit (one browser context)."""

    def __init__(self, fetch: Callable, executor: Executor, *, document: Document | None, max_requests: int,
                 max_hops: int, max_body: int):
        self._fetch = fetch  # Recorder.fetch (thread-safe, blocking: run in ``executor``)
        self._executor = executor
        self._document = document
        self._max_requests = max_requests
        self._max_hops = max_hops
        self._max_body = max_body
        self.traffic = Traffic()

    async def handle(self, route, request) -> None:
        url = urldefrag(request.url)[0]
        scheme = urlsplit(url).scheme.lower()
        if scheme not in ("http", "https"):
            return await self._refuse(route, url, f"scheme {scheme or '(none)'!r} is not http or https", request)
        doc = self._document
        if doc is not None and url == urldefrag(doc.url)[0] and request.is_navigation_request() \
                and request.frame.parent_frame is None:
            self._document = None  # once: a later navigation to it (a reload) is fetched
            return await route.fulfill(status=doc.status, headers=fulfil_headers(doc.headers), body=doc.body)
        method = request.method.upper()
        body = None
        if method == "POST" and request.resource_type in POST_FROM:
            body = request.post_data_buffer or b""
            if len(body) > MAX_POST_BYTES:
                return await self._refuse(route, url, f"a POST body over {MAX_POST_BYTES} bytes is not sent", request)
        elif method != "GET":
            return await self._refuse(route, url, f"{request.method} requests are not sent", request)
        self.traffic.requests += 1
        if self.traffic.requests > self._max_requests:
            return await self._refuse(route, url, f"more than {self._max_requests} requests on the page", request)
        try:
            sent = await request.all_headers()
        except Exception:  # the page went away meanwhile
            sent = request.headers
        names = POST_FORWARDED if body is not None else FORWARDED
        headers = {k: v for k, v in sent.items() if k.lower() in names}
        loop = asyncio.get_running_loop()
        try:
            ex = await loop.run_in_executor(self._executor, self._follow, url, headers, body)
        except FetchRefused as exc:
            return await self._refuse(route, url, str(exc), request)
        except FetchError as exc:
            self.traffic.failed.append((url, str(exc)))
            return await _abort(route, "failed", request)
        await route.fulfill(status=ex.status, headers=fulfil_headers(ex.headers), body=ex.body)

    def _follow(self, url: str, headers: dict[str, str], body: bytes | None = None):
        """Fetch ``url`` and its redirects (each recorded, each under the policy); the final exchange.
        ``body``: a POST's (None: a GET)."""
        for _ in range(self._max_hops + 1):
            if body is None:
                ex = self._fetch(url, headers=headers, keep_body=self._max_body)
            else:
                ex = self._fetch(url, headers=headers, keep_body=self._max_body, method="POST", body=body)
            self.traffic.records.append(ex.warc)
            location = ex.headers.get("Location")
            if not (300 <= ex.status < 400 and location):
                return ex
            if body is not None and ex.status not in (307, 308):  # as browsers do (Fetch standard)
                body = None
                headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
            url = urldefrag(urljoin(url, location.strip()))[0]
            if urlsplit(url).scheme.lower() not in ("http", "https"):
                raise FetchRefused(f"refused: redirect to a {urlsplit(url).scheme!r} URL", url=url)
        raise FetchError(f"more than {self._max_hops} redirects", url=url)

    async def _refuse(self, route, url: str, why: str, request) -> None:
        log.info("browser request refused: %s: %s", url, why)
        self.traffic.refused.append((url, why))
        await _abort(route, "blockedbyclient", request)


async def _abort(route, code: str, request) -> None:
    """Refuse a request. A page's script navigating away (to a refused or failing address) is
    answered ``204 No Content``, which a browser treats as "stay where you are": the page a person
    saw stays, rather than Chromium's error page."""
    try:
        if request.is_navigation_request() and request.frame.parent_frame is None \
                and request.frame.url not in ("", "about:blank"):
            await route.fulfill(status=204, body=b"")
        else:
            await route.abort(code)
    except Exception:  # the page or its context closed meanwhile
        pass
