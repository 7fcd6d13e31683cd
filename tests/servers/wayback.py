"""A local Wayback-compatible archive (threaded http.server on 127.0.0.1, port 0), two dialects.

``dialect="ia"`` imitates the Internet Archive (reference §2):

* ``GET /cdx/search/cdx``: SURT-like lower-cased keys (so case variants and
  http/https/www. come back together), ``matchType`` exact|prefix (or a trailing
  ``/*``), ``output=json`` as the compact array of arrays whose first row follows
  ``fl`` (``[]`` when empty), text mode otherwise, repeatable ``filter=[!]field:regex``
  (full match), ``from``/``to``, ``limit`` (±N), ``collapse``; revisits show
  ``warc/revisit`` and ``-``;
* ``GET /web/<ts><mod>/<url>``: ``id_`` replays keep the archived status; a
  redirect's ``Location`` is rewritten to ``<base>/web/<ts>id_/<target>`` with
  ``Memento-Datetime`` and ``Link`` (a); a timestamp without a capture is the
  archive's own ``302`` with ``X-Archive-Redirect-Reason`` and no Memento-Datetime
  (b); view mode (no modifier) of a redirect is the 200 "Got an HTTP 301 response
  at crawl time" page with the Impatient link (c); never archived is a 404 page (d);
  other archived headers come back as ``X-Archive-Orig-*``;
* ``GET /web/timemap/link/<url>``: link format, ``,\\n`` separated (§2.4).

``dialect="pywb"`` imitates pywb (§5): CDX at ``/<coll>/cdx`` as NDJSON
(``url``/``mime``/``status``; filter: substring, ``=`` exact, ``~`` regex), replays
at ``/<coll>/<ts><mod>/<url>`` with the ``id_`` Location **not** rewritten, and
``/<coll>/timemap/link/<url>`` in pywb's form.

Knobs: ``rate_limit(n)`` (the next n requests get 429 without Retry-After),
``block(substring)`` (403 + X-Archive-Wayback-Runtime-Error), ``requests`` (log).
"""
from __future__ import annotations

import hashlib
import base64
import json
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

BLOCKED_ERROR = ("org.archive.util.io.RuntimeIOException: org.archive.wayback.exception."
                 "AdministrativeAccessControlException: Blocked Site Error")
EMPTY_DIGEST = "3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ"


def surt(url: str) -> str:
    """A SURT-like key: scheme, www. and default ports dropped, host reversed, all lower-case."""
    if "://" not in url[:12]:
        url = "http://" + url
    p = urlsplit(url)
    host = (p.hostname or "").lower()
    if host.startswith("www."):
        host = host[4:]
    port = p.port
    hostkey = ",".join(reversed(host.split(".")))
    if port and port not in (80, 443):
        hostkey += f":{port}"
    key = hostkey + ")" + (p.path or "/")
    if p.query:
        key += "?" + p.query
    return key.lower()


def http_date(ts: str) -> str:
    dt = datetime.strptime(ts, "%Y%m%d%H%M%S").replace(tzinfo=timezone.utc)
    return format_datetime(dt, usegmt=True)


@dataclass
class Snapshot:
    """One archived response. ``headers`` are the original response's headers."""

    url: str
    timestamp: str
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    mime: str | None = None
    revisit: bool = False  # CDX says warc/revisit and '-' (replay still answers with the status)
    orig_location_header: bool = False  # also expose X-Archive-Orig-Location on replay

    @property
    def key(self) -> str:
        return surt(self.url)

    @property
    def digest(self) -> str:
        if not self.body:
            return EMPTY_DIGEST
        return base64.b32encode(hashlib.sha1(self.body).digest()).decode()

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def cdx(self) -> dict[str, str]:
        ct = self.mime or (self.header("Content-Type") or "unk").split(";")[0].strip()
        return {"urlkey": self.key, "timestamp": self.timestamp, "original": self.url,
                "mimetype": "warc/revisit" if self.revisit else ct,
                "statuscode": "-" if self.revisit else str(self.status), "digest": self.digest,
                "length": str(400 + len(self.body))}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_Server"

    def log_message(self, *a):  # quiet
        pass

    def do_GET(self):
        self.server.archive._handle(self)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, archive: "WaybackServer"):
        self.archive = archive
        super().__init__(("127.0.0.1", 0), _Handler)


