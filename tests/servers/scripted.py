"""A small site whose content scripts build (issue 11): what a plain fetch gets wrong.

    with scripted_site() as site:      # 127.0.0.1, port 0
        site.url("/shell.html"), site.hits, site.posts

* ``/shell.html`` fetches ``/data.json`` and writes a paragraph holding ``WORD``;
* ``/app/`` is a single-page app: it fetches ``/api/items.json``, shows item 42 and moves its URL to
  ``/app/items/42`` with ``history.pushState`` (``/app/items/42`` itself is never asked for by it);
* ``/post.html`` sends ``POST /api/echo`` (a JSON body) and writes the answer, which holds ``POST_WORD``;
* ``/video.html`` shows ``/clip.mp4`` (``CLIP``) in a ``<video>``;
* ``/many.html?h=HOST:PORT,HOST:PORT&n=N`` loads N images and fetches N pages (``/p/...``, as
  tests/servers/counting.py serves them) from each host named.

Every request is kept in ``hits`` (method, path); every POST body in ``posts``.
"""
from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

WORD = "plumbiferous"  # only the script-built paragraph of /shell.html holds it
SPA_WORD = "tessellarium"  # only item 42, as the app renders it
POST_WORD = "brachistochrone"  # only the answer to the POST
POST_BODY = b'{"query":"budget","page":2}'  # as the page's JSON.stringify sends it

SHELL = b"""<!doctype html><html><head><title>Budget</title></head><body>
<div id="root"></div>
<script>
fetch('/data.json').then(r => r.json()).then(j => {
  const p = document.createElement('p'); p.id = 'built';
  p.textContent = 'The council adopted the ' + j.word + ' budget.';
  document.getElementById('root').appendChild(p);
});
</script></body></html>"""

APP = b"""<!doctype html><html><head><title>Items</title></head><body>
<main id="view">loading</main>
<script>
fetch('/api/items.json').then(r => r.json()).then(items => {
  const it = items.find(i => i.id === 42);
  document.getElementById('view').innerHTML = '<h1 id="item">Item ' + it.id + ': ' + it.name + '</h1>';
  history.pushState({id: 42}, '', '/app/items/42');
  document.title = 'Item 42';
});
</script></body></html>"""

# a small MP4 as far as anyone looking at it can tell (an ftyp box, then filler): no decoder is involved
CLIP = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(range(256)) * 64
VIDEO_PAGE = b"""<!doctype html><html><head><title>Council session</title></head><body>
<h1>The council session, recorded</h1><video controls width="320" src="/clip.mp4"></video></body></html>"""

POST_PAGE = b"""<!doctype html><html><head><title>Search</title></head><body>
<div id="out">waiting</div>
<script>
fetch('/api/echo', {method: 'POST', headers: {'Content-Type': 'application/json'},
                    body: JSON.stringify({query: 'budget', page: 2})})
  .then(r => r.json()).then(j => { document.getElementById('out').textContent = 'Found: ' + j.answer; });
</script></body></html>"""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _send(self, body: bytes, ctype: str, status: int = 200) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # noqa: N802
        path = self.path.split("?")[0]
        self.server.hits.append(("GET", path))
        pages = {
            "/shell.html": (SHELL, "text/html; charset=utf-8"),
            "/data.json": (json.dumps({"word": WORD}).encode(), "application/json"),
            "/app/": (APP, "text/html; charset=utf-8"),
            "/api/items.json": (json.dumps([{"id": 41, "name": "roads"}, {"id": 42, "name": SPA_WORD}]).encode(),
                                "application/json"),
            "/post.html": (POST_PAGE, "text/html; charset=utf-8"),
            "/video.html": (VIDEO_PAGE, "text/html; charset=utf-8"),
            "/clip.mp4": (CLIP, "video/mp4"),
        }
        if path in pages:
            return self._send(*pages[path])
        if path == "/many.html":
            return self._send(_many(self.path), "text/html; charset=utf-8")
        self._send(b"<html><body><p>not here</p></body></html>", "text/html", 404)

    def do_POST(self):  # noqa: N802
        path = self.path.split("?")[0]
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.hits.append(("POST", path))
        self.server.posts.append((path, self.headers.get("Content-Type"), body))
        if path != "/api/echo":
            return self._send(b"{}", "application/json", 404)
        asked = json.loads(body or b"{}")
        self._send(json.dumps({"answer": f"{POST_WORD} ({asked.get('query')}, page {asked.get('page')})"}).encode(),
                   "application/json")


def _many(raw_path: str) -> bytes:
    from urllib.parse import parse_qs, urlsplit

    q = parse_qs(urlsplit(raw_path).query)
    hosts, n = q.get("h", [""])[0].split(","), int(q.get("n", ["4"])[0])
    imgs = "".join(f'<img src="http://{h}/p/img-{i}" width="4" height="4">' for h in hosts for i in range(n))
    urls = json.dumps([f"http://{h}/p/xhr-{i}" for h in hosts for i in range(n)])
    return (f"<!doctype html><html><body><p>A page asking several hosts for many things.</p>{imgs}"
            f"<script>{urls}.forEach(u => fetch(u).catch(() => {{}}));</script></body></html>").encode()


class ScriptedSite(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str = "127.0.0.1"):
        self.hits: list[tuple[str, str]] = []
        self.posts: list[tuple[str, str | None, bytes]] = []
        super().__init__((host, 0), _Handler)

    @property
    def base(self) -> str:
        return f"http://{self.server_address[0]}:{self.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path


@contextmanager
def scripted_site(host: str = "127.0.0.1"):
    server = ScriptedSite(host)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
