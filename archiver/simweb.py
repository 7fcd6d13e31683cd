"""A small, deterministic simulated web on 127.0.0.1 for `archiver demo` and the tests.

Each service runs its own threaded HTTP server on port 0, so each has a host:port
of its own (a shortener is recognised by host:port, see ``resolve.is_shortener``):

- ``googl``: a goo.gl imitation following reference §1.3: ``/<code>``, ``?si=1``
  (skips the warning page), ``?d=1`` (details page), a table code -> state, and a
  global rate-limit switch that redirects to ``google``'s ``/sorry/index?continue=``.
- ``google``: the "unusual traffic" page: ``/sorry/index`` answers 429 + captcha HTML.
- ``bitly``, ``tco``, ``tinyurl``, ``owly``, ``isgd``: other shorteners (reference §4).
- ``site``: the target site: an HTML page with requisites, an Azerbaijani page, a PDF,
  a 404, a 500, a redirect, and an affiliate wrapper (for tinyurl).
- ``archive``: a tiny Wayback imitation in the Internet Archive's dialect (reference §2):
  ``/cdx/search/cdx`` (JSON, header row following ``fl``) and ``/web/<ts>id_/<url>``
  (archived status kept, Location rewritten, ``Memento-Datetime``). It holds a 2017
  capture of the deactivated demo code and of the page that is now gone, so the demo
  shows the archive fallbacks; ``resolver_extra()`` is the config that points at it.
  The full-featured test double for archives is ``tests/servers/wayback.py``.

Everything is generated from constants (``simweb_pages``), so two runs serve the same bytes. Knobs for
tests: ``set_code``, ``ratelimit``, ``requests`` (the request log).
"""
from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qs, quote, urlsplit

from .simweb_pages import (  # noqa: F401 - some re-exported for tests
    ARCHIVED_GONE_HTML, BITLY_BODY, DEFAULT_CODES, DISABLED_2018_HTML, DYNAMIC_NOT_FOUND_HTML,
    ERROR_HTML, GOOGL_404_HEADERS, HTML, INTERSTITIAL_HTML, JS_PAGE, META_PAGE, NOT_FOUND_HTML, OWLY_WARNING,
    REPORT_TEMPLATE, SITE_PAGES, SORRY_HTML, TCO_2013, TCO_2022, TINYURL_ERRORHELP, _js_escape,
)

SHORTENER_SERVICES = ("googl", "bitly", "tco", "tinyurl", "owly", "isgd")
BROWSER_MARK = "Mozilla/"  # t.co serves browsers an HTML/JS page instead of a 301

Response = tuple[int, list[tuple[str, str]], bytes]


def _html(status: int, body: str, extra: list[tuple[str, str]] | None = None) -> Response:
    return status, [("Content-Type", HTML)] + (extra or []), body.encode("utf-8")


# ---- the servers ----------------------------------------------------------------------------

@dataclass
class Code:
    """One short code: what the shortener does with it."""

    state: str
    target: str | None = None
    retry_after: str | None = None  # for 429/503: the Retry-After header, if any
    ok_after: int | None = None  # for 429/503: answer like `live` after this many requests
    hits: int = 0


@dataclass
class LoggedRequest:
    service: str
    method: str
    path: str
    headers: dict


@dataclass(frozen=True)
class Archived:
    """One capture held by the simulated archive."""

    timestamp: str  # 14 digits, UTC
    original: str
    status: int
    mimetype: str
    location: str | None = None
    body: bytes = b""


