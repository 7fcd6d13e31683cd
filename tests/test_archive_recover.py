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
    before = datetime.now(timezone.utc)
    with sink:
        res = recover_from_archives(URL, client=client, sink=sink, settings=settings,
                                    at=datetime(2017, 6, 1, tzinfo=timezone.utc))
    after = datetime.now(timezone.utc)
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
    # WARC-Date: when our capture began (WARC 1.1 §5.4), not the archive's date; where from: WARC-Source-URI
    warc_date = datetime.fromisoformat(resp[1].get_header("WARC-Date").replace("Z", "+00:00"))
    assert before <= warc_date <= after and meta[1].get_header("WARC-Date") == resp[1].get_header("WARC-Date")
    assert resp[1].get_header("WARC-Source-URI") == res.memento_url
    assert resp[1].get_header("WARC-Refers-To-Target-URI") is None and resp[1].get_header("WARC-Refers-To-Date") is None
    assert resp[1].get_header("WARC-IP-Address") == "127.0.0.1"
    assert meta[1].get_header("WARC-Refers-To") == resp[1].get_header("WARC-Record-ID")
    assert meta[1].get_header("WARC-Concurrent-To") == resp[1].get_header("WARC-Record-ID")
    assert b"archive: a0" in meta[3] and res.memento_url.encode() in meta[3] and b"fetched-at:" in meta[3]
    assert b"memento-datetime: 2017-05-01T10:00:00Z\r\n" in meta[3]
    assert meta[1].get_header("WARC-Payload-Digest") is None  # a metadata block has no payload (WARC 1.1 §5.9)
    # original headers restored from X-Archive-Orig-*; the archive's Memento headers only in the metadata record
    assert resp[2].get_header("Server") == "Apache/2.2"
    assert resp[2].get_header("Memento-Datetime") is None and resp[2].get_header("Link") is None
    assert b"  Memento-Datetime: Mon, 01 May 2017 10:00:00 GMT\r\n" in meta[3]
    assert resp[3] == PAGE
    # digests agree (warcio check), the payload is byte for byte the archived one
    import subprocess, sys
    for w in (tmp_path / "storage" / "warcs").glob("*.warc.gz"):
        out = subprocess.run([sys.executable, "-m", "warcio.cli", "check", "-v", str(w)], capture_output=True,
                             text=True)
        assert out.returncode == 0, out.stdout + out.stderr
        assert "digest pass" in out.stdout
    # every record (recovered page, its requisites, their metadata) follows the WARC 1.1 field rules
    from tests.warc_rules import check_files
    assert check_files(sorted((tmp_path / "storage" / "warcs").glob("*.warc.gz"))) == []
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
           ("Memento-Datetime", "Mon, 01 May 2017 10:00:00 GMT"),
           ("Link", '<http://gone.example/>; rel="original", <http://a/web/timemap/link/x>; rel="timemap"'),
           ("X-Archive-Orig-Link", "</s.css>; rel=preload")]
    out = restore_headers(raw, 42)
    assert ("Server", "nginx") in out and ("Server", "wayback") not in out
    assert ("X-Archive-Orig-Content-Length", "999") in out  # framing of the original transfer stays prefixed
    assert ("Content-Length", "42") in out and not any(k == "Transfer-Encoding" for k, _ in out)
    assert ("Date", "Mon, 01 May 2017 10:00:00 GMT") in out
    assert not any(k.lower() == "memento-datetime" for k, _ in out)  # the archive's, not the original's
    assert [v for k, v in out if k == "Link"] == ["</s.css>; rel=preload"]  # the original server's Link only


def _memento_only(tmp_path, ia, **extra):
    cfg = write_config(tmp_path, f"sqlite:///{tmp_path / 'a.db'}",
                       resolver={"archives": [], "archive_retry_after_s": 0,
                                 "mementos": [{"name": "tm", "timemap_url": ia.config()["timemap_url"],
                                               "requests_per_s": 1000.0}], **extra})
    settings = load_settings(cfg, env={})
    return settings, HttpClient(settings.fetch), WarcSink(settings)


