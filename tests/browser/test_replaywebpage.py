"""An exported WACZ opens in the real ReplayWeb.page (its published ui.js + sw.js), offline.

The issue asks that `archiver export` packages "open in ReplayWeb.page"; `wacz validate` (tests/test_export.py)
checks the format, this checks that the reference client replays the archived page from it. Everything is
served from 127.0.0.1: an index.html embedding ``<replay-web-page>``, the component, its service worker under
/replay/ and the WACZ (with HTTP range support, which ReplayWeb.page uses to read ZIP members)."""
from __future__ import annotations

import re
import shutil
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.evidence_fixtures import IMAGE, IMAGE_BYTES, PAGE, build_evidence
from tests.servers.scripted import POST_WORD, WORD

from .conftest import shot

pytestmark = pytest.mark.browser

RWP = Path(__file__).resolve().parents[1] / "replaywebpage" / "node_modules" / "replaywebpage"
REVISIT_TS = "20260102100000"
INDEX = """<!doctype html>
<html><head><meta charset="utf-8"><title>archiver export in ReplayWeb.page</title>
<script src="/ui.js"></script>
<style>html, body { margin: 0; height: 100%; } replay-web-page { display: block; height: 100vh; }</style>
</head><body>
<script>
// The component registers its service worker itself, but loads its iframe as soon as registration starts and
// gives up after three quick reloads if the worker is not active yet. Register the same worker first and add
// the component once it is active, so a slow start (a loaded CI machine) cannot race the iframe.
navigator.serviceWorker.register("/replay/sw.js?serveIndex=1", {scope: "/replay/"}).then(async (reg) => {
  const sw = reg.installing || reg.waiting;
  if (sw) await new Promise((ok) => sw.addEventListener("statechange", () => sw.state === "activated" && ok()));
  const rwp = document.createElement("replay-web-page");
  const attrs = {source: "/{wacz}", url: "{url}", ts: "{ts}", replayBase: "/replay/"};
  Object.entries(attrs).forEach(([k, v]) => rwp.setAttribute(k, v));
  document.body.appendChild(rwp);
});
</script>
</body></html>
"""


class _Handler(SimpleHTTPRequestHandler):
    """Static files with single-range requests (206) and no request log on stderr."""

    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, ".js": "application/javascript",
                      ".wacz": "application/wacz+zip", ".html": "text/html; charset=utf-8"}

    def log_message(self, *args):
        pass

    def end_headers(self):
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def send_head(self):
        m = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", "").strip())
        path = Path(self.translate_path(self.path))
        if not m or not path.is_file():
            return super().send_head()
        size = path.stat().st_size
        if m[1]:
            start, end = int(m[1]), min(int(m[2]) if m[2] else size - 1, size - 1)
        else:
            start, end = max(size - int(m[2] or 0), 0), size - 1
        if start > end:
            self.send_error(416)
            return None
        fh = open(path, "rb")
        fh.seek(start)
        self.send_response(206)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        return _Slice(fh, end - start + 1)


class _Slice:
    """The part of a file a range asks for, read the way copyfile reads (read(n) until empty)."""

    def __init__(self, fh, left: int):
        self.fh, self.left = fh, left

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        data = self.fh.read(n)
        self.left -= len(data)
        return data

    def close(self):
        self.fh.close()


def _open(browser, server):
    """A context whose requests may reach only ``server`` (others are recorded in ``outside`` and refused),
    with the index page open."""
    port = server.server_address[1]
    ctx = browser.new_context(viewport={"width": 1100, "height": 700}, service_workers="allow")
    outside: list[str] = []
    ctx.route(re.compile(r"^(?!http://127\.0\.0\.1:%d/)[a-z]+://" % port),
              lambda route: (outside.append(route.request.url), route.abort()))
    page = ctx.new_page()
    page.set_default_timeout(15_000)
    console: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    page.goto(f"http://127.0.0.1:{port}/index.html")
    return ctx, page, outside, console


def _replay_frame(page, url: str, console, outside):
    """Frames nest: index.html > /replay/?source=... (the app) > /replay/w/<collection>/<timestamp>mp_/<url>."""
    frame, deadline = None, time.monotonic() + 15
    while frame is None and time.monotonic() < deadline:
        frame = next((f for f in page.frames if "/replay/w/" in f.url and f.url.endswith("mp_/" + url)), None)
        page.wait_for_timeout(100)
    if frame is None:
        shot(page, "replaywebpage")
    assert frame is not None, ([f.url for f in page.frames], console, outside)
    return frame


