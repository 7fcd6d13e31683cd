"""Resolution of dead short links through web archives (local Wayback servers, both dialects)."""
from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

from archiver.config import load_settings
from archiver.model import Outcome
from archiver.net.http import HttpClient
from archiver.resolve import ratelimit
from archiver.resolve.sources import resolve_from_archives
from tests.conftest import SAMPLE_REPORT, write_config
from tests.servers.wayback import WaybackServer

SHORT = "https://goo.gl/mMTrEZ"
TARGET = "https://example.org/report.pdf"


@pytest.fixture(autouse=True)
def _fresh_buckets():
    ratelimit.reset()
    yield
    ratelimit.reset()


@pytest.fixture
def ia():
    with WaybackServer("ia") as s:
        yield s


@pytest.fixture
def pywb():
    with WaybackServer("pywb", coll="goo") as s:
        yield s


def make(tmp_path, *archives, mementos=(), **resolver):
    cfg = write_config(tmp_path, f"sqlite:///{tmp_path / 'a.db'}",
                       resolver={"archives": [a.config(f"a{i}") if hasattr(a, "config") else a
                                              for i, a in enumerate(archives)],
                                 "mementos": list(mementos), "archive_retry_after_s": 0, **resolver})
    settings = load_settings(cfg, env={})
    return settings, HttpClient(settings.fetch)


def resolve(settings, client, url=SHORT, **kw):
    return resolve_from_archives(url, client=client, settings=settings, session_factory=None, **kw)


def test_ia_prefers_redirect_capture_over_newer_404_and_case_variant(tmp_path, ia):
    ia.add("https://goo.gl/mMTrEZ", "20251001000000", 404)  # after the deactivation
    ia.redirect("http://goo.gl/mmtrez", "20150101000000", "https://wrong.example/case-variant")
    ia.add("https://goo.gl/mMTrEZ", "20241001000000", 200, body=b"<html>x</html>",
           headers=[("Content-Type", "text/html")])
    ia.redirect("https://goo.gl/mMTrEZ?si=1", "20241101000000", TARGET, status=302)
    ia.redirect("http://goo.gl/mMTrEZ", "20170301120000", TARGET, status=301)
    settings, client = make(tmp_path, ia)
    res = resolve(settings, client)
    assert res.outcome is Outcome.RESOLVED
    assert res.final_url == TARGET
    assert res.method == "archive" and res.source == "a0"
    assert res.memento_datetime == datetime(2017, 3, 1, 12, 0, tzinfo=timezone.utc)
    assert "20170301120000id_/http://goo.gl/mMTrEZ" in res.memento_url
    assert res.hops[-1].kind == "archive" and res.hops[-1].status_code == 301
    # the CDX query was a prefix query with the IA field list, url without scheme
    q = next(r for r in ia.requests if r.startswith("/cdx/"))
    assert "matchType=prefix" in q and "output=json" in q and "url=goo.gl%2FmMTrEZ" in q
    # the case variant was never replayed
    assert not any("mmtrez" in r for r in ia.requests if "/web/" in r)


def test_ia_header_row_order_not_positions(tmp_path, ia, monkeypatch):
    """The header row follows fl; a server returning other columns/orders is still read by name."""
    ia.redirect("https://goo.gl/mMTrEZ", "20180101000000", TARGET)
    from archiver.resolve import cdx
    monkeypatch.setattr(cdx, "FIELDS", ("digest", "original", "statuscode", "timestamp", "mimetype"))
    settings, client = make(tmp_path, ia)
    assert resolve(settings, client).final_url == TARGET


