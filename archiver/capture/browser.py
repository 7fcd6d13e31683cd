"""One headless Chromium for a pass: load a page as a person would, and take what they saw.

Debian's ``chromium`` (``capture.chromium_path``), driven by Playwright's async API on a
thread of its own with its own event loop: the pipeline's worker threads hand it pages with
:meth:`Browser.visit` and wait. Playwright's sync API cannot be shared between threads, and
one event loop lets ``capture.concurrency`` pages and all their requests run at once.

Each page gets a fresh context (no cookies, storage or cache from another page), service
workers blocked, downloads refused, pop-ups closed as they open, WebSockets closed, and every
request answered by the Recorder (browser_route.py: the address policy, size and time limits
of plain fetches). The launch points Chromium at a proxy that does not exist, so a request
that ever got past ``route`` would fail rather than reach the network.

A visit: open the page, scroll to the end (lazy content), wait for the network to go quiet
(at most ``capture.idle_timeout_s``), then the full-page screenshot, a viewport thumbnail,
the rendered DOM and (``capture.pdf``) a PDF print, all within ``capture.page_timeout_s``.
A visit that fails (time limit, crash, closed browser) returns its reason as data; a browser
that died is launched again for the next page.
"""
from __future__ import annotations

import asyncio
import base64
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..config import Settings
from ..errors import ConfigError
from .browser_route import Document, Router, Traffic

log = logging.getLogger(__name__)

LAUNCH_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-extensions",
    "--disable-default-apps", "--mute-audio", "--disable-features=Translate,MediaRouter,InterestFeedContentSuggestions",
    # nothing escapes ``route``: a request Chromium would send itself goes to a proxy that is not
    # there (port 9, discard; "<-loopback>" makes loopback use it too) and fails
    "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
]
SCROLL_STEPS = 40  # at most this many viewport heights scrolled (lazy content); the page limit bounds it too
CLOSE_TIMEOUT_S = 10.0


def chromium_problem(path: Path) -> str | None:
    """Why Chromium cannot be used at ``path`` (None when it can): for the notice and the item's reason."""
    if not Path(path).is_file():
        return (f"Chromium is not installed at {path} (apt-get install chromium, or set capture.chromium_path)")
    if not os.access(path, os.X_OK):
        return f"{path} is not executable"
    return None


@dataclass
class Visited:
    """What a visit gave: the pictures and DOM (bytes), the traffic, or why it failed."""

    url: str
    traffic: Traffic = field(default_factory=Traffic)
    final_url: str | None = None  # where the page ended (a script may pushState or navigate)
    title: str | None = None
    screenshot: bytes | None = None  # full page, PNG
    thumbnail: bytes | None = None  # the first viewport, scaled to capture.thumbnail_width, PNG
    dom: bytes | None = None  # rendered HTML, UTF-8
    pdf: bytes | None = None
    error: str | None = None  # the visit failed: why
    error_type: str | None = None


