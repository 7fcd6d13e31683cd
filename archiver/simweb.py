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

Everything is generated from constants, so two runs serve the same bytes. Knobs for
tests: ``set_code``, ``ratelimit``, ``requests`` (the request log).
"""
from __future__ import annotations

import json
import re
import struct
import threading
import time
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qs, quote, urlsplit

SHORTENER_SERVICES = ("googl", "bitly", "tco", "tinyurl", "owly", "isgd")
BROWSER_MARK = "Mozilla/"  # t.co serves browsers an HTML/JS page instead of a 301

Response = tuple[int, list[tuple[str, str]], bytes]


# ---- static content -------------------------------------------------------------------------

def _png(rgb: tuple[int, int, int]) -> bytes:
    """A valid 1x1 PNG of one colour."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    raw = b"\x00" + bytes(rgb)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def _pdf(lines: list[str]) -> bytes:
    """A minimal valid one-page PDF with Helvetica text, xref offsets computed (no reportlab)."""
    text = "BT /F1 14 Tf 72 740 Td 18 TL " + " ".join(
        "(" + ln.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ") '" for ln in lines
    ) + " ET"
    stream = text.encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Title (National Action Plan 2016-2018) /Producer (archiver simweb) >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


PDF_LINES = [
    "National Action Plan on Promoting Open Government 2016-2018",
    "Progress report of the Azerbaijan OGP Platform",
    "Round-table on the strategic road-map, 30 June 2017",
]
PDF_BYTES = _pdf(PDF_LINES)
LOGO_PNG = _png((20, 90, 160))
BG_PNG = _png((240, 240, 230))
FONT_BYTES = b"wOF2" + bytes(range(64))  # not a real font: only its capture matters

REPORT_HTML = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Open Government Platform in Action: project results</title>
<link rel="stylesheet" href="/static/style.css">
<script src="/static/app.js"></script>
</head><body>
<header><img src="/static/logo.png" alt="OGP Platform logo" width="1" height="1"></header>
<article>
<h1>Open Government Platform in Action: project results</h1>
<p>Relevant studies and assessments have been conducted and recommendations have been prepared
in 12 directions of the National Action Plan for the Promotion of the Open Government (2016-2018).</p>
<p>The results of the project were discussed at 19 round-tables and 13 "Economic Forum" programmes
on Internet TV. Representatives of 44 state agencies, 24 foreign organizations and 454 NGOs took part.</p>
<p>The full action plan is available as a <a href="/docs/action-plan.pdf">PDF document</a>.</p>
</article>
</body></html>
"""

AZ_HTML = """<!DOCTYPE html>
<html lang="az"><head><meta charset="utf-8">
<title>Açıq Hökumət Platforması: dəyirmi masa</title>
<link rel="stylesheet" href="/static/style.css">
</head><body>
<article>
<h1>Açıq Hökumət Platforması: dəyirmi masa keçirildi</h1>
<p>Azərbaycan Respublikasının milli iqtisadiyyatının perspektivlərinə dair strateji yol xəritəsi
mövzusunda dəyirmi masa keçirilmişdir. Tədbirdə dövlət qurumlarının, parlamentin və qeyri-hökumət
təşkilatlarının nümayəndələri iştirak etmişlər.</p>
<p>Müzakirələr İnternet televiziyasında yayımlanmış, təkliflər hökumətə təqdim edilmişdir.</p>
</article>
</body></html>
"""

STYLE_CSS = """@font-face { font-family: "Platform"; src: url("/static/font.woff2") format("woff2"); }
body { font-family: "Platform", sans-serif; background: url(/static/bg.png) repeat; }
"""
APP_JS = "document.documentElement.className = 'js';\n"

ARCHIVED_GONE_HTML = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Open budget round-table, 14 July 2017</title></head>
<body><article><h1>Open budget round-table, 14 July 2017</h1>
<p>The Platform discussed the open budget initiative with the Ministry of Finance. The page was
later removed from the site; this copy was preserved by a web archive.</p></article></body></html>
"""

NOT_FOUND_HTML = "<!DOCTYPE html><html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>\n"
ERROR_HTML = "<!DOCTYPE html><html><head><title>500</title></head><body><h1>Internal Server Error</h1></body></html>\n"

# goo.gl pages. The real markup is unknown [reference §1.2, U]; only the quoted wording is confirmed.
INTERSTITIAL_HTML = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Google URL Shortener</title></head><body>
<p>This link will no longer work in the near future. goo.gl links will no longer function after
August 25th, 2025. For more information, see the
<a href="https://developers.googleblog.com/en/google-url-shortener-links-will-no-longer-be-available/">announcement</a>.</p>
<p><a href="{target}">{target}</a></p>
</body></html>
"""
DISABLED_2018_HTML = """<!DOCTYPE html><html><head><title>goo.gl</title></head><body>
<p>Sorry, this goo.gl shortlink has been disabled. It was found to be violating our Terms of Service.</p>
</body></html>
"""
DYNAMIC_ARCHIVED_GONE_HTML = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Open budget round-table, 14 July 2017</title></head>
<body><article><h1>Open budget round-table, 14 July 2017</h1>
<p>The Platform discussed the open budget initiative with the Ministry of Finance. The page was
later removed from the site; this copy was preserved by a web archive.</p></article></body></html>
"""