def test_revisit_and_interstitial_era_pages(tmp_path, ia):
    # only a revisit (status '-' in CDX) that replays as a 302
    ia.redirect("https://goo.gl/mMTrEZ", "20190101000000", TARGET, status=302, revisit=True)
    settings, client = make(tmp_path, ia)
    assert resolve(settings, client).final_url == TARGET

    ia.snapshots.clear()
    page = (b'<html><body><p>This link will no longer work in the near future. goo.gl links will no longer '
            b'function after August 25th, 2025.</p><a href="https://developers.googleblog.com/x">more</a>'
            b'<p><a href="https://example.org/from-warning">https://example.org/from-warning</a></p></body></html>')
    ia.add("https://goo.gl/mMTrEZ", "20250101000000", 200, body=page, headers=[("Content-Type", "text/html")])
    ia.add("https://goo.gl/mMTrEZ", "20150101000000", 200, body=b"<html>goo.gl home</html>",
           headers=[("Content-Type", "text/html")])
    res = resolve(settings, client)
    assert res.final_url == "https://example.org/from-warning"
    assert "warning page" in res.hops[-1].note


def test_archive_own_redirect_followed_only_to_same_short_link(tmp_path, ia):
    # CDX lists a capture whose replay timestamp has no exact capture: Wayback redirects (b)
    ia.redirect("https://goo.gl/mMTrEZ", "20180101000000", TARGET)
    settings, client = make(tmp_path, ia)
    from archiver.resolve import cdx as cdxmod, memento
    from archiver.resolve.sources import replay_chain
    fetcher = cdxmod.ArchiveFetcher(client)
    arch = settings.resolver.archives[0]
    found = replay_chain(fetcher, name="a0", rate=1000, first_url=f"{ia.base}/web/2017id_/https://goo.gl/mMTrEZ",
                         short_url=SHORT, template=arch.replay_url,
                         patterns=[memento.prefix_pattern(arch.replay_url)], tried=set())
    assert found.target == TARGET
    assert [h.status_code for h in found.hops] == [302, 301]
    assert "found capture at" in found.hops[0].note
    # a Wayback redirect to another URL is a substitution: not followed
    ia.redirect("https://other.example/x", "20180101000000", "https://elsewhere.example/")
    reply = fetcher.get(f"{ia.base}/web/2017id_/https://goo.gl/mMTrEZ", archive="a0", kind="replay", rate=1000)
    v = memento.interpret(reply, short_url="https://goo.gl/zzz", patterns=[memento.prefix_pattern(arch.replay_url)],
                          replay_for=lambda u, ts: u)
    assert v.kind == "none" and "substitution" in v.note


def test_view_mode_page_is_parsed(tmp_path, ia):
    ia.redirect("https://goo.gl/mMTrEZ", "20180101000000", TARGET)
    settings, client = make(tmp_path, {"name": "view", "cdx_url": f"{ia.base}/cdx/search/cdx",
                                       "replay_url": f"{ia.base}/web/{{timestamp}}/{{url}}",
                                       "requests_per_s": 1000})
    res = resolve(settings, client)
    assert res.final_url == TARGET
    assert "view-mode" in res.hops[0].note


def test_orig_location_header_wins(tmp_path, ia):
    ia.redirect("https://goo.gl/mMTrEZ", "20180101000000", TARGET, orig_location_header=True)
    settings, client = make(tmp_path, ia)
    assert resolve(settings, client).final_url == TARGET


def test_sorry_page_capture_is_not_a_target(tmp_path, ia):
    ia.redirect("https://goo.gl/mMTrEZ", "20240901000000",
                "https://www.google.com/sorry/index?continue=https://goo.gl/mMTrEZ&q=EgQ", status=302)
    settings, client = make(tmp_path, ia)
    assert resolve(settings, client) is None


def test_pywb_dialect_ndjson_and_unrewritten_location(tmp_path, pywb):
    pywb.redirect("https://goo.gl/mMTrEZ", "20180101000000", TARGET, status=302)
    pywb.redirect("https://goo.gl/MMTREZ", "20170101000000", "https://wrong.example/")
    settings, client = make(tmp_path, pywb)
    res = resolve(settings, client)
    assert res.final_url == TARGET
    assert any("/goo/cdx?" in r for r in pywb.requests)
    fetched, body = client.get_bytes(pywb.config()["cdx_url"] + "?url=goo.gl/mMTrEZ&output=json")
    assert body.startswith(b"{")  # the dialect really is NDJSON