class Browser:
    """The pass's Chromium: started on first use, restarted after a crash, closed with the pass."""

    def __init__(self, settings: Settings, fetch: Callable):
        self.settings = settings
        self.cap = settings.capture
        self._fetch = fetch  # Recorder.fetch: every request of every page goes through it
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pw = None
        self._browser = None
        self._slots: asyncio.Semaphore | None = None
        self._start_lock = threading.Lock()
        self._launch_lock: asyncio.Lock | None = None
        self._executor = ThreadPoolExecutor(max_workers=max(4, 4 * self.cap.concurrency),
                                            thread_name_prefix="browser-fetch")
        self.launches = 0

    # ---- the thread and the loop --------------------------------------------------------------

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._start_lock:
            if self._loop is None:
                problem = chromium_problem(self.cap.chromium_path)
                if problem:
                    raise ConfigError(problem)
                loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=loop.run_forever, name="browser", daemon=True)
                self._thread.start()
                self._loop = loop
                self._slots = asyncio.Semaphore(self.cap.concurrency)
                self._launch_lock = asyncio.Lock()
            return self._loop

    def visit(self, url: str, document: Document | None = None) -> Visited:
        """Load ``url`` (its document answered from ``document``) and take what a person saw.

        Blocks the calling thread. Raises ConfigError when Chromium is missing; every other
        failure is returned as ``Visited.error``."""
        loop = self._ensure_loop()
        fut = asyncio.run_coroutine_threadsafe(self._visit(url, document), loop)
        try:
            return fut.result(timeout=self.cap.page_timeout_s + 2 * CLOSE_TIMEOUT_S + 30)
        except FutureTimeout:
            fut.cancel()
            return Visited(url, error=f"the browser did not answer within {self.cap.page_timeout_s:.0f} s",
                           error_type="BrowserTimeout")

    def close(self) -> None:
        """Close Chromium and the loop's thread (idempotent)."""
        loop = self._loop
        if loop is None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            return
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=CLOSE_TIMEOUT_S * 3)
        except Exception as exc:  # a hung Chromium: Playwright's driver kills it when it exits
            log.warning("closing the browser: %s", exc)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(CLOSE_TIMEOUT_S)
        self._loop = None
        self._executor.shutdown(wait=False, cancel_futures=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- on the loop ----------------------------------------------------------------------------

    async def _launched(self):
        async with self._launch_lock:
            if self._browser is not None and self._browser.is_connected():
                return self._browser
            if self._browser is not None:
                log.warning("the browser died: launching it again")
                self._browser = None
            if self._pw is None:
                from playwright.async_api import async_playwright

                self._pw = await async_playwright().start()
            args = LAUNCH_ARGS + [f"--js-flags=--max-old-space-size={self.cap.memory_mb}"]
            self._browser = await self._pw.chromium.launch(
                executable_path=str(self.cap.chromium_path), args=args, headless=True,
                timeout=30_000, handle_sigint=False, handle_sigterm=False, handle_sighup=False)
            self.launches += 1
            log.info("browser: %s %s launched", self.cap.chromium_path, self._browser.version)
            return self._browser

    async def _shutdown(self) -> None:
        try:
            if self._browser is not None:
                await asyncio.wait_for(self._browser.close(), CLOSE_TIMEOUT_S)
        except Exception as exc:
            log.warning("closing Chromium: %s", exc)
        self._browser = None
        if self._pw is not None:
            try:
                await asyncio.wait_for(self._pw.stop(), CLOSE_TIMEOUT_S)
            except Exception as exc:
                log.warning("stopping Playwright: %s", exc)
            self._pw = None

    async def _visit(self, url: str, document: Document | None) -> Visited:
        async with self._slots:
            try:
                browser = await self._launched()
            except Exception as exc:
                # as good as not installed (no memory for it, a missing library): `auto` keeps the plain
                # capture, `always` fails the item (capture/browse.py)
                return Visited(url, error=f"Chromium did not start: {_first_line(exc)}",
                               error_type="BrowserUnavailable")
            router = Router(self._fetch, self._executor, document=document,
                            max_requests=self.cap.max_requests_per_page, max_hops=self.settings.fetch.max_hops,
                            max_body=self.cap.max_resource_bytes)
            out = Visited(url, traffic=router.traffic)
            try:
                ctx = await browser.new_context(
                    viewport={"width": self.cap.viewport_width, "height": self.cap.viewport_height},
                    user_agent=self.settings.fetch.user_agent, service_workers="block", accept_downloads=False)
            except Exception as exc:  # the browser died between the check and now
                out.error, out.error_type = f"the browser failed: {_first_line(exc)}", "BrowserError"
                return out
            try:
                await asyncio.wait_for(self._load(ctx, router, url, out), self.cap.page_timeout_s)
            except asyncio.TimeoutError:
                out.error = f"the page did not finish within capture.page_timeout_s ({self.cap.page_timeout_s:.0f} s)"
                out.error_type = "BrowserTimeout"
            except Exception as exc:
                if browser.is_connected():  # Playwright may see the page fail before the browser's end
                    await asyncio.sleep(0.5)
                crashed = not browser.is_connected()
                out.error = ("the browser crashed: " if crashed else "the page failed in the browser: ") \
                    + _first_line(exc)
                out.error_type = "BrowserCrashed" if crashed else "BrowserError"
            finally:
                try:
                    await asyncio.wait_for(ctx.close(), CLOSE_TIMEOUT_S)
                except Exception:  # a renderer stuck in a loop: start afresh for the next page
                    log.warning("a browser context would not close: restarting the browser")
                    await self._shutdown()
            return out

    async def _load(self, ctx, router: Router, url: str, out: Visited) -> None:
        await ctx.route("**/*", router.handle)
        try:
            await ctx.route_web_socket("**/*", lambda ws: ws.close())
        except Exception:  # pragma: no cover - Playwright before 1.48: no WebSocket routing
            pass
        page = await ctx.new_page()
        crashed: list[str] = []
        page.on("crash", lambda _p: crashed.append("the page crashed (out of memory?)"))
        ctx.on("page", lambda p: p is not page and asyncio.ensure_future(_close_quietly(p)))  # pop-ups
        page.on("download", lambda d: asyncio.ensure_future(d.cancel()))
        await page.goto(url, wait_until="load")
        await _scroll_to_end(page, self.cap.viewport_height)
        try:
            await page.wait_for_load_state("networkidle", timeout=self.cap.idle_timeout_s * 1000)
        except Exception:  # still busy: take the picture as it is now
            log.info("%s: network not idle after %.0f s", url, self.cap.idle_timeout_s)
        if crashed:
            raise RuntimeError(crashed[0])
        await page.evaluate("window.scrollTo(0, 0)")
        out.final_url, out.title = page.url, await page.title()
        height = await page.evaluate("Math.max(document.documentElement.scrollHeight, document.body ? "
                                     "document.body.scrollHeight : 0)")
        clip = {"x": 0, "y": 0, "width": self.cap.viewport_width,
                "height": max(1, min(int(height or 1), self.cap.max_screenshot_px))}
        out.screenshot = await page.screenshot(full_page=True, clip=clip, type="png", animations="disabled")
        cdp = await ctx.new_cdp_session(page)
        shot = await cdp.send("Page.captureScreenshot", {"format": "png", "clip": {
            "x": 0, "y": 0, "width": self.cap.viewport_width, "height": self.cap.viewport_height,
            "scale": self.cap.thumbnail_width / self.cap.viewport_width}})
        out.thumbnail = base64.b64decode(shot["data"])
        out.dom = (await page.content()).encode("utf-8", "surrogatepass")
        if self.settings.capture.pdf:
            out.pdf = await page.pdf(print_background=True)


async def _scroll_to_end(page, step: int) -> None:
    """Scroll a viewport at a time to the bottom (lazy images and infinite lists load), bounded."""
    for _ in range(SCROLL_STEPS):
        at_end = await page.evaluate(
            """(step) => { const before = window.scrollY; window.scrollBy(0, step);
                return window.scrollY === before ||
                       window.innerHeight + window.scrollY >= document.documentElement.scrollHeight; }""", step)
        await asyncio.sleep(0.1)
        if at_end:
            return


async def _close_quietly(page) -> None:
    log.info("browser: pop-up %s closed", page.url)
    try:
        await page.close()
    except Exception:
        pass


def _first_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.strip().splitlines()[0][:300]
