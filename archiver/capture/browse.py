"""After the plain capture: should the page be loaded in the browser too, and doing it.

``capture.browser`` (``never | auto | always``, per host ``capture.browser_hosts``):

* ``never``: plain capture only; Chromium is never started.
* ``auto``: an HTML target is loaded in the browser when its plain capture looks like a
  shell (little visible text and a script: the content is built by scripts), and, with
  ``capture.auto_screenshot`` (the default), every HTML target for its screenshot. Without
  Chromium, plain capture only, with a one-line notice per pass.
* ``always``: every HTML target; without Chromium the item fails, saying why.

A visit that fails because the browser broke (it crashed or would not start) fails the
item, to be tried again like any fetch failure. A page that does not finish in time
(a script looping forever) fails the item under ``always``; under ``auto`` the plain capture
stands and the failure is noted. The plain capture's records are kept in every case, and so
are the records of what the browser did fetch.
"""
from __future__ import annotations

import logging
import re
from dataclasses import replace
from typing import Any, Callable

from ..config import Settings
from ..errors import ArchiveError, ConfigError
from ..markup import scan
from ..model import BrowserResult, CaptureResult, Outcome
from .browser import Browser, Visited, chromium_problem
from .browser_records import write_resources
from .browser_route import Document
from .gate import host_of
from ..store import open_store

log = logging.getLogger(__name__)

_SCRIPT = re.compile(rb"<script\b", re.I)
BROKEN = ("BrowserCrashed", "BrowserError")  # the browser broke, not the page: try again later


def browser_mode(url: str, settings: Settings) -> str:
    """The mode for ``url``: the most specific ``capture.browser_hosts`` rule (host or a parent
    domain), else ``capture.browser``."""
    host = host_of(url)
    rules = settings.capture.browser_hosts
    parts = host.split(".")
    for i in range(len(parts)):
        rule = rules.get(".".join(parts[i:]))
        if rule is not None:
            return rule
    return settings.capture.browser


def is_html(content_type: str | None) -> bool:
    mime = (content_type or "").split(";")[0].strip().lower()
    return mime in ("text/html", "application/xhtml+xml")


def shell_reason(html: bytes, min_chars: int) -> str | None:
    """Why a page looks built by scripts (its plain HTML shows little text and runs a script), or None."""
    if not _SCRIPT.search(html):
        return None
    chars = len(scan(html).text)
    if chars < min_chars:
        return f"looks script-built ({chars} characters of visible text and a script)"
    return None


def read_document(result: CaptureResult, settings: Settings, locate: Callable | None) -> Document | None:
    """The plain capture's answer, to serve the browser's first navigation (None: unreadable)."""
    from .read import open_payload

    ref = result.response
    try:
        headers, stream = open_payload(open_store(settings.storage), ref.warc_file, ref.offset, locate=locate)
    except ArchiveError as exc:  # e.g. a revisit whose original is not findable yet: the browser fetches it
        log.info("browser: %s read back failed (%s); the browser fetches the page itself", ref.url, exc)
        return None
    with stream:
        body = stream.read(settings.capture.max_resource_bytes)
    pairs = list(headers.headers) if headers is not None else []
    return Document(url=ref.url, status=ref.http_status or 200, headers=pairs, body=body)


def after_plain_capture(result: CaptureResult, *, tools: Any) -> CaptureResult:
    """The browser hook of the capture stage: ``result`` with ``browser`` set when it ran (or had to)."""
    settings: Settings = tools.settings
    url = result.final_url
    if result.outcome is not Outcome.CAPTURED or result.response is None or not url \
            or not is_html(result.response.content_type) or result.not_evidence_reason:
        return result
    mode = browser_mode(url, settings)
    if mode == "never":
        return result
    problem = chromium_problem(settings.capture.chromium_path)
    if problem:
        if mode == "always":
            why = f"capture.browser is always but {problem}"
            return replace(result, outcome=Outcome.FAILED, reason=why, error_type="BrowserUnavailable",
                           browser=BrowserResult("failed", reason=why, error_type="BrowserUnavailable"))
        tools.once("browser notice", lambda: log.warning("capture.browser auto: %s; capturing without a browser",
                                                         problem))
        return replace(result, browser=BrowserResult("skipped", reason=problem))
    from .read import db_locator

    locate = db_locator(tools.Session) if getattr(tools, "Session", None) is not None else None
    document = read_document(result, settings, locate)
    shell = shell_reason(document.body, settings.capture.shell_text_chars) if document is not None else None
    if mode == "auto" and not shell and not settings.capture.auto_screenshot:
        return result
    why = shell or ("capture.browser is always" if mode == "always" else "screenshot")
    try:
        visited = browser_for(tools).visit(url, document)
    except ConfigError as exc:  # Chromium went away since the check
        visited = Visited(url, error=str(exc), error_type="BrowserUnavailable")
    return _with_visit(result, visited, why=why, mode=mode, tools=tools)


def _with_visit(result: CaptureResult, visited: Visited, *, why: str, mode: str, tools: Any) -> CaptureResult:
    traffic = visited.traffic
    common = dict(records=tuple(traffic.records), refused=tuple(traffic.refused), final_url=visited.final_url)
    if visited.error:
        browsed = BrowserResult("failed", reason=visited.error, error_type=visited.error_type, **common)
        if mode == "always" or visited.error_type in BROKEN:
            return replace(result, outcome=Outcome.FAILED, reason=f"browser: {visited.error}",
                           error_type=visited.error_type, browser=browsed)
        note = f"browser: {visited.error}"
        if visited.error_type == "BrowserUnavailable":
            tools.once("browser notice", lambda: log.warning("capture.browser auto: %s; capturing without a browser",
                                                             visited.error))
        return replace(result, browser=browsed, reason="; ".join(r for r in (result.reason, note) if r))
    # WARC 1.1 §5.7: records of one capture event carry its WARC-Date (that of the page's response)
    resources = write_resources(tools.sink, result.final_url, visited, concurrent_to=result.response.record_id,
                                when=result.response.captured_at)
    tools.count("bytes", sum(r.payload_length or 0 for r in traffic.records))
    return replace(result, browser=BrowserResult("browsed", reason=why, resources=resources, **common))


def browser_for(tools: Any) -> Browser:
    """The pass's one browser (made on first use; the pipeline closes it with the pass)."""
    with tools._lock:
        if tools.browser is None:
            # the browser's requests go through the pass's per-host gate like every other fetch
            # (fetch.per_host_concurrency, fetch.politeness_delay_s): a page asking a host for 60 things
            # at once must not hit it harder than the plain capture would. The cost is time: with a 1 s
            # delay such a page takes a minute, bounded by capture.page_timeout_s (the screenshot is taken
            # of what arrived). The browser's fetch threads are not pipeline items: a host that is not
            # ready is waited for, not deferred (gate.py).
            tools.browser = Browser(tools.settings, tools.recorder.fetch)
        return tools.browser
