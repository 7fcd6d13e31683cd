"""The replay origin's standard endpoints, driven by real clients: pywb's Memento index source, our own
archive-recovery parsers (archiver.resolve), and plain HTTP for the Wayback CDX dialect."""
from __future__ import annotations

import shutil

import pytest
import requests

from archiver.resolve.cdx import parse_cdx
from archiver.resolve.memento import parse_timemap, raw_form
from archiver.web import cdx
from archiver.web.replay import ReplayServer, index_dir, refresh_index
from tests.browser.evidence import HTML, PAGE, T1, T2, write_warc


@pytest.fixture(scope="module")
def replay(tmp_path_factory):
    root = tmp_path_factory.mktemp("replay") / "storage"
    write_warc(root / "warcs" / "fixture-00001.warc.gz")
    with ReplayServer(root, "127.0.0.1", 0, ui_origin="http://127.0.0.1:1") as server:
        yield server


def get(replay, path, **kw):
    kw.setdefault("allow_redirects", False)
    return requests.get(replay.origin + path, timeout=10, **kw)


def test_cdx_json_is_the_wayback_dialect(replay):
    r = get(replay, "/cdx/search/cdx?url=site.test/page.html&output=json")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    data = r.json()
    assert data[0] == ["urlkey", "timestamp", "original", "mimetype", "statuscode", "digest", "length"]
    assert [row[1] for row in data[1:]] == ["20170512100000", "20180101083000"]
    assert data[1][0] == "test,site)/page.html" and data[1][4] == "200"
    assert data[2][3:5] == ["warc/revisit", "-"]  # a revisit shows no status, as at the Wayback Machine
    assert not data[1][5].startswith("sha1:")
    rows = parse_cdx(r.content)  # our own archive-recovery client reads it
    assert [(x.timestamp, x.original, x.is_revisit) for x in rows] == [
        ("20170512100000", PAGE, False), ("20180101083000", PAGE, True)]


def test_cdx_match_types_ranges_limits_fields(replay):
    def rows(q):
        r = get(replay, "/cdx/search/cdx?" + q)
        assert r.status_code == 200, r.text
        return r.json()

    assert rows("url=site.test/zzz&output=json") == []
    host = rows("url=site.test&matchType=host&output=json&fl=original")
    assert {r[0] for r in host[1:]} == {PAGE, "http://site.test/logo.png", "http://site.test/style.css",
                                          "http://site.test/report.pdf"}
    assert host[0] == ["original"]
    prefix = rows("url=site.test/re&matchType=prefix&output=json&fl=original")
    assert [r[0] for r in prefix[1:]] == ["http://site.test/report.pdf"]
    assert rows("url=site.test/re*&output=json&fl=original") == prefix  # trailing * means prefix
    domain = rows("url=test&matchType=domain&output=json&fl=original")
    assert {r[0] for r in domain[1:]} >= {PAGE, "http://site.test/report.pdf"}
    assert [r[0] for r in rows("url=site.test/page.html&from=2018&output=json&fl=timestamp")[1:]] == ["20180101083000"]
    assert [r[0] for r in rows("url=site.test/page.html&to=2017&output=json&fl=timestamp")[1:]] == ["20170512100000"]
    first = rows("url=site.test&matchType=host&limit=1&output=json&fl=original")
    last = rows("url=site.test&matchType=host&limit=-1&output=json&fl=original")
    assert first[1:] == [["http://site.test/logo.png"]] and last[1:] == [["http://site.test/style.css"]]
    no_img = rows("url=site.test&matchType=host&output=json&fl=mimetype&filter=!mimetype:image/.*")
    assert "image/png" not in {r[0] for r in no_img[1:]} and len(no_img) == 5
    text = get(replay, "/cdx/search/cdx?url=goo.gl/abc").text
    assert text.split() [:5] == ["gl,goo)/abc", "20170512100000", "http://goo.gl/abc", "text/html", "301"]


@pytest.mark.parametrize("query", ["url=site.test&matchType=nope", "url=", "url=x&limit=ten",
                                   "url=x&fl=filename", "url=x&filter=statuscode", "url=x&from=2017-01"])
def test_cdx_bad_queries_are_400(replay, query):
    r = get(replay, "/cdx/search/cdx?" + query)
    assert r.status_code == 400 and "\n" == r.text[-1] and r.text.count("\n") == 1