def test_rate_limit_retries_then_fails_for_this_run(tmp_path, ia):
    ia.redirect("https://goo.gl/mMTrEZ", "20180101000000", TARGET)
    sleeps = []
    settings, client = make(tmp_path, ia, archive_retry_after_s=60)
    ia.rate_limit(2)  # two 429s, then answers
    res = resolve(settings, client, sleep=sleeps.append)
    assert res.final_url == TARGET
    assert sleeps == [60, 60]
    ia.rate_limit(100)
    sleeps.clear()
    res = resolve(settings, client, sleep=sleeps.append)
    assert res.outcome is Outcome.FAILED and res.error_type == "ArchiveRateLimited"
    assert res.retry_after_s == 60
    assert len(sleeps) == 2  # bounded: 3 tries in all, then given up for this run


def test_blocked_archive_is_skipped(tmp_path, ia, pywb):
    ia.block("goo.gl")
    ia.redirect("https://goo.gl/mMTrEZ", "20180101000000", "https://wrong.example/")
    pywb.redirect("https://goo.gl/mMTrEZ", "20180101000000", TARGET)
    settings, client = make(tmp_path, ia, pywb)
    res = resolve(settings, client)
    assert res.final_url == TARGET and res.source == "a1"
    assert not any(r.startswith("/web/") for r in ia.requests)


def test_timemaps_both_dialects(tmp_path, ia, pywb):
    # no CDX configured: only Memento TimeMaps
    ia.redirect("http://goo.gl/mMTrEZ", "20160101000000", TARGET)
    settings, client = make(tmp_path, mementos=[{"name": "tm-ia", "timemap_url": f"{ia.base}/web/timemap/link/{{url}}",
                                                 "requests_per_s": 1000}])
    res = resolve(settings, client)
    assert res.final_url == TARGET and res.source == "tm-ia"
    assert res.memento_datetime == datetime(2016, 1, 1, tzinfo=timezone.utc)
    assert any("/web/timemap/link/http://goo.gl/mMTrEZ" in r for r in ia.requests)
    assert any("/web/timemap/link/https://goo.gl/mMTrEZ" in r for r in ia.requests)

    pywb.add("https://goo.gl/mMTrEZ", "20150101000000", 404)
    pywb.redirect("https://goo.gl/mMTrEZ", "20160101000000", TARGET)
    settings, client = make(tmp_path, mementos=[
        {"name": "tm-pywb", "timemap_url": f"{pywb.base}/goo/timemap/link/{{url}}", "requests_per_s": 1000}])
    res = resolve(settings, client)
    assert res.final_url == TARGET and res.source == "tm-pywb"


def test_nothing_anywhere_is_none(tmp_path, ia):
    settings, client = make(tmp_path, ia)
    assert resolve(settings, client) is None


SAMPLE_CODES = sorted(set(re.findall(r"goo\.gl/([A-Za-z0-9]+)", SAMPLE_REPORT.read_text(encoding="utf-8"))))


