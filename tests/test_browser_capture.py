"""Browser capture (issue 11): pages built by scripts, loaded in Debian's headless Chromium, every
request recorded through the Recorder, screenshots and the rendered DOM as resource records.

Local pages only (127.0.0.1 and localhost). One Chromium serves the module's direct visits; each
pipeline run starts its own, as a pass does."""
from __future__ import annotations

import glob
import io
import json
import os
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import select
from warcio.archiveiterator import ArchiveIterator

import archiver.net.policy as policy
from archiver.capture.browser import Browser
from archiver.capture.browser_route import Document
from archiver.config import load_settings
from archiver.db.session import make_engine, make_sessionmaker
from archiver.db.tables import Capture, Target
from tests.conftest import run_cli, write_config
from tests.servers.targets import recorder_for

pytestmark = [pytest.mark.browser, pytest.mark.browser_capture]
CHROMIUM = Path("/usr/bin/chromium")
WORD = "quixotrellis"  # only the script-built paragraph holds it
BLOCK = (40, 60, 200, 100)  # x, y, width, height of the red block the script places

SHELL = b"""<!doctype html><html><head><title>Budget</title></head><body style="margin:0;background:#fff">
<div id="root"></div>
<script>
fetch('/data.json').then(r => r.json()).then(j => {
  const p = document.createElement('p'); p.textContent = 'The council adopted the ' + j.word + ' budget.';
  document.getElementById('root').appendChild(p);
  const b = document.createElement('div');
  b.style.cssText = 'position:absolute;left:40px;top:60px;width:200px;height:100px;background:rgb(255,0,0)';
  document.body.appendChild(b);
});
</script></body></html>"""

# images that load only when scrolled into view: native lazy loading, and one an observer adds
LAZY = b"""<!doctype html><html><body><p>Top of a long page.</p><div style="height:6000px"></div>
<img loading="lazy" src="/lazy.png" width="20" height="20"><div id="sentinel">end</div>
<script>new IntersectionObserver((es, o) => { if (es[0].isIntersecting) { const i = new Image();
  i.src = '/observed.png'; document.body.appendChild(i); o.disconnect(); } }).observe(document.getElementById('sentinel'));
</script></body></html>"""
PNG_1PX = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c"
                        "63f8cfc0f01f0005000201a3e8c5df0000000049454e44ae426082")

HOSTILE = """<!doctype html><html><head><title>Hostile</title></head><body><p>{text}</p>
<img src="file:///etc/passwd">
<script>
fetch('http://127.0.0.2:{port}/secret.json').catch(() => {{}});
window.open('/popup.html');
setTimeout(() => {{ location.href = 'http://127.0.0.2:{port}/private.html'; }}, 50);
</script></body></html>"""