def _archive_key(url: str) -> str:
    """Scheme and ``www.`` dropped, host lower-cased, path and query kept (goo.gl codes are case-sensitive)."""
    rest = url.split("://", 1)[-1]
    host, sep, path = rest.partition("/")
    host = host.lower().removeprefix("www.")
    return host + "/" + path


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "simweb/1.0"

    def version_string(self) -> str:
        return self.server_version

    def _serve(self, head: bool) -> None:
        status, headers, body = self.server.app(self)  # type: ignore[attr-defined]
        self.send_response(status)
        names = {k.lower() for k, _ in headers}
        for k, v in headers:
            self.send_header(k, v)
        if "content-length" not in names:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head and body:
            self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802
        self._serve(head=False)

    def do_HEAD(self) -> None:  # noqa: N802
        self._serve(head=True)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - quiet
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # idle keep-alive connections must not block shutdown

    def __init__(self, app: Callable[[BaseHTTPRequestHandler], Response]):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.app = app
        # A short poll interval: shutdown() waits for the loop to notice, for each of the servers.
        self.thread = threading.Thread(target=self.serve_forever, args=(0.05,), name="simweb", daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@dataclass
class SimWeb:
    """The simulated web. Use as a context manager; URLs are known once entered."""

    codes: dict[str, dict[str, Code]] = field(default_factory=dict)
    requests: list[LoggedRequest] = field(default_factory=list)

    slow_s: float = 2.0  # how long the goo.gl `slow` state waits before answering
    # when > 0, the first `slow` answers wait (up to slow_gate_timeout_s) until this many are in flight at once, then the
    # gate stays open: a test can know that two clients each took a share, whatever their start-up times
    slow_gate: int = 0
    slow_gate_timeout_s: float = 60.0

    archived: list[Archived] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._ratelimit_left = 0
        self._slow_cond = threading.Condition()
        self._slow_in_flight = 0
        self._slow_open = False
        self._servers: dict[str, _Server] = {}
        self.codes = {name: {} for name in SHORTENER_SERVICES}

    def _slow_wait(self) -> None:
        with self._slow_cond:
            self._slow_in_flight += 1
            if self._slow_in_flight >= self.slow_gate:
                self._slow_open = True
                self._slow_cond.notify_all()
            self._slow_cond.wait_for(lambda: self._slow_open, timeout=self.slow_gate_timeout_s)
        time.sleep(self.slow_s)
        with self._slow_cond:
            self._slow_in_flight -= 1

    # -- lifecycle
    def __enter__(self) -> "SimWeb":
        apps = {"googl": self._googl, "google": self._google, "site": self._site, "bitly": self._bitly,
                "tco": self._tco, "tinyurl": self._tinyurl, "owly": self._owly, "isgd": self._isgd,
                "archive": self._archive}
        for name, fn in apps.items():
            self._servers[name] = _Server(self._logged(name, fn))
        for srv in self._servers.values():
            srv.thread.start()
        self._default_codes()
        return self

    def __exit__(self, *exc) -> None:
        for srv in self._servers.values():
            srv.shutdown()
            srv.server_close()

    # -- addresses
    def url(self, service: str) -> str:
        return self._servers[service].base

    @property
    def shortener_url(self) -> str:
        return self.url("googl")

    @property
    def site_url(self) -> str:
        return self.url("site")

    @property
    def sorry_url(self) -> str:
        return self.url("google") + "/sorry/index"

    @property
    def shortener_hosts(self) -> list[str]:
        return [self.url(s).split("//", 1)[1] for s in SHORTENER_SERVICES]

    def short(self, code: str, service: str = "googl") -> str:
        return f"{self.url(service)}/{code}"

    def config_overrides(self) -> dict:
        """Settings overrides that make the archiver treat this web as it would the real one."""
        return {"resolver": {"shorteners": self.shortener_hosts, **self.resolver_extra()},
                "fetch": {"allow_private_addresses": True}}

    def resolver_extra(self) -> dict:
        """``resolver`` settings beyond the shorteners: the simulated archive."""
        base = self.url("archive")
        return {"archives": [{"name": "simarchive", "cdx_url": base + "/cdx/search/cdx",
                              "replay_url": base + "/web/{timestamp}id_/{url}", "requests_per_s": 50.0}]}

    def archive(self, timestamp: str, original: str, status: int, mimetype: str = "text/html",
                location: str | None = None, body: bytes = b"") -> None:
        """Add a capture to the simulated archive."""
        with self._lock:
            self.archived.append(Archived(timestamp, original, status, mimetype, location, body))

    # -- knobs
    def set_code(self, code: str, state: str, target: str | None = None, *, service: str = "googl",
                 retry_after: str | None = None, ok_after: int | None = None) -> str:
        """Define a short code; ``target`` is a URL, or a code of the same service for ``chain``/``loop``.

        goo.gl states: live (302), live301, interstitial (200 warning page; ``?si=1`` 302),
        interstitial_stuck (the warning page even with ``?si=1``), deactivated (404, S4 headers),
        disallowed (400), missing (404), disabled2018 (200 ToS page), dynamic_not_found (200
        Firebase page), chain (302 to the short code ``target``), loop (302 to ``target`` or to
        itself), meta (200 meta refresh), js (200 ``location.replace`` with ``\\/`` escapes),
        ratelimit (302 to the sorry page), slow (302 after ``slow_s`` seconds), 429 / 503 (with ``retry_after``, then like live after
        ``ok_after`` requests). bitly: live (301 + body), warning, blocked (410). tco: live (301
        with lower-case ``location``; browsers get the 2022 page), live2013, page2022, page2013.
        tinyurl: live (307 to an affiliate wrapper + X-TinyURL-Target), live301, errorhelp.
        owly: live, warning, disabled (410). isgd: live, disabled (410). Unknown codes: 404
        (tinyurl: errorhelp).
        """
        with self._lock:
            self.codes[service][code] = Code(state, target, retry_after, ok_after)
        return self.short(code, service)

    def ratelimit(self, n_requests: int) -> None:
        """The next ``n_requests`` goo.gl requests are redirected to the sorry page."""
        with self._lock:
            self._ratelimit_left = n_requests

    def hits(self, service: str, path_prefix: str = "/") -> int:
        return sum(1 for r in self.requests if r.service == service and r.path.startswith(path_prefix))

    # -- demo content
    def _default_codes(self) -> None:
        s = self.site_url
        for code, state, target in DEFAULT_CODES:
            self.set_code(code, state, s + target if target and target.startswith("/") else target)
        self.set_code("2kTq9Zb", "live", s + "/reports/open-budget.html", service="bitly")
        # 2017 captures: the deactivated code's redirect, and the page that is gone today.
        self.archive("20170702103000", self.short("Qz7RtY"), 301, "unk", location=s + "/az/xeberler.html")
        self.archive("20170705120000", s + "/gone", 200, "text/html", body=ARCHIVED_GONE_HTML.encode("utf-8"))

    def report_text(self) -> str:
        """A small plain-text report citing the short links, in the shape of the OGP report."""
        return REPORT_TEMPLATE.format(**{f"u_{c}": self.short(c) for c, _, _ in DEFAULT_CODES},
                                      bitly=self.short("2kTq9Zb", "bitly"))

    # -- request handling
    def _logged(self, service: str, fn: Callable[[BaseHTTPRequestHandler, str, dict], Response]):
        def app(h: BaseHTTPRequestHandler) -> Response:
            with self._lock:
                self.requests.append(LoggedRequest(service, h.command, h.path, dict(h.headers.items())))
            parts = urlsplit(h.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
            return fn(h, parts.path, query)
        return app

    def _take(self, service: str, path: str) -> Code | None:
        """The code for a path (namespaces like /maps/<code> are part of the key), counting the hit."""
        with self._lock:
            entry = self.codes[service].get(path.lstrip("/"))
            if entry is not None:
                entry.hits += 1
            return entry

    @staticmethod
    def _throttled(entry: Code) -> Response | None:
        """429/503 states answer with an error until ``ok_after`` requests have been seen."""
        if entry.state not in ("429", "503") or (entry.ok_after is not None and entry.hits > entry.ok_after):
            return None
        extra = [("Retry-After", entry.retry_after)] if entry.retry_after else []
        title = "Too Many Requests" if entry.state == "429" else "Service Unavailable"
        return _html(int(entry.state), f"<html><body><h1>{title}</h1></body></html>", extra)

    def _googl(self, h, path: str, q: dict) -> Response:
        with self._lock:
            limited = self._ratelimit_left > 0
            self._ratelimit_left -= 1 if limited else 0
        me = self.shortener_url
        if limited:
            cont = quote(me + h.path, safe="")
            return 302, [("Location", f"{self.sorry_url}?continue={cont}&q=EgR_AAABGJ7s"), ("Content-Length", "0")], b""
        entry = self._take("googl", path)
        if entry is None or entry.state == "missing":
            return _html(404, NOT_FOUND_HTML)
        if q.get("d") == "1":
            word = "is disallowed." if entry.state == "disallowed" else "details"
            return _html(200, f"<html><body><p>{me}{path} {word}</p></body></html>")
        throttled = self._throttled(entry)
        if throttled:
            return throttled
        st, target = entry.state, entry.target or ""
        if st in ("chain", "loop"):
            target = self.short(target or path.lstrip("/"))
        if st == "interstitial_stuck" or (st == "interstitial" and q.get("si") != "1"):
            return _html(200, INTERSTITIAL_HTML.format(target=target))
        if st in ("live", "interstitial", "chain", "loop", "429", "503"):
            return 302, [("Location", target), ("Content-Length", "0")], b""
        if st == "live301":
            return 301, [("Location", target), ("Content-Length", "0")], b""
        if st == "slow":
            self._slow_wait()
            return 302, [("Location", target), ("Content-Length", "0")], b""
        if st == "deactivated":
            body = b"" if h.command == "HEAD" else b"<html><body></body></html>"
            return 404, GOOGL_404_HEADERS + [("Content-Length", str(len(body)))], body
        if st == "disallowed":
            return _html(400, "<html><body><h1>400. That's an error.</h1></body></html>")
        if st == "disabled2018":
            return _html(200, DISABLED_2018_HTML)
        if st == "dynamic_not_found":
            return _html(200, DYNAMIC_NOT_FOUND_HTML)
        if st == "meta":
            return _html(200, META_PAGE.format(target=target))
        if st == "js":
            return _html(200, JS_PAGE.format(js=_js_escape(target)))
        if st == "ratelimit":
            cont = quote(me + h.path, safe="")
            return 302, [("Location", f"{self.sorry_url}?continue={cont}&q=EgR_AAABGJ7s")], b""
        raise ValueError(f"simweb: unknown goo.gl state {st!r}")

    def _google(self, h, path: str, q: dict) -> Response:
        if path == "/sorry/index":
            return _html(429, SORRY_HTML)
        return _html(404, NOT_FOUND_HTML)

    def _bitly(self, h, path: str, q: dict) -> Response:
        if path == "/a/warning":
            return _html(200, f'<html><body><p>Warning!</p><a href="{q.get("url", "")}">continue</a></body></html>')
        entry = self._take("bitly", path)
        if entry is None:
            return _html(404, NOT_FOUND_HTML)
        if entry.state == "blocked":
            return _html(410, "<html><body>Gone</body></html>")
        if entry.state == "warning":
            return 302, [("Location", f"{self.url('bitly')}/a/warning?hash={path.lstrip('/')}&url={quote(entry.target, safe=':/')}")], b""
        headers = [("Content-Type", HTML), ("Cache-Control", "private, max-age=90"), ("Location", entry.target),
                   ("Set-Cookie", "_bit=kbb05G-0fa3c505dfb5b90b9a-00R; Expires=Wed, 09 Jun 2021 00:05:42 GMT"),
                   ("Via", "1.1 google")]
        return 301, headers, BITLY_BODY.format(target=entry.target).encode()

    def _tco(self, h, path: str, q: dict) -> Response:
        entry = self._take("tco", path)
        if entry is None:
            return _html(404, NOT_FOUND_HTML)
        t = entry.target
        browser = BROWSER_MARK in (h.headers.get("User-Agent") or "")
        if entry.state == "page2013" or (entry.state == "live2013" and browser):
            return _html(200, TCO_2013.format(target=t, js=_js_escape(t)))
        if entry.state == "page2022" or browser:
            return _html(200, TCO_2022.format(target=t, js=_js_escape(t)))
        return 301, [("location", t), ("Content-Length", "0")], b""  # lower-case, as t.co sends it

    def _tinyurl(self, h, path: str, q: dict) -> Response:
        if path == "/errorb.php":
            return _html(200, "<html><body><h1>Error</h1><p>Unfortunately, this TinyURL is not available.</p></body></html>")
        entry = self._take("tinyurl", path)
        code = path.lstrip("/")
        if entry is None or entry.state == "errorhelp":
            return _html(200, TINYURL_ERRORHELP.format(base=self.url("tinyurl"), code=code))
        if entry.state == "live301":
            return 301, [("Location", entry.target), ("Content-Length", "0")], b""
        affiliate = f"{self.site_url}/affiliate?url={quote(entry.target, safe='')}"
        return 307, [("Location", affiliate), ("X-TinyURL-Target", entry.target), ("Content-Length", "0")], b""

    def _owly(self, h, path: str, q: dict) -> Response:
        entry = self._take("owly", path)
        if entry is None:
            return _html(404, NOT_FOUND_HTML)
        if entry.state == "disabled":
            return _html(410, "<html><body>This link has been disabled</body></html>")
        if entry.state == "warning":
            return _html(200, OWLY_WARNING.format(target=entry.target))
        return 301, [("Location", entry.target), ("Content-Length", "0")], b""

    def _isgd(self, h, path: str, q: dict) -> Response:
        entry = self._take("isgd", path)
        if entry is None:
            return _html(404, NOT_FOUND_HTML)
        if entry.state == "disabled":
            return _html(410, "<html><body>Link disabled</body></html>")
        return 301, [("Location", entry.target), ("Content-Length", "0")], b""

    def _archive(self, h, path: str, q: dict) -> Response:
        if path == "/cdx/search/cdx":
            want = _archive_key(q.get("url", ""))
            prefix = q.get("matchType") == "prefix" or want.endswith("*")
            want = want.rstrip("*")
            fl = (q.get("fl") or "urlkey,timestamp,original,mimetype,statuscode,digest,length").split(",")
            with self._lock:
                hits = [a for a in self.archived
                        if (_archive_key(a.original).lower().startswith(want.lower()) if prefix
                            else _archive_key(a.original).lower() == want.lower())]
            rows = []
            for a in sorted(hits, key=lambda a: a.timestamp):
                values = {"urlkey": _archive_key(a.original).lower(), "timestamp": a.timestamp,
                          "original": a.original, "mimetype": a.mimetype, "statuscode": str(a.status),
                          "digest": "3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ", "length": "512"}
                rows.append([values.get(f, "-") for f in fl])
            body = json.dumps([fl] + rows if rows else []).encode()
            return 200, [("Content-Type", "application/json")], body
        m = re.match(r"^/web/(\d{14})id_/(.+)$", h.path)
        if m:
            ts, url = m.group(1), m.group(2)
            with self._lock:
                hit = next((a for a in self.archived
                            if a.timestamp == ts and _archive_key(a.original) == _archive_key(url)), None)
            if hit is not None:
                when = datetime.strptime(ts, "%Y%m%d%H%M%S").replace(tzinfo=timezone.utc)
                headers = [("Memento-Datetime", format_datetime(when, usegmt=True)),
                           ("Link", f'<{hit.original}>; rel="original"')]
                if hit.location:
                    headers.append(("Location", f"{self.url('archive')}/web/{ts}id_/{hit.location}"))
                    return hit.status, headers + [("Content-Length", "0")], b""
                return hit.status, headers + [("Content-Type", hit.mimetype)], hit.body
        return _html(404, NOT_FOUND_HTML)

    def _site(self, h, path: str, q: dict) -> Response:
        if path == "/affiliate":  # tinyurl's affiliate wrapper: a redirect off the shortener
            return 302, [("Location", q.get("url", "/")), ("Content-Length", "0")], b""
        if path == "/loop":  # a target that redirects to itself
            return 302, [("Location", "/loop"), ("Content-Length", "0")], b""
        if path == "/moved":
            return 301, [("Location", "/reports/open-budget.html"), ("Content-Length", "0")], b""
        if path == "/broken":
            return _html(500, ERROR_HTML)
        page = SITE_PAGES.get(path)
        if page is None:
            return _html(404, NOT_FOUND_HTML)
        ctype, body = page
        return 200, [("Content-Type", ctype), ("Last-Modified", "Fri, 30 Jun 2017 10:00:00 GMT")], body


def main() -> None:  # pragma: no cover - manual exploration: python -m archiver.simweb
    with SimWeb() as web:
        print("goo.gl:", web.shortener_url, "site:", web.site_url, "shorteners:", web.shortener_hosts)
        print(web.report_text())
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":  # pragma: no cover
    main()