def test_sample_report_codes_resolve_through_archive(tmp_path, ia):
    """Every goo.gl code of the sample report resolves through the archive (invented targets)."""
    assert len(SAMPLE_CODES) == 19
    kinds = ["301", "302si", "revisit", "warning", "old+404"]
    for i, code in enumerate(SAMPLE_CODES):
        target = f"http://127.0.0.1:9/ogp/{code}.html"
        kind = kinds[i % len(kinds)]
        if kind == "301":
            ia.redirect(f"http://goo.gl/{code}", "20170601000000", target)
        elif kind == "302si":
            ia.redirect(f"https://goo.gl/{code}?si=1", "20241001000000", target, status=302)
        elif kind == "revisit":
            ia.redirect(f"https://goo.gl/{code}", "20200101000000", target, status=302, revisit=True)
        elif kind == "warning":
            ia.add(f"https://goo.gl/{code}", "20250301000000", 200, headers=[("Content-Type", "text/html")],
                   body=f'<p>This link will no longer work in the near future.</p><a href="{target}">go</a>'.encode())
        else:
            ia.add(f"https://goo.gl/{code}", "20251101000000", 404)
            ia.redirect(f"https://goo.gl/{code}", "20180101000000", target, status=302)
        # a case variant of the code that must not be taken
        ia.redirect(f"https://goo.gl/{code.swapcase()}", "20160101000000", "http://127.0.0.1:9/wrong")
    settings, client = make(tmp_path, ia)
    for code in SAMPLE_CODES:
        res = resolve(settings, client, url=f"https://goo.gl/{code}")
        assert res is not None and res.outcome is Outcome.RESOLVED, code
        assert res.final_url == f"http://127.0.0.1:9/ogp/{code}.html", code
        assert res.method == "archive"


def test_mock_imitates_ia_cdx_details(tmp_path, ia):
    """The IA mock follows §2.1: compact JSON, header row after fl, filter/limit/from/to/collapse, blocked literal."""
    import json
    ia.redirect("http://goo.gl/mMTrEZ", "20170101000000", TARGET)
    ia.redirect("https://goo.gl/mMTrEZ", "20180101000000", TARGET, status=302)
    ia.add("https://goo.gl/mMTrEZ", "20250901000000", 404)
    settings, client = make(tmp_path, ia)
    base = f"{ia.base}/cdx/search/cdx?url=goo.gl/mMTrEZ&output=json"
    _, body = client.get_bytes(base + "&fl=statuscode,timestamp")
    assert body.startswith(b'[["statuscode","timestamp"],\n["301","20170101000000"],')
    assert json.loads(body)[0] == ["statuscode", "timestamp"]
    _, body = client.get_bytes(base + "&fl=timestamp&filter=statuscode:30[12]&filter=!timestamp:2017.*")
    assert json.loads(body) == [["timestamp"], ["20180101000000"]]
    _, body = client.get_bytes(base + "&fl=timestamp&limit=-1")
    assert json.loads(body)[1:] == [["20250901000000"]]
    _, body = client.get_bytes(base + "&fl=timestamp&from=2018&to=2018")
    assert json.loads(body)[1:] == [["20180101000000"]]
    _, body = client.get_bytes(base + "&fl=urlkey&collapse=urlkey")
    assert json.loads(body) == [["urlkey"], ["gl,goo)/mmtrez"]]
    _, body = client.get_bytes(f"{ia.base}/cdx/search/cdx?url=goo.gl/nothing&output=json")
    assert body == b"[]"
    _, body = client.get_bytes(f"{ia.base}/cdx/search/cdx?url=goo.gl/mMTrEZ")
    assert body.split(b"\n")[0].split(b" ")[:5] == [b"gl,goo)/mmtrez", b"20170101000000", b"http://goo.gl/mMTrEZ",
                                                    b"unk", b"301"]
    ia.block("blocked.example")
    f, body = client.get_bytes(f"{ia.base}/cdx/search/cdx?url=blocked.example/&output=json")
    assert f.status == 403 and "AdministrativeAccessControlException" in f.headers["X-Archive-Wayback-Runtime-Error"]
    f, body = client.get_bytes(f"{ia.base}/web/20170101000000id_/http://goo.gl/mMTrEZ")
    assert f.status == 301 and f.headers["Location"] == f"{ia.base}/web/20170101000000id_/{TARGET}"
    assert f.headers["Memento-Datetime"] == "Sun, 01 Jan 2017 00:00:00 GMT" and 'rel="original"' in f.headers["Link"]
    f, body = client.get_bytes(f"{ia.base}/web/20170101000000/http://goo.gl/mMTrEZ")
    assert f.status == 200 and b"Got an HTTP 301 response at crawl time" in body and "Memento-Datetime" not in f.headers
