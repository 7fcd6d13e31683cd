"""Browser capture of what scripts do beyond GET-and-render (issue 11), through `archiver run` itself:

* a single-page app that moves its URL with ``history.pushState``;
* a page whose script sends ``POST`` with a JSON body: request and response records, body kept, read back by
  warcio and keyed by cdxj-indexer's ``__wb_method=post`` convention;
* the browser's own requests held to ``fetch.per_host_concurrency`` and ``fetch.politeness_delay_s``.

Pages come from tests/servers/scripted.py and tests/servers/counting.py (127.0.0.x only)."""
from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.browser.captured import capture_pages
from tests.servers.counting import counting_sites
from tests.servers.scripted import POST_BODY, POST_WORD, SPA_WORD, scripted_site

pytestmark = [pytest.mark.browser, pytest.mark.browser_capture]


@pytest.fixture(scope="module")
def captured(tmp_path_factory):
    """The single-page app and the POST page, captured in one pass; the site's log kept."""
    if not Path("/usr/bin/chromium").exists():
        pytest.fail("/usr/bin/chromium is missing: install Debian's chromium (apt-get install -y chromium)")
    with scripted_site() as site:
        cap = capture_pages(tmp_path_factory.mktemp("scripted"), [site.url("/app/"), site.url("/post.html")])
    cap.site = site
    cap.records = _records(Path(cap.settings.storage.root))
    return cap


def _records(root: Path) -> list:
    out = []
    for f in sorted((root / "warcs").glob("*.warc.gz")):
        with open(f, "rb") as fh:
            for r in ArchiveIterator(fh):
                out.append({"type": r.rec_type, "uri": r.rec_headers.get_header("WARC-Target-URI"),
                            "id": r.rec_headers.get_header("WARC-Record-ID"),
                            "to": r.rec_headers.get_header("WARC-Concurrent-To"),
                            "ctype": r.rec_headers.get_header("Content-Type"),
                            "http": r.http_headers, "body": r.content_stream().read(), "file": f})
    return out


def test_a_single_page_app_is_kept_under_its_url_with_where_it_ended(captured):
    url = captured.site.url("/app/")
    final = captured.site.url("/app/items/42")
    recs = captured.records
    page = next(r for r in recs if r["type"] == "response" and r["uri"] == url)
    assert any(r["type"] == "response" and r["uri"] == captured.site.url("/api/items.json") for r in recs)
    assert not any(r["uri"] == final for r in recs if r["type"] in ("response", "request"))  # never fetched
    assert ("GET", "/app/items/42") not in captured.site.hits
    views = {r["uri"]: r for r in recs if r["type"] == "resource"}
    shot, dom = views["urn:screenshot:" + url], views["urn:dom:" + url]
    assert shot["to"] == page["id"] and dom["to"] == page["id"]
    assert SPA_WORD.encode() in dom["body"]  # the view the app showed after moving its URL
    _not_blank(shot["body"])
    note = [r for r in recs if r["type"] == "metadata" and r["uri"] == url and r["to"] == page["id"]]
    assert len(note) == 1 and note[0]["ctype"] == "application/warc-fields"
    assert note[0]["body"] == f"browser-final-url: {final}\r\n".encode()
    from tests.conftest import check_store  # `verify` and every activity's WACZ accept the note and the POST

    assert check_store(captured.settings, captured.cfg.parent) == []
    # a page that stayed where it was loaded gets no such note
    post_page = next(r for r in recs if r["type"] == "response" and r["uri"] == captured.site.url("/post.html"))
    assert not [r for r in recs if r["type"] == "metadata" and r["to"] == post_page["id"]
                and b"browser-final-url" in r["body"]]