class WaybackServer:
    def __init__(self, dialect: str = "ia", coll: str = "web"):
        assert dialect in ("ia", "pywb")
        self.dialect = dialect
        self.coll = coll if dialect == "pywb" else "web"
        self.snapshots: list[Snapshot] = []
        self.requests: list[str] = []
        self._ratelimit = 0
        self._blocked: list[str] = []
        self._lock = threading.Lock()
        self._server = _Server(self)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    # ---- lifecycle and knobs --------------------------------------------------------------------

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def add(self, url: str, timestamp: str, status: int = 200, **kw) -> Snapshot:
        s = Snapshot(url, timestamp, status, **kw)
        with self._lock:
            self.snapshots.append(s)
        return s

    def redirect(self, url: str, timestamp: str, target: str, status: int = 301, **kw) -> Snapshot:
        return self.add(url, timestamp, status, headers=[("Location", target), ("Content-Length", "0")], **kw)

    def rate_limit(self, n: int) -> None:
        self._ratelimit = n

    def block(self, substring: str) -> None:
        self._blocked.append(substring)

    def config(self, name: str = "local", requests_per_s: float = 1000.0, timemap: bool = True) -> dict:
        """The ``resolver.archives`` entry for this server."""
        if self.dialect == "ia":
            d = {"name": name, "cdx_url": f"{self.base}/cdx/search/cdx",
                 "replay_url": f"{self.base}/web/{{timestamp}}id_/{{url}}",
                 "timemap_url": f"{self.base}/web/timemap/link/{{url}}"}
        else:
            d = {"name": name, "cdx_url": f"{self.base}/{self.coll}/cdx",
                 "replay_url": f"{self.base}/{self.coll}/{{timestamp}}id_/{{url}}",
                 "timemap_url": f"{self.base}/{self.coll}/timemap/link/{{url}}"}
        if not timemap:
            d.pop("timemap_url")
        d["requests_per_s"] = requests_per_s
        return d

    def count(self, pattern: str) -> int:
        return sum(1 for r in self.requests if pattern in r)

    # ---- dispatch ----------------------------------------------------------------------------------

    def _handle(self, h: _Handler) -> None:
        with self._lock:
            self.requests.append(h.path)
            limited = self._ratelimit > 0
            if limited:
                self._ratelimit -= 1
        if limited:
            return self._send(h, 429, [("Content-Type", "text/html")], b"<html><body>Too Many Requests</body></html>")
        path, _, query = h.path.partition("?")
        if any(b in h.path for b in self._blocked):
            body = (BLOCKED_ERROR + "\n").encode()
            return self._send(h, 403, [("Content-Type", "text/plain;charset=UTF-8"),
                                       ("X-Archive-Wayback-Runtime-Error", BLOCKED_ERROR)], body)
        pre = f"/{self.coll}"
        if self.dialect == "ia" and path == "/cdx/search/cdx" or self.dialect == "pywb" and path == f"{pre}/cdx":
            return self._cdx(h, dict(parse_qsl(query)), parse_qsl(query))
        if path.startswith(f"{pre}/timemap/link/"):
            rest = h.path[len(f"{pre}/timemap/link/"):]
            return self._timemap(h, rest)
        m = re.match(rf"^{re.escape(pre)}/(\d{{1,14}})([a-z]{{2}}_)?/(.+)$", h.path)
        if m:
            return self._replay(h, m.group(1), m.group(2) or "", m.group(3))
        self._send(h, 404, [("Content-Type", "text/plain")], b"not found")

    def _send(self, h, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        h.send_response(status)
        names = {k.lower() for k, _ in headers}
        for k, v in headers:
            h.send_header(k, v)
        if "content-length" not in names:
            h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    # ---- CDX ---------------------------------------------------------------------------------------

    def _cdx(self, h, q: dict, pairs: list[tuple[str, str]]) -> None:
        url = q.get("url", "")
        match = q.get("matchType", "exact")
        if url.endswith("/*"):
            url, match = url[:-2], "prefix"
        key = surt(url)
        if match == "prefix" and key.endswith("/") and not url.endswith("/"):
            key = key[:-1]
        with self._lock:
            snaps = list(self.snapshots)
        rows = [s.cdx() for s in snaps
                if (s.key == key if match == "exact" else s.key.startswith(key))]
        rows.sort(key=lambda r: (r["urlkey"], r["timestamp"]))
        for name, value in pairs:
            if name == "filter":
                rows = [r for r in rows if self._filter(r, value)]
        if q.get("from"):
            rows = [r for r in rows if r["timestamp"] >= q["from"].ljust(14, "0")]
        if q.get("to"):
            rows = [r for r in rows if r["timestamp"] <= q["to"].ljust(14, "9")]
        if self.dialect == "ia" and q.get("collapse"):
            field_, _, n = q["collapse"].partition(":")
            out, last = [], None
            for r in rows:
                v = r.get(_alias(field_), "")[: int(n) if n else None]
                if v != last:
                    out.append(r)
                last = v
            rows = out
        limit = int(q["limit"]) if q.get("limit", "").lstrip("-").isdigit() else None
        if limit is not None:
            rows = rows[limit:] if limit < 0 else rows[:limit]
        if self.dialect == "pywb":
            return self._cdx_pywb(h, rows, q)
        fl = [f for f in (q.get("fl") or "urlkey,timestamp,original,mimetype,statuscode,digest,length").split(",")]
        if q.get("output") == "json":
            if not rows:
                body = b"[]"
            else:
                lines = [json.dumps(fl, separators=(",", ":"))]
                lines += [json.dumps([r[f] for f in fl], separators=(",", ":")) for r in rows]
                body = ("[" + ",\n".join(lines) + "]\n").encode()
            return self._send(h, 200, [("Content-Type", "application/json")], body)
        body = "".join(" ".join(r[f] for f in fl) + "\n" for r in rows).encode()
        self._send(h, 200, [("Content-Type", "text/plain;charset=UTF-8")], body)

    def _filter(self, row: dict, spec: str) -> bool:
        neg = spec.startswith("!")
        spec = spec[1:] if neg else spec
        if self.dialect == "pywb":
            mode = spec[0] if spec[:1] in ("=", "~") else ""
            spec = spec[1:] if mode else spec
            name, _, value = spec.partition(":")
            v = row.get(_alias(name), "")
            ok = v == value if mode == "=" else (re.match(value, v) is not None if mode == "~" else value in v)
        else:
            name, _, value = spec.partition(":")
            ok = re.fullmatch(value, row.get(_alias(name), "")) is not None
        return ok != neg

    def _cdx_pywb(self, h, rows: list[dict], q: dict) -> None:
        lines = []
        for r in rows:
            d = {"urlkey": r["urlkey"], "timestamp": r["timestamp"], "url": r["original"], "mime": r["mimetype"],
                 "status": r["statuscode"], "digest": r["digest"], "length": r["length"], "offset": "0",
                 "filename": "fixtures.warc.gz"}
            if q.get("output") == "json":
                lines.append(json.dumps(d))
            else:
                lines.append(f"{r['urlkey']} {r['timestamp']} " + json.dumps(
                    {k: v for k, v in d.items() if k not in ("urlkey", "timestamp")}))
        ct = "text/x-ndjson" if q.get("output") == "json" else "text/x-cdxj"
        self._send(h, 200, [("Content-Type", ct)], ("\n".join(lines) + ("\n" if lines else "")).encode())

    # ---- replay ------------------------------------------------------------------------------------

    def _prefix(self, ts: str, mod: str) -> str:
        return f"{self.base}/{self.coll}/{ts}{mod}/"

    def _links(self, s: Snapshot, all_snaps: list[Snapshot]) -> str:
        parts = [f'<{s.url}>; rel="original"',
                 f'<{self.base}/{self.coll}/timemap/link/{s.url}>; rel="timemap"; type="application/link-format"',
                 f'<{self.base}/{self.coll}/{s.url}>; rel="timegate"',
                 f'<{self._prefix(s.timestamp, "")}{s.url}>; rel="memento"; datetime="{http_date(s.timestamp)}"']
        return ", ".join(parts)

    def _replay(self, h, ts: str, mod: str, url: str) -> None:
        key = surt(url)
        with self._lock:
            snaps = [s for s in self.snapshots if s.key == key]
        if not snaps:
            body = (b"<!DOCTYPE html><html><head><title>Wayback Machine</title></head><body>"
                    b"<p>The Wayback Machine has not archived that URL.</p></body></html>")
            return self._send(h, 404, [("Content-Type", "text/html; charset=utf-8")], body)
        want = ts.ljust(14, "0")
        exact = [s for s in snaps if s.timestamp == want and s.url == url] or \
                [s for s in snaps if s.timestamp == want]
        if not exact:  # the archive's own redirect to the nearest capture
            near = min(snaps, key=lambda s: abs(int(s.timestamp) - int(want)))
            loc = f"{self._prefix(near.timestamp, mod)}{near.url}"
            return self._send(h, 302, [("Content-Type", "text/plain; charset=utf-8"), ("Location", loc),
                                       ("X-Archive-Redirect-Reason", f"found capture at {near.timestamp}")], b"")
        s = exact[0]
        if mod == "id_":
            return self._raw(h, s, snaps)
        return self._view(h, s, snaps)

    def _raw(self, h, s: Snapshot, snaps: list[Snapshot]) -> None:
        headers: list[tuple[str, str]] = []
        for k, v in s.headers:
            lk = k.lower()
            if lk == "content-type":
                headers.append((k, v))
            elif lk == "location":
                if self.dialect == "ia":
                    headers.append(("Location", f"{self._prefix(s.timestamp, 'id_')}{v}"))
                    if s.orig_location_header:
                        headers.append(("X-Archive-Orig-Location", v))
                else:
                    headers.append(("Location", v))
            elif lk in ("content-length", "transfer-encoding"):
                headers.append((f"X-Archive-Orig-{k}", v))
            else:
                headers.append((f"X-Archive-Orig-{k}", v) if self.dialect == "ia" else (k, v))
        headers += [("Memento-Datetime", http_date(s.timestamp)), ("Link", self._links(s, snaps)),
                    ("X-Archive-Src", "local-fixtures-00000.warc.gz"), ("X-ts", str(s.status))]
        self._send(h, s.status, headers, s.body)

    def _view(self, h, s: Snapshot, snaps: list[Snapshot]) -> None:
        loc = s.header("Location")
        if 300 <= s.status < 400 and loc:
            when = datetime.strptime(s.timestamp, "%Y%m%d%H%M%S").strftime("%H:%M:%S %B %d, %Y")
            body = (f'<html><body><div id="positionHome"><section><div id="error">'
                    f'<p class="code shift target">{s.url} | {when}</p>'
                    f'<p class="code shift red">Got an HTTP {s.status} response at crawl time</p>'
                    f'<p class="code">Redirecting to...</p><p class="code shift target">{loc}</p>'
                    f'<p class="impatient"><a href="/{self.coll}/{s.timestamp}/{loc}">Impatient?</a></p>'
                    f'</div></section></div></body></html>').encode()
            return self._send(h, 200, [("Content-Type", "text/html; charset=utf-8"),
                                       ("X-Archive-Src", "local-fixtures-00000.warc.gz")], body)
        body = s.body.replace(b"<body>", b"<body><!-- BEGIN WAYBACK TOOLBAR INSERT -->", 1)
        self._send(h, s.status, [("Content-Type", s.header("Content-Type") or "text/html"),
                                 ("Memento-Datetime", http_date(s.timestamp))], body)

    # ---- TimeMap -----------------------------------------------------------------------------------

    def _timemap(self, h, url: str) -> None:
        key = surt(url)
        with self._lock:
            snaps = sorted((s for s in self.snapshots if s.key == key), key=lambda s: s.timestamp)
        if not snaps:
            return self._send(h, 404, [("Content-Type", "text/plain")], b"")
        tm = f"{self.base}/{self.coll}/timemap/link/{url}"
        first = http_date(snaps[0].timestamp)
        if self.dialect == "ia":
            lines = [f'<{url}>; rel="original"',
                     f'<{tm}>; rel="self"; type="application/link-format"; from="{first}"',
                     f'<{self.base}>; rel="timegate"']
            for i, s in enumerate(snaps):
                rel = "first memento" if i == 0 else ("last memento" if i == len(snaps) - 1 else "memento")
                lines.append(f'<{self._prefix(s.timestamp, "")}{s.url}>; rel="{rel}"; '
                             f'datetime="{http_date(s.timestamp)}"')
        else:
            lines = [f'<{tm}>; rel="self"; type="application/link-format"; from="{first}"',
                     f'<{self.base}/{self.coll}/{url}>; rel="timegate"', f'<{url}>; rel="original"']
            lines += [f'<{self._prefix(s.timestamp, "")}{s.url}>; rel="memento"; '
                      f'datetime="{http_date(s.timestamp)}"; collection="{self.coll}"' for s in snaps]
        self._send(h, 200, [("Content-Type", "application/link-format")], (",\n".join(lines) + "\n").encode())


def _alias(name: str) -> str:
    return {"url": "original", "mime": "mimetype", "status": "statuscode"}.get(name, name)