class _Site(BaseHTTPRequestHandler):
    hits: list = []

    def do_GET(self):  # noqa: N802
        _Site.hits.append((self.headers.get("Host"), self.path))
        port = self.server.server_address[1]
        path = self.path.split("?")[0]
        if path == "/data.json":
            body, ctype = json.dumps({"word": WORD}).encode(), "application/json"
        elif path == "/shell.html":
            body, ctype = SHELL, "text/html; charset=utf-8"
        elif path == "/lazy.html":
            body, ctype = LAZY, "text/html"
        elif path.endswith(".png"):
            body, ctype = PNG_1PX, "image/png"
        elif path == "/loop.html":
            body, ctype = b"<html><body><p>busy</p><script>while (true) {}</script></body></html>", "text/html"
        elif path == "/slow.json":
            time.sleep(3)
            body, ctype = b"{}", "application/json"
        elif path == "/slow.html":
            body, ctype = b"<html><body><p>waiting</p><script>fetch('/slow.json')</script></body></html>", "text/html"
        elif path == "/hostile.html":
            body, ctype = HOSTILE.format(port=port, text="A page whose scripts reach for private addresses. " * 8
                                         ).encode(), "text/html; charset=utf-8"
        else:
            body, ctype = b"<html><body><p>other</p></body></html>", "text/html"
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}", srv.server_address[1]
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """One Chromium for the module's direct visits; ``use(recorder)`` picks the recorder it fetches with."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)")
    settings = load_settings(None, env={}, overrides={"storage": {"root": str(tmp_path_factory.mktemp("b"))},
                                                       "capture": {"idle_timeout_s": 2, "page_timeout_s": 30}})
    current = {}
    b = Browser(settings, lambda url, **kw: current["rec"].fetch(url, **kw))
    b.use = lambda rec: current.__setitem__("rec", rec)
    yield b
    b.close()


def _records(storage: Path) -> list:
    out = []
    for f in sorted(glob.glob(str(storage / "warcs" / "*.warc.gz"))):
        with open(f, "rb") as fh:
            for r in ArchiveIterator(fh):
                out.append((r.rec_type, r.rec_headers.get_header("WARC-Target-URI"),
                            r.rec_headers.get_header("WARC-Concurrent-To"), r.content_stream().read()))
    return out


def test_private_addresses_files_popups_refused_with_the_default_policy(tmp_path, site, browser, monkeypatch):
    """allow_private_addresses false: only the page's own address (127.0.0.1, as if public) may be
    fetched; the script's fetch and navigation to 127.0.0.2, a file: image and a pop-up are refused
    and nothing of them is recorded or sent."""
    base, port = site
    real = policy.address_problem
    monkeypatch.setattr(policy, "address_problem", lambda ip: None if ip == "127.0.0.1" else real(ip))
    s = load_settings(None, env={}, overrides={"storage": {"root": str(tmp_path / "storage")},
                                                 "fetch": {"politeness_delay_s": 0, "timeout_s": 5}})
    assert s.fetch.allow_private_addresses is False
    _Site.hits.clear()
    with recorder_for(s) as (rec, sink):
        browser.use(rec)
        visited = browser.visit(base + "/hostile.html")
    assert visited.error is None, visited.error
    assert visited.screenshot and visited.dom
    refused = dict(visited.traffic.refused)
    assert any("127.0.0.2" in u and "loopback" in why for u, why in refused.items()), refused
    recorded = [r.url for r in visited.traffic.records]
    assert base + "/hostile.html" in recorded and not any("127.0.0.2" in u for u in recorded)
    assert not any(h and h.startswith("127.0.0.2") for h, _ in _Site.hits), _Site.hits  # never sent
    assert not any(u.startswith("file:") for u in recorded)
    # the pop-up was closed before it could load anything worth keeping; the page stayed where it was
    assert visited.final_url == base + "/hostile.html"


def test_page_document_served_from_the_plain_capture(tmp_path, site, browser):
    base, _ = site
    s = load_settings(None, env={}, overrides={"storage": {"root": str(tmp_path / "storage")},
                                                 "fetch": {"allow_private_addresses": True}})
    doc = Document(url=base + "/shell.html", status=200, headers=[("Content-Type", "text/html")],
                   body=SHELL.replace(b"The council", b"As recorded, the council"))
    with recorder_for(s) as (rec, sink):
        browser.use(rec)
        visited = browser.visit(base + "/shell.html", doc)
    assert b"As recorded, the council adopted the " + WORD.encode() in visited.dom
    assert [r.url for r in visited.traffic.records] == [base + "/data.json"]  # the page itself not fetched again


def _store(tmp_path: Path, db_url: str, name: str, **capture):
    """A config for the test's one store (one database, one storage folder) with these capture settings."""
    cfg = write_config(tmp_path, db_url, name=f"{name}.yaml",
                       capture={"idle_timeout_s": 2, "page_timeout_s": 30, **capture})
    assert run_cli(["init"], cfg).code == 0
    return cfg, load_settings(cfg, env={})


def _ingest_and_run(tmp_path: Path, cfg: Path, urls: list[str]) -> dict:
    report = cfg.parent / f"{cfg.stem}.txt"
    report.write_text("".join(f"- On 5 May 2018 the council met.\n  {u}\n" for u in urls), encoding="utf-8")
    assert run_cli(["ingest", str(report)], cfg).code == 0
    r = run_cli(["run", "--json"], cfg)
    assert "Traceback" not in r.err, r.err
    return {**r.json(), "stderr": r.err}


def _rows(settings):
    engine = make_engine(settings)
    try:
        with make_sessionmaker(engine)() as s:
            caps = [(c.role, c.url, c.content_type, c.parent_id, c.id, c.sha256, c.extraction.text if c.extraction
                     else None) for c in s.scalars(select(Capture).order_by(Capture.id))]
            targets = [(t.url, t.status, t.status_reason) for t in s.scalars(select(Target).order_by(Target.id))]
        return caps, targets
    finally:
        engine.dispose()