NOT_FOUND_HTML = """<!DOCTYPE html><html><head><title>Dynamic Link Not Found</title></head>
<body><h1>Dynamic Link Not Found</h1><p>Invalid Dynamic Link - Requested URL not found.</p></body></html>
"""
SORRY_HTML = """<!DOCTYPE html><html><head><title>Sorry...</title></head><body>
<p>Our systems have detected unusual traffic from your computer network. This page checks to see if
it's really you sending the requests, and not a robot.</p><form action="/sorry/index"></form>
</body></html>
"""
BITLY_BODY = '<html>\n<head><title>Bitly</title></head>\n<body><a href="{target}">moved here</a></body>\n</html>'
TCO_2022 = ('<head><noscript><META http-equiv="refresh" content="0;URL={target}"></noscript>'
            '<title>{target}</title></head><script>window.opener = null; location.replace("{js}")</script>')
TCO_2013 = '<noscript><META http-equiv="refresh" content="0;URL={target}"></noscript><script>location.replace("{js}")</script>'
JS_PAGE = '<html><head><title>Redirecting</title></head><body><script>location.replace("{js}")</script></body></html>'
META_PAGE = ('<html><head><meta http-equiv="refresh" content="0; url=\'{target}\'">'
             '<title>Redirecting</title></head><body>Redirecting...</body></html>')
OWLY_WARNING = ('<html><body><p>This link may be unsafe.</p>'
                '<a class="btn ignore" href="{target}">Continue anyway</a></body></html>')
TINYURL_ERRORHELP = ('<html><head><meta http-equiv="refresh" content="0;url={base}/errorb.php?url={code}&path=/{code}">'
                     '</head><body></body></html>')
GOOGL_404_HEADERS = [  # reference §1.2, literal from S4
    ("content-type", "text/html; charset=utf-8"),
    ("cache-control", "no-cache, no-store, max-age=0, must-revalidate"),
    ("pragma", "no-cache"),
    ("expires", "Mon, 01 Jan 1990 00:00:00 GMT"),
]
HTML = "text/html; charset=utf-8"


def _js_escape(url: str) -> str:
    return url.replace("/", "\\/")


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

    archived: list[Archived] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._ratelimit_left = 0
        self._servers: dict[str, _Server] = {}
        self.codes = {name: {} for name in SHORTENER_SERVICES}

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
            time.sleep(self.slow_s)
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


SITE_PAGES: dict[str, tuple[str, bytes]] = {
    "/": (HTML, b'<html><body><a href="/reports/open-budget.html">Reports</a> '
                b'<a href="/az/xeberler.html">X\xc9\x99b\xc9\x99rl\xc9\x99r</a></body></html>'),
    "/reports/open-budget.html": (HTML, REPORT_HTML.encode("utf-8")),
    "/az/xeberler.html": (HTML, AZ_HTML.encode("utf-8")),
    "/docs/action-plan.pdf": ("application/pdf", PDF_BYTES),
    "/static/style.css": ("text/css; charset=utf-8", STYLE_CSS.encode()),
    "/static/app.js": ("application/javascript", APP_JS.encode()),
    "/static/logo.png": ("image/png", LOGO_PNG),
    "/static/bg.png": ("image/png", BG_PNG),
    "/static/font.woff2": ("font/woff2", FONT_BYTES),
}

# The demo's goo.gl table: (code, state, target path on the site or other code).
DEFAULT_CODES: list[tuple[str, str, str | None]] = [
    ("mMTrEZ", "live", "/reports/open-budget.html"),
    ("wMfTXZ", "interstitial", "/az/xeberler.html"),
    ("khnHU9", "live", "/docs/action-plan.pdf"),
    ("D1bhWt", "chain", "mMTrEZ"),
    ("Qz7RtY", "deactivated", None),
    ("Bn4nEd", "disallowed", None),
    ("Gq2Zsn", "live", "/gone"),
    ("Jv5Wcx", "js", "/az/xeberler.html"),
    ("Mt8Rfh", "meta", "/moved"),
]

REPORT_TEMPLATE = """Information on the Activity of the Dialogue Platform on Promoting Open Government

The Platform was established on 9 September 2016 by NGOs and government agencies.

- During February - September, 2017 the Platform implemented the project "Open Government Platform in Action".
 - <{u_mMTrEZ}>
<{u_wMfTXZ}>
- On 22 May 2017 NGO representatives met the National Coordinator of the Open Government Partnership.
<{u_khnHU9}>
- On 16 June 2017, proposals for a favourable environment for NGO activities were submitted to the government.
 - <{u_D1bhWt}>
- On 30 June 2017, a round-table on the strategic road-map of the national economy was held.
<{u_Qz7RtY}>
- On 14 July 2017, the Platform discussed the open budget initiative with the Ministry of Finance.
<{u_Bn4nEd}> <{u_Gq2Zsn}>
- On 5 October 2017, a training on access to information was held in Ganja.
<{u_Jv5Wcx}>
- In December 2017, the Platform published its annual assessment.
<{u_Mt8Rfh}> <{bitly}>
"""


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