def _site(tmp_path: Path, wacz_name: str, url: str, ts: str) -> Path:
    """A folder to serve: ReplayWeb.page's files and an index.html opening ``url`` at ``ts`` from the package."""
    if not (RWP / "ui.js").is_file() or not (RWP / "sw.js").is_file():
        pytest.fail(f"ReplayWeb.page is not installed in {RWP.parent}: run "
                    "`npm install --prefix tests/replaywebpage --no-audit --no-fund` (as .ci/run does)")
    site = tmp_path / "site"
    (site / "replay").mkdir(parents=True)
    for name, dest in (("ui.js", "ui.js"), ("ui.js", "replay/ui.js"), ("sw.js", "replay/sw.js")):
        shutil.copyfile(RWP / name, site / dest)
    index = INDEX.replace("{wacz}", wacz_name).replace("{url}", url).replace("{ts}", ts)
    (site / "index.html").write_text(index, encoding="utf-8")
    return site


def _serve(folder: Path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, directory=str(folder)))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the export, not the database, is under test
def test_exported_wacz_replays_in_replaywebpage(cli, Session, settings, tmp_path, browser):
    ev = build_evidence(Session, settings.storage.root)
    # The page's second capture: a revisit record, so its text must come from the original record in the package.
    site = _site(tmp_path, "evidence.wacz", PAGE, REVISIT_TS)
    r = cli("export", "--report", ev.report_id, "-o", site / "evidence.wacz", "--json")
    assert r.code == 0, r.err
    server = _serve(site)
    ctx, page, outside, console = _open(browser, server)
    try:
        frame = _replay_frame(page, PAGE, console, outside)
        assert f"/{REVISIT_TS}mp_/" in frame.url
        frame.wait_for_selector("text=Evidence text.")
        assert frame.title() == "Example <page> & co"
        src = frame.wait_for_selector("img").evaluate("img => img.src")
        assert src == IMAGE  # as the replayed page sees it; the replay system rewrites the request to the archive
        # The fixture's image is PNG magic + filler, not decodable (no naturalWidth): compare the replayed bytes.
        # (A request that escaped the rewriting would be refused by the route above, and fail.)
        body = frame.evaluate("async (src) => Array.from(new Uint8Array(await (await fetch(src)).arrayBuffer()))",
                              src)
        assert bytes(body) == IMAGE_BYTES
        shot(page, "replaywebpage")
        assert outside == []
    finally:
        ctx.close()
        server.shutdown()
        server.server_close()


def test_script_built_page_replays_in_replaywebpage(scripted_capture, tmp_path, browser):
    """A page whose script fetched JSON and wrote a paragraph, captured through the browser by `archiver run`:
    exported, it replays in ReplayWeb.page with the paragraph (its JSON answered from the package; the site is
    gone)."""
    url, cap = scripted_capture.page, scripted_capture
    site = _site(tmp_path, "scripted.wacz", url, cap.stamps[url])
    r = run_cli(["export", "--activity", "1", "-o", str(site / "scripted.wacz")], cap.cfg)
    assert r.code == 0, r.err
    server = _serve(site)
    ctx, page, outside, console = _open(browser, server)
    try:
        frame = _replay_frame(page, url, console, outside)
        built = frame.wait_for_selector("#built")
        assert WORD in built.text_content()
        shot(page, "replaywebpage-scripted")
        assert outside == []
    finally:
        ctx.close()
        server.shutdown()
        server.server_close()


def test_script_post_replays_in_replaywebpage(scripted_capture, tmp_path, browser):
    """The page whose script POSTs a JSON query: ReplayWeb.page answers it from the package."""
    url, cap = scripted_capture.post_page, scripted_capture
    site = _site(tmp_path, "post.wacz", url, cap.stamps[url])
    r = run_cli(["export", "--activity", "2", "-o", str(site / "post.wacz")], cap.cfg)
    assert r.code == 0, r.err
    server = _serve(site)
    ctx, page, outside, console = _open(browser, server)
    try:
        frame = _replay_frame(page, url, console, outside)
        frame.wait_for_function("() => document.getElementById('out').textContent !== 'waiting'")
        assert frame.text_content("#out").startswith(f"Found: {POST_WORD}"), (console, outside)
        assert outside == []
    finally:
        ctx.close()
        server.shutdown()
        server.server_close()