def test_script_built_page_plain_then_browser(tmp_path, db_url, site, monkeypatch):
    base, _ = site
    url = base + "/shell.html"
    # never: the plain capture only, and Chromium is not even made
    import archiver.capture.browse as browse

    class NoBrowser:
        def __init__(self, *a, **k):
            raise AssertionError("capture.browser never started a browser")

    with monkeypatch.context() as m:
        m.setattr(browse, "Browser", NoBrowser)
        cfg, s = _store(tmp_path, db_url, "never", browser="never")
        assert _ingest_and_run(tmp_path, cfg, [url])["captured"] == 1
    caps, _ = _rows(s)
    assert [c[0] for c in caps] == ["target"]
    assert WORD not in (caps[0][6] or "")
    assert run_cli(["search", WORD, "--json"], cfg).json()["hits"] == []

    # auto: the page looks script-built, so the browser loads it
    url = base + "/shell.html?again"
    cfg, s = _store(tmp_path, db_url, "auto", browser="auto", pdf=True)
    summary = _ingest_and_run(tmp_path, cfg, [url])
    assert summary["captured"] == 1 and summary["failed"] == 0, (summary, _rows(s))
    caps, targets = _rows(s)
    caps = [c for c in caps if c[4] > 1]  # (the first capture was the plain one)
    roles = [c[0] for c in caps]
    assert roles.count("target") == 1 and {"browser", "screenshot", "thumbnail", "dom"} <= set(roles), roles
    main = next(c for c in caps if c[0] == "target")
    assert all(c[3] == main[4] for c in caps if c[0] != "target")  # all hang off the page's capture
    assert any(c[0] == "browser" and c[1] == base + "/data.json" for c in caps)  # the script's request
    dom = next(c for c in caps if c[0] == "dom")
    assert dom[1] == "urn:dom:" + url and WORD in dom[6]  # the rendered DOM's text holds the word
    assert WORD not in (main[6] or "")
    hits = run_cli(["search", WORD, "--json"], cfg).json()["hits"]
    assert hits, "search finds the script-built word"

    recs = _records(s.storage.root)
    main_id = next(r for r in recs if r[0] == "response" and r[1] == url)
    by_uri = {r[1]: r for r in recs if r[0] in ("response", "resource")}
    assert json.loads(by_uri[base + "/data.json"][3]) == {"word": WORD}  # the JSON answer is in the WARC
    shot = by_uri["urn:screenshot:" + url]
    assert shot[0] == "resource" and shot[3].startswith(b"\x89PNG\r\n\x1a\n")
    assert shot[2] is not None and shot[2] == _record_id(s.storage.root, url)
    _looks_like_the_page(shot[3], by_uri["urn:thumbnail:" + url][3])
    from pypdf import PdfReader  # capture.pdf: the page printed, with the script-built words

    assert WORD in PdfReader(io.BytesIO(by_uri["urn:pdf:" + url][3])).pages[0].extract_text()
    assert main_id
    _independently_valid(s.storage.root)
    _auditors_see_it(tmp_path, cfg, s, url, shot[3])
    _exported(tmp_path, cfg, url)
    _dossier(tmp_path, cfg, s)


def _dossier(tmp_path: Path, cfg: Path, settings) -> None:
    """The printed dossier holds every activity's text and every capture's sha256, and the screenshot."""
    from pypdf import PdfReader

    out = tmp_path / "dossier.pdf"
    reports = run_cli(["reports", "--json"], cfg).json()
    reports = reports["reports"] if isinstance(reports, dict) else reports
    r = run_cli(["dossier", "--report", str(reports[-1]["id"]), "-o", str(out), "--json"], cfg)
    assert r.code == 0, r.err
    assert r.json()["screenshots"] == 1
    pdf = PdfReader(out)
    text = "".join("".join(p.extract_text() or "" for p in pdf.pages).split())  # no whitespace: lines wrap
    engine = make_engine(settings)
    try:
        with make_sessionmaker(engine)() as s:
            from archiver.db.tables import Activity

            rid = reports[-1]["id"]
            acts = s.scalars(select(Activity).where(Activity.report_id == rid)).all()
            shas = [c.sha256 for c in s.scalars(select(Capture).where(Capture.role == "target")) if c.target
                    and any(li.activity.report_id == rid for li in c.target.links)]
    finally:
        engine.dispose()
    assert acts and shas
    for a in acts:
        assert "".join(a.text.split()) in text
    for sha in shas:
        assert sha in text
    assert sum(len(p.images) for p in pdf.pages) >= 1  # the screenshot is a picture in the PDF
    html = tmp_path / "dossier.html"
    assert run_cli(["dossier", "--report", str(rid), "-o", str(html)], cfg).code == 0
    assert "data:image/png;base64," in html.read_text(encoding="utf-8") and "<script" not in html.read_text()