def test_recovered_through_a_timemap(tmp_path, ia):
    hdrs = [("Content-Type", "text/html; charset=utf-8"), ("Server", "Apache/2.2")]
    ia.add(URL, "20170501100000", 200, headers=hdrs, body=PAGE)
    ia.add(URL, "20170601000000", 404, headers=[("Content-Type", "text/html")], body=b"gone")  # closest, not 2xx
    ia.add(URL, "20230101000000", 200, headers=hdrs, body=PAGE.replace(b"Annual", b"Later"))
    ia.add("http://gone.example/s.css", "20170501100005", 200, headers=[("Content-Type", "text/css")],
           body=b"h1{color:red}")
    ia.add("http://gone.example/logo.png", "20170430000000", 200, headers=[("Content-Type", "image/png")],
           body=b"\x89PNG....")
    settings, client, sink = _memento_only(tmp_path, ia)
    with sink:
        res = recover_from_archives(URL, client=client, sink=sink, settings=settings,
                                    at=datetime(2017, 6, 1, tzinfo=timezone.utc))
    assert ia.count("/cdx") == 0 and ia.count("/web/timemap/link/") == 1
    assert res.outcome is Outcome.CAPTURED and res.source == "archive" and res.archive_name == "tm"
    assert res.memento_datetime == datetime(2017, 5, 1, 10, 0, tzinfo=timezone.utc)
    assert res.memento_url.endswith("/web/20170501100000id_/" + URL)  # the raw form was replayed
    assert res.response.url == URL and res.response.captured_at == res.memento_datetime
    assert res.not_evidence_reason is None
    assert {r.url for r in res.requisites} == {"http://gone.example/s.css", "http://gone.example/logo.png"}
    recs = records(tmp_path / "storage")
    resp = next(r for r in recs if r[0] == "response" and r[1].get_header("WARC-Target-URI") == URL)
    meta = next(r for r in recs if r[0] == "metadata" and r[1].get_header("WARC-Target-URI") == URL)
    assert resp[3] == PAGE and resp[2].get_header("Server") == "Apache/2.2"
    assert resp[1].get_header("WARC-Source-URI") == res.memento_url
    assert meta[1].get_header("WARC-Refers-To") == resp[1].get_header("WARC-Record-ID")
    assert b"archive: tm" in meta[3] and res.memento_url.encode() in meta[3]
    assert f"timemap: {ia.base}/web/timemap/link/{URL}".encode() in meta[3]
    assert b"timemap-datetime: 2017-05-01T10:00:00" in meta[3]
    from tests.warc_rules import check_files
    assert check_files(sorted((tmp_path / "storage" / "warcs").glob("*.warc.gz*"))) == []

    # without a date the newest memento wins; no memento at all is None
    with WarcSink(settings) as sink2:
        assert recover_from_archives(URL, client=client, sink=sink2, settings=settings).memento_datetime.year == 2023
        assert recover_from_archives("http://gone.example/never", client=client, sink=sink2,
                                     settings=settings) is None


def test_archive_timemap_asked_when_its_cdx_is_down(tmp_path, ia):
    import socket
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    ia.add(URL, "20170501100000", 200, headers=[("Content-Type", "text/html")], body=PAGE)
    down = dict(ia.config("a0"), cdx_url=f"http://127.0.0.1:{dead}/cdx/search/cdx")
    cfg = write_config(tmp_path, f"sqlite:///{tmp_path / 'a.db'}",
                       resolver={"archives": [down], "archive_retry_after_s": 0})
    settings = load_settings(cfg, env={})
    client = HttpClient(settings.fetch)
    with WarcSink(settings) as sink:
        res = recover_from_archives(URL, client=client, sink=sink, settings=settings)
        assert res.outcome is Outcome.CAPTURED and res.archive_name == "a0"
        assert res.memento_datetime.year == 2017
        # both ways in down: FAILED, so that it is tried again later
        no_tm = dict(down, timemap_url=f"http://127.0.0.1:{dead}/web/timemap/link/{{url}}")
        cfg = write_config(tmp_path, f"sqlite:///{tmp_path / 'a.db'}", name="c2.yaml",
                           resolver={"archives": [no_tm], "archive_retry_after_s": 0})
        s2 = load_settings(cfg, env={})
        res = recover_from_archives(URL, client=client, sink=sink, settings=s2)
        assert res.outcome is Outcome.FAILED and "TimeMap" in res.reason