def test_a_scripts_post_is_recorded_with_its_body(captured):
    url = captured.site.url("/api/echo")
    assert captured.site.posts == [("/api/echo", "application/json", POST_BODY)]  # sent once, as the page sent it
    recs = captured.records
    resp = [r for r in recs if r["type"] == "response" and r["uri"] == url]
    req = [r for r in recs if r["type"] == "request" and r["uri"] == url]
    assert len(resp) == 1 and len(req) == 1
    assert req[0]["to"] == resp[0]["id"] and req[0]["ctype"] == "application/http; msgtype=request"
    assert req[0]["http"].protocol == "POST" and req[0]["http"].get_header("Content-Type") == "application/json"
    assert req[0]["body"] == POST_BODY and int(req[0]["http"].get_header("Content-Length")) == len(POST_BODY)
    assert json.loads(resp[0]["body"])["answer"].startswith(POST_WORD)
    dom = next(r for r in recs if r["uri"] == "urn:dom:" + captured.site.url("/post.html"))
    assert f"Found: {POST_WORD}".encode() in dom["body"]
    files = sorted({r["file"] for r in recs})
    for f in files:  # warcio's own check: every digest of every record, the POST's included
        out = subprocess.run([sys.executable, "-m", "warcio.cli", "check", "-v", str(f)], capture_output=True,
                             text=True)
        assert out.returncode == 0 and "digest pass" in out.stdout, out.stdout + out.stderr
    from tests.warc_rules import check_files

    assert check_files(files) == []  # WARC 1.1 field rules, request records included
    # cdxj-indexer, joining request and response as pywb does for POST: the body becomes part of the key
    from cdxj_indexer.main import CDXJIndexer

    lines = io.StringIO()
    CDXJIndexer(output=lines, inputs=[str(f) for f in files], post_append=True, sort=True).process_all()
    post = [line for line in lines.getvalue().splitlines() if "/api/echo" in line]
    assert len(post) == 1, post
    key, _ts, fields = post[0].split(" ", 2)
    assert "__wb_method=post" in key and "query=budget" in key and "page=2" in key, key
    fields = json.loads(fields)
    assert fields["method"] == "POST" and "query=budget" in fields["requestBody"]
    # the WACZ's index keys it the same way (ReplayWeb.page finds the answer by it), and verify-export accepts it
    import gzip
    import zipfile

    from tests.conftest import run_cli

    wacz = captured.cfg.parent / "post.wacz"
    assert run_cli(["export", "--activity", "2", "-o", str(wacz)], captured.cfg).code == 0
    r = run_cli(["verify-export", str(wacz)], captured.cfg)
    assert r.code == 0, r.out + r.err
    with zipfile.ZipFile(wacz) as z:
        ours = [x for x in gzip.decompress(z.read("indexes/index.cdx.gz")).decode().splitlines() if "/api/echo" in x]
    assert len(ours) == 1
    our_key, _, our_fields = ours[0].split(" ", 2)
    assert our_key == key and {k: json.loads(our_fields)[k] for k in ("method", "requestBody")} == {
        "method": "POST", "requestBody": fields["requestBody"]}


def test_the_browsers_requests_keep_each_hosts_politeness(tmp_path):
    """A page asking two other hosts for 8 things each (4 images, 4 fetches; 0.2 s each to answer): with
    per_host_concurrency 1 and a 0.15 s delay, neither host ever sees two at once or two starts closer than
    the delay. (The browser alone sends them all at once: without the gate the peak is 4 or more.)"""
    n, delay = 4, 0.15
    with counting_sites(2, latency=0.2) as hosts, scripted_site() as site:
        names = ",".join(f"{h.server_address[0]}:{h.server_address[1]}" for h in hosts)
        url = site.url(f"/many.html?h={names}&n={n}")
        capture_pages(tmp_path, [url], fetch={"allow_private_addresses": True, "per_host_concurrency": 1,
                                              "politeness_delay_s": delay, "timeout_s": 5, "retry_base_s": 0})
        for h in hosts:
            # every fetch once (the browser's), every image twice (a requisite of the plain capture, then the browser's)
            assert h.paths == {**{f"/p/xhr-{i}": 1 for i in range(n)}, **{f"/p/img-{i}": 2 for i in range(n)}}, h.paths
            assert h.peak == 1, h.peak
            gaps = [b - a for a, b in zip(h.starts, h.starts[1:])]
            assert min(gaps) >= delay - 0.02, gaps


def _not_blank(png: bytes) -> None:
    from PIL import Image, ImageStat

    img = Image.open(io.BytesIO(png)).convert("RGB")
    assert img.width > 100 and max(ImageStat.Stat(img).stddev) > 5