def _exported(tmp_path: Path, cfg: Path, url: str) -> None:
    """The WACZ holds the screenshot, thumbnail and DOM records and the JSON; pages.jsonl marks the page."""
    import zipfile

    acts = run_cli(["activities", "--json"], cfg).json()
    acts = acts["activities"] if isinstance(acts, dict) else acts
    out = tmp_path / "evidence.wacz"
    r = run_cli(["export", "--activity", str(acts[-1]["id"]), "-o", str(out)], cfg)
    assert r.code == 0, r.err
    with zipfile.ZipFile(out) as z:
        pages = [json.loads(line) for line in z.read("pages/pages.jsonl").decode().splitlines()[1:]]
        uris = [rec.rec_headers.get_header("WARC-Target-URI") for rec in ArchiveIterator(io.BytesIO(
            z.read("archive/data.warc.gz")))]
    page = next(p for p in pages if p["url"] == url)
    assert page["browser"] is True and page["screenshot"] == "urn:screenshot:" + url
    assert page["dom"] == "urn:dom:" + url
    for uri in ("urn:screenshot:", "urn:thumbnail:", "urn:dom:"):
        assert uri + url in uris
    assert any(u.endswith("/data.json") for u in uris)


def _auditors_see_it(tmp_path: Path, cfg: Path, settings, url: str, png: bytes) -> None:
    """show --json lists the browser's records; get --screenshot writes the picture; the evidence page
    shows it first."""
    acts = run_cli(["activities", "--json"], cfg).json()
    acts = acts["activities"] if isinstance(acts, dict) else acts
    act = acts[-1]["id"]
    link = next(li for li in run_cli(["show", str(act), "--json"], cfg).json()["links"] if li["url"] == url)
    views = link["captures"][0]["views"]
    assert [v["role"] for v in views] == ["screenshot", "thumbnail", "dom", "pdf"]
    assert all(v["sha256"] and v["url"] == f"urn:{v['role']}:{url}" for v in views)
    assert link["captures"][0]["browser_requests"] >= 1
    out = tmp_path / "shot.png"
    r = run_cli(["get", url, "--screenshot", "-o", str(out)], cfg)
    assert r.code == 0, r.err
    assert out.read_bytes() == png
    r = run_cli(["get", url.replace("?again", ""), "--screenshot", "-o", str(tmp_path / "none.png")], cfg)
    assert r.code == 1 and "no screenshot" in r.err

    import requests

    from archiver.web.app import create_app
    from tests.browser.servers import serve_app

    engine = make_engine(settings)
    try:
        app = create_app(settings, make_sessionmaker(engine), replay_origin_url="http://127.0.0.1:9",
                         runner=lambda *a, **k: None)
        with serve_app(app) as ui:
            page = requests.get(f"{ui}/activities/{act}", timeout=10).text
            thumb = next(v for v in views if v["role"] == "thumbnail")
            shot = next(v for v in views if v["role"] == "screenshot")
            assert page.index(f"/captures/{thumb['id']}/picture.png") < page.index("Redirect chain")
            got = requests.get(f"{ui}/captures/{shot['id']}/picture.png", timeout=10)
            assert got.status_code == 200 and got.headers["content-type"] == "image/png" and got.content == png
            dom = next(v for v in views if v["role"] == "dom")
            assert requests.get(f"{ui}/captures/{dom['id']}/picture.png", timeout=10).status_code == 404
            reports = run_cli(["reports", "--json"], cfg).json()
            rid = (reports["reports"] if isinstance(reports, dict) else reports)[-1]["id"]
            assert f"/reports/{rid}/dossier.html" in requests.get(f"{ui}/reports/{rid}", timeout=10).text
            d = requests.get(f"{ui}/reports/{rid}/dossier.html", timeout=10)
            assert d.status_code == 200 and "img-src data:" in d.headers["content-security-policy"]
            assert shot["sha256"] and link["captures"][0]["sha256"] in d.text and "data:image/png" in d.text
    finally:
        engine.dispose()


