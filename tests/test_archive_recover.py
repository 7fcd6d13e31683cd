"""Recovering a dead target from a web archive into our own WARC."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archiver.capture.fallback import recover_from_archives, restore_headers
from archiver.capture.warcfile import WarcSink
from archiver.config import load_settings
from archiver.model import Outcome
from archiver.net.http import HttpClient
from archiver.resolve import ratelimit
from tests.conftest import write_config
from tests.servers.wayback import WaybackServer

URL = "http://gone.example/news/report.html"
PAGE = (b"<html><head><title>Report</title><link rel=stylesheet href=/s.css></head>"
        b"<body><h1>Annual report</h1><p>The evidence text of the activity.</p><img src=/logo.png></body></html>")


@pytest.fixture(autouse=True)
def _fresh_buckets():
    ratelimit.reset()
    yield


@pytest.fixture
def ia():
    with WaybackServer("ia") as s:
        yield s


def setup(tmp_path, *archives):
    cfg = write_config(tmp_path, f"sqlite:///{tmp_path / 'a.db'}",
                       resolver={"archives": [a.config(f"a{i}") for i, a in enumerate(archives)],
                                 "archive_retry_after_s": 0})
    settings = load_settings(cfg, env={})
    return settings, HttpClient(settings.fetch), WarcSink(settings)


def records(root: Path):
    out = []
    for p in sorted((root / "warcs").glob("*.warc.gz*")):
        with open(p, "rb") as f:
            for rec in ArchiveIterator(f):
                out.append((rec.rec_type, rec.rec_headers, rec.http_headers,
                            rec.content_stream().read() if rec.rec_type != "warcinfo" else b""))
    return out


def test_closest_capture_recovered_with_provenance(tmp_path, ia):
    hdrs = [("Content-Type", "text/html; charset=utf-8"), ("Server", "Apache/2.2"),
            ("Date", "Mon, 01 May 2017 10:00:00 GMT")]
    ia.add(URL, "20170501100000", 200, headers=hdrs, body=PAGE)
    ia.add(URL, "20230101000000", 200, headers=hdrs, body=PAGE.replace(b"Annual", b"Later"))
    ia.add("http://gone.example/s.css", "20170501100005", 200, headers=[("Content-Type", "text/css")],
           body=b"h1{color:red}")
    ia.add("http://gone.example/logo.png", "20170430000000", 200, headers=[("Content-Type", "image/png")],
           body=b"\x89PNG....")
    settings, client, sink = setup(tmp_path, ia)
    with sink:
        res = recover_from_archives(URL, client=client, sink=sink, settings=settings,
                                    at=datetime(2017, 6, 1, tzinfo=timezone.utc))
    assert res.outcome is Outcome.CAPTURED and res.source == "archive" and res.archive_name == "a0"
    assert res.memento_datetime == datetime(2017, 5, 1, 10, 0, tzinfo=timezone.utc)
    assert "20170501100000id_/" + URL in res.memento_url
    assert res.response.url == URL and res.response.http_status == 200
    assert res.response.captured_at == res.memento_datetime
    assert res.not_evidence_reason is None
    assert {r.url for r in res.requisites} == {"http://gone.example/s.css", "http://gone.example/logo.png"}

    recs = records(tmp_path / "storage")
    resp = next(r for r in recs if r[0] == "response" and r[1].get_header("WARC-Target-URI") == URL)
    meta = next(r for r in recs if r[0] == "metadata" and r[1].get_header("WARC-Target-URI") == URL)
    assert resp[1].get_header("WARC-Date").startswith("2017-05-01T10:00:00")
    assert resp[1].get_header("WARC-Refers-To-Target-URI") == res.memento_url
    assert meta[1].get_header("WARC-Refers-To") == resp[1].get_header("WARC-Record-ID")
    assert meta[1].get_header("WARC-Concurrent-To") == resp[1].get_header("WARC-Record-ID")
    assert b"archive: a0" in meta[3] and res.memento_url.encode() in meta[3] and b"fetched-at:" in meta[3]
    # original headers restored from X-Archive-Orig-*, archive's own kept
    assert resp[2].get_header("Server") == "Apache/2.2"
    assert resp[2].get_header("Memento-Datetime") == "Mon, 01 May 2017 10:00:00 GMT"
    assert resp[3] == PAGE
    # digests agree (warcio check), the payload is byte for byte the archived one
    import subprocess, sys
    for w in (tmp_path / "storage" / "warcs").glob("*.warc.gz"):
        out = subprocess.run([sys.executable, "-m", "warcio.cli", "check", "-v", str(w)], capture_output=True,
                             text=True)
        assert out.returncode == 0, out.stdout + out.stderr
        assert "digest pass" in out.stdout
    # requisites replayed at the page's timestamp (the archive moved to its nearest capture itself)
    assert any("/web/20170501100000id_/http://gone.example/logo.png" in r for r in ia.requests)
    assert any("/web/20170430000000id_/http://gone.example/logo.png" in r for r in ia.requests)


def test_no_capture_and_not_evidence(tmp_path, ia):
    settings, client, sink = setup(tmp_path, ia)
    with sink:
        assert recover_from_archives(URL, client=client, sink=sink, settings=settings) is None
        ia.add(URL, "20200101000000", 200, headers=[("Content-Type", "text/html")],
               body=b"<html><body><h1>This domain is for sale!</h1></body></html>")
        res = recover_from_archives(URL, client=client, sink=sink, settings=settings)
        assert res.outcome is Outcome.CAPTURED and "parked" in res.not_evidence_reason
        # a good older capture wins over the parked newer one
        ia.add(URL, "20160101000000", 200, headers=[("Content-Type", "text/html")], body=PAGE)
        res = recover_from_archives(URL, client=client, sink=sink, settings=settings)
        assert res.not_evidence_reason is None
        assert res.memento_datetime.year == 2016


def test_404_captures_ignored_and_rate_limit_is_failed(tmp_path, ia):
    ia.add(URL, "20200101000000", 404, headers=[("Content-Type", "text/html")], body=b"nope")
    settings, client, sink = setup(tmp_path, ia)
    with sink:
        assert recover_from_archives(URL, client=client, sink=sink, settings=settings) is None
        ia.rate_limit(10)
        res = recover_from_archives(URL, client=client, sink=sink, settings=settings, sleep=lambda s: None)
    assert res.outcome is Outcome.FAILED


def test_restore_headers_rules():
    raw = [("Content-Type", "text/html"), ("X-Archive-Orig-Server", "nginx"), ("Server", "wayback"),
           ("X-Archive-Orig-Content-Length", "999"), ("Transfer-Encoding", "chunked"),
           ("X-Archive-Orig-Date", "Mon, 01 May 2017 10:00:00 GMT"), ("Date", "Sun, 29 Nov 2026 00:00:00 GMT"),
           ("Memento-Datetime", "Mon, 01 May 2017 10:00:00 GMT")]
    out = restore_headers(raw, 42)
    assert ("Server", "nginx") in out and ("Server", "wayback") not in out
    assert ("X-Archive-Orig-Content-Length", "999") in out  # framing of the original transfer stays prefixed
    assert ("Content-Length", "42") in out and not any(k == "Transfer-Encoding" for k, _ in out)
    assert ("Date", "Mon, 01 May 2017 10:00:00 GMT") in out
    assert ("Memento-Datetime", "Mon, 01 May 2017 10:00:00 GMT") in out