def test_timegate_redirects_to_the_closest_memento(replay):
    r = get(replay, "/web/" + PAGE, headers={"Accept-Datetime": "Mon, 01 Jan 2018 00:00:00 GMT"})
    assert r.status_code == 302  # to the memento itself (mp_), which its Link names too, not pywb's frame page
    assert r.headers["Location"] == f"{replay.origin}/web/20180101083000mp_/{PAGE}"
    assert "accept-datetime" in r.headers["Vary"].lower()
    assert 'rel="original"' in r.headers["Link"] and 'rel="timemap"' in r.headers["Link"]
    r = get(replay, "/web/" + PAGE, headers={"Accept-Datetime": "Thu, 01 Jun 2017 00:00:00 GMT"})
    assert r.headers["Location"] == f"{replay.origin}/web/20170512100000mp_/{PAGE}"


def test_timemap_read_by_real_memento_clients(replay):
    r = get(replay, "/web/timemap/link/" + PAGE)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/link-format")
    mementos = parse_timemap(r.text)  # ours
    assert [m.datetime for m in mementos] == [T1, T2]
    from pywb.warcserver.index.indexsource import MementoIndexSource  # pywb's, as a client

    src = MementoIndexSource.from_timegate_url(replay.origin + "/web/", path="link")
    from pywb.warcserver.index.query import CDXQuery

    found = list(src.load_index(CDXQuery({"url": PAGE}).params))
    assert [c["timestamp"] for c in found] == ["20170512100000", "20180101083000"]


def test_raw_replay_keeps_status_headers_and_payload(replay):
    r = get(replay, "/web/20170512100000id_/" + PAGE)
    assert r.status_code == 200 and r.content == HTML
    assert r.headers["Memento-Datetime"] == "Fri, 12 May 2017 10:00:00 GMT"
    assert 'rel="memento"' in r.headers["Link"]
    redirect = get(replay, "/web/20170512100000id_/http://goo.gl/abc")
    assert redirect.status_code == 301 and redirect.headers["Location"] == PAGE  # as captured, not rewritten
    assert redirect.headers["Memento-Datetime"]
    uri_m = parse_timemap(get(replay, "/web/timemap/link/" + PAGE).text)[0].uri
    assert requests.get(raw_form(uri_m), timeout=10).content == HTML  # the recovery code's raw form works


@pytest.mark.parametrize("path", ["/web/20170512100000id_/file:///etc/passwd", "/web/2017id_/../../etc/passwd",
                                  "/web/20170512100000id_/%2e%2e/%2e%2e/etc/passwd"])
def test_replay_cannot_name_a_file(replay, path):
    r = get(replay, path)
    assert r.status_code == 404
    assert b"root:" not in r.content


def test_new_warcs_become_replayable_without_restart(replay, tmp_path):
    extra = replay.storage_root / "warcs" / "later-00002.warc.gz"
    shutil.copy(replay.storage_root / "warcs" / "fixture-00001.warc.gz", extra)
    try:
        import time

        time.sleep(1.1)  # the index is checked at most once a second
        rows = get(replay, "/cdx/search/cdx?url=site.test/page.html&output=json").json()
        assert len(rows) == 1 + 4  # both files now
    finally:
        extra.unlink()


def test_index_parts_follow_the_warc_files(tmp_path):
    root = tmp_path / "storage"
    write_warc(root / "warcs" / "a.warc.gz")
    assert refresh_index(root) == 1
    assert refresh_index(root) == 0  # unchanged: nothing rebuilt
    state = index_dir(root) / "state.json"
    import json
    state.write_text(json.dumps({k: v[:2] for k, v in json.loads(state.read_text()).items()}))
    assert refresh_index(root) == 1  # a part written by an earlier index format is rebuilt
    (root / "exports").mkdir()
    write_warc(root / "exports" / "copy.warc.gz")
    assert refresh_index(root) == 0  # exports are not the archive
    assert len(cdx.query(index_dir(root), {"url": PAGE})) == 2
    (root / "warcs" / "a.warc.gz").unlink()
    refresh_index(root)
    assert list(index_dir(root).glob("*.cdxj")) == []