def _independently_valid(storage: Path) -> None:
    """warcio's checker, FastWARC and the WARC 1.1 field rules accept every record."""
    import subprocess
    import sys

    from tests.independent import check_store
    from tests.warc_rules import check_files

    files = sorted(Path(storage, "warcs").glob("*.warc.gz"))
    for w in files:
        out = subprocess.run([sys.executable, "-m", "warcio.cli", "check", "-v", str(w)], capture_output=True,
                             text=True)
        assert out.returncode == 0 and "digest pass" in out.stdout, out.stdout + out.stderr
    bad = [c for c in check_store(storage) if not c.ok]
    assert not bad, bad
    assert check_files(files) == []


def _record_id(storage: Path, url: str) -> str:
    for f in sorted(glob.glob(str(storage / "warcs" / "*.warc.gz"))):
        with open(f, "rb") as fh:
            for r in ArchiveIterator(fh):
                if r.rec_type in ("response", "revisit") and r.rec_headers.get_header("WARC-Target-URI") == url:
                    return r.rec_headers.get_header("WARC-Record-ID")
    raise AssertionError(f"no response record for {url}")


def _looks_like_the_page(png: bytes, thumb: bytes) -> None:
    """A real picture: not blank, and the red block the script placed is where it put it."""
    from PIL import Image, ImageStat

    img = Image.open(io.BytesIO(png)).convert("RGB")
    assert img.width == 1366 and img.height >= 160
    x, y, w, h = BLOCK
    assert img.getpixel((x + w // 2, y + h // 2)) == (255, 0, 0)
    assert img.getpixel((x + w + 20, y + h // 2)) != (255, 0, 0)
    assert max(ImageStat.Stat(img).stddev) > 10  # not one flat colour
    small = Image.open(io.BytesIO(thumb))
    assert small.width == 400


def test_without_chromium_auto_falls_back_and_always_fails(tmp_path, db_url, site):
    """capture.chromium_path names a missing file: under auto (localhost) the plain capture stands with
    one notice; the per-host rule makes 127.0.0.1 always, and its item fails saying why."""
    base, port = site
    auto_url, always_url = f"http://localhost:{port}/shell.html", base + "/shell.html?always"
    cfg, s = _store(tmp_path, db_url, "missing", browser="auto", chromium_path=str(tmp_path / "no-chromium"),
                    browser_hosts={"127.0.0.1": "always"})
    err = _ingest_and_run(tmp_path, cfg, [auto_url, always_url])["stderr"]
    caps, targets = _rows(s)
    status = {u: (st, why) for u, st, why in targets}
    assert status[auto_url][0] == "captured"
    assert status[always_url][0] == "failed" and "Chromium is not installed" in status[always_url][1]
    assert [c[0] for c in caps] == ["target", "target"]  # both plain captures kept, nothing else
    notices = [line for line in err.splitlines() if "capturing without a browser" in line]
    assert len(notices) == 1 and "no-chromium" in notices[0], err


def test_a_chromium_that_cannot_start_is_as_good_as_missing(tmp_path, db_url, site):
    """An executable that exits at once (no memory for a browser, a missing library): under auto the
    plain capture stands, with one notice; under always the item fails, saying why."""
    base, port = site
    auto_url, always_url = f"http://localhost:{port}/shell.html", base + "/shell.html?always"
    broken = tmp_path / "chromium-that-exits"
    broken.write_text("#!/bin/sh\nexit 1\n")
    broken.chmod(0o755)
    cfg, s = _store(tmp_path, db_url, "cannot-start", browser="auto", chromium_path=str(broken),
                    browser_hosts={"127.0.0.1": "always"})
    err = _ingest_and_run(tmp_path, cfg, [auto_url, always_url])["stderr"]
    _caps, targets = _rows(s)
    status = {u: (st, why) for u, st, why in targets}
    assert status[auto_url][0] == "captured", status[auto_url]
    assert status[always_url][0] == "failed" and "Chromium did not start" in status[always_url][1]
    notices = [line for line in err.splitlines() if "capturing without a browser" in line]
    assert len(notices) == 1 and "did not start" in notices[0], err


def _our_chromium() -> int:
    """The pid of the Chromium browser process this test process started (through Playwright's driver)."""
    def parent(pid: int) -> int:
        with open(f"/proc/{pid}/stat") as fh:
            return int(fh.read().rsplit(")", 1)[1].split()[1])

    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                args = fh.read().split(b"\0")
            if not any(a.endswith(b"chromium") for a in args[:1]) or any(a.startswith(b"--type=") for a in args):
                continue
            pid = int(entry)
            while pid > 1:
                pid = parent(pid)
                if pid == os.getpid():
                    return int(entry)
        except (OSError, ValueError, IndexError):
            continue
    raise AssertionError("no Chromium of ours is running")


def test_a_crashed_browser_fails_the_visit_and_is_started_again(tmp_path, site, browser):
    base, _ = site
    s = load_settings(None, env={}, overrides={"storage": {"root": str(tmp_path / "storage")},
                                                 "fetch": {"allow_private_addresses": True}})
    with recorder_for(s) as (rec, sink):
        browser.use(rec)
        assert browser.visit(base + "/shell.html").error is None  # (the browser is up)
        launched = browser.launches
        threading.Timer(1.0, lambda: os.kill(_our_chromium(), signal.SIGKILL)).start()
        crashed = browser.visit(base + "/slow.html")
        assert crashed.error_type == "BrowserCrashed" and "crashed" in crashed.error, crashed.error
        again = browser.visit(base + "/shell.html")
    assert again.error is None and WORD.encode() in again.dom
    assert browser.launches == launched + 1


@pytest.mark.parametrize("mode,error_type,outcome", [
    ("auto", "BrowserCrashed", "failed"), ("always", "BrowserCrashed", "failed"),
    ("auto", "BrowserTimeout", "captured"), ("always", "BrowserTimeout", "failed")])
def test_what_a_failed_visit_does_to_the_item(mode, error_type, outcome):
    """A broken browser fails the item (tried again later); a page that never finishes fails it only
    under always (under auto the plain capture stands, the failure noted). The plain capture is kept."""
    from datetime import datetime, timezone

    from archiver.capture.browse import _with_visit
    from archiver.capture.browser import Visited
    from archiver.model import CaptureResult, Outcome, WarcRef

    ref = WarcRef("warcs/x.warc.gz", 0, 10, "<urn:uuid:1>", "http://127.0.0.1/", datetime.now(timezone.utc), 200)
    plain = CaptureResult(Outcome.CAPTURED, response=ref, final_url=ref.url)
    got = _with_visit(plain, Visited(ref.url, error="it went wrong", error_type=error_type), why="screenshot",
                      mode=mode, tools=None)
    assert got.outcome.value == outcome and got.response is ref
    assert got.browser.status == "failed" and got.browser.error_type == error_type
    assert "browser: it went wrong" in got.reason


def test_a_page_that_loops_forever_ends_at_the_time_limit(tmp_path, site, browser):
    base, _ = site
    s = load_settings(None, env={}, overrides={"storage": {"root": str(tmp_path / "storage")},
                                                 "fetch": {"allow_private_addresses": True}})
    normal = browser.cap
    browser.cap = normal.model_copy(update={"page_timeout_s": 3.0})
    try:
        with recorder_for(s) as (rec, sink):
            browser.use(rec)
            started = time.monotonic()
            stuck = browser.visit(base + "/loop.html")
            took = time.monotonic() - started
            assert stuck.error_type == "BrowserTimeout" and "page_timeout_s" in stuck.error
            assert took < 3.0 + 12  # the limit, and at worst the context's close time
            assert browser.visit(base + "/shell.html").error is None  # the next page is fine
    finally:
        browser.cap = normal


def test_images_that_load_when_scrolled_into_view_are_recorded(tmp_path, site, browser):
    base, _ = site
    s = load_settings(None, env={}, overrides={"storage": {"root": str(tmp_path / "storage")},
                                                 "fetch": {"allow_private_addresses": True}})
    with recorder_for(s) as (rec, sink):
        browser.use(rec)
        visited = browser.visit(base + "/lazy.html")
    assert visited.error is None, visited.error
    recorded = {r.url for r in visited.traffic.records}
    assert {base + "/lazy.png", base + "/observed.png"} <= recorded, recorded
