"""The replay origin's CDX and Memento endpoints, called by clients we did not write: waybackpy, cdx_toolkit, EDGI
`wayback`, memento_client and pywb's own index sources (WBMementoIndexSource, MementoIndexSource).

waybackpy and EDGI `wayback` only talk to web.archive.org: waybackpy's CDX client is pointed at us through its
``endpoint`` attribute; `wayback`'s module constant ``CDX_SEARCH_URL`` is patched, and its replay requests go
through a transport adapter that sends https://web.archive.org/... to our origin and rewrites our origin back
in the answer's Location, Link and Content-Location (tests/test_replay_clients.py, ``_ArchiveOrgAlias``)."""
from __future__ import annotations

import time
from datetime import datetime, timezone
from io import BytesIO
from pathlib import Path

import pytest
import requests
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archiver.web.replay import ReplayServer
from tests.browser.evidence import HTML, PAGE, png, write_warc

PNG_URL = "http://site.test/logo.png"
IA = "https://web.archive.org"
STAMPS = ["20160101000000", "20170512100000", "20180101083000", "20190601000000"]  # PAGE's captures


def _more_captures(path: Path) -> None:
    """PAGE in 2016 and 2019 too, so that closest, oldest and newest differ."""
    with open(path, "wb") as fh:
        w = WARCWriter(fh, gzip=True, warc_version="1.1")
        for when, text in (("2016-01-01T00:00:00Z", b"2016"), ("2019-06-01T00:00:00Z", b"2019")):
            body = HTML.replace(b"Open budget portal</h1>", b"Open budget portal " + text + b"</h1>")
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html"), ("Content-Length", str(len(body)))],
                                    protocol="HTTP/1.1")
            w.write_record(w.create_warc_record(PAGE, "response", payload=BytesIO(body), http_headers=http,
                                                warc_headers_dict={"WARC-Date": when}))


@pytest.fixture(scope="module")
def replay(tmp_path_factory):
    root = tmp_path_factory.mktemp("clients") / "storage"
    write_warc(root / "warcs" / "fixture-00001.warc.gz")
    _more_captures(root / "warcs" / "fixture-00002.warc.gz")
    with ReplayServer(root, "127.0.0.1", 0) as server:
        yield server


def _cdx(replay, query: str) -> requests.Response:
    return requests.get(f"{replay.origin}/cdx/search/cdx?{query}", timeout=10)


# ---- the Wayback CDX dialect ------------------------------------------------------------------

def test_waybackpy_near_newest_oldest_and_resume_keys(replay):
    from waybackpy import WaybackMachineCDXServerAPI

    def api(**kw):
        a = WaybackMachineCDXServerAPI(PAGE, **kw)
        a.endpoint = replay.origin + "/cdx/search/cdx"  # waybackpy only knows web.archive.org
        return a

    assert api().near(year=2018, month=6).timestamp == "20180101083000"
    assert api().near(year=2019, month=1).timestamp == "20190601000000"
    assert api().near(wayback_machine_timestamp="20170601").timestamp == "20170512100000"
    assert api().newest().timestamp == "20190601000000"
    assert api().oldest().timestamp == "20160101000000"
    host = api(match_type="host", limit=2)
    host.url = "site.test"
    snaps = list(host.snapshots())  # two rows a request, then the resume key, until the end
    everything = _cdx(replay, "url=site.test&matchType=host").text.splitlines()
    assert [s.timestamp + " " + s.original for s in snaps] == [" ".join(x.split()[1:3]) for x in everything]
    assert len(snaps) == 7 and "resumeKey=" in host.last_api_request_url
    images = api(filters=["mimetype:image/.*"], match_type="host")
    images.url = "site.test"
    assert [s.original for s in images.snapshots()] == [PNG_URL]


def test_cdx_toolkit_iter_ends_and_uses_pywb_filter_names(replay, monkeypatch):
    import cdx_toolkit
    from cdx_toolkit import myrequests

    # cdx_toolkit waits 3 s between requests to a host it does not know; ours is on this machine
    monkeypatch.setitem(myrequests.retry_info, "127.0.0.1", {"next_fetch": 0, "minimum_interval": 0.0})
    fetcher = cdx_toolkit.CDXFetcher(source=replay.origin + "/cdx/search/cdx")
    started = time.monotonic()
    everything = list(fetcher.iter("site.test/*"))
    assert len(everything) == 7 and time.monotonic() - started < 20  # it ends
    paged = list(fetcher.iter("site.test/*", pageSize=2))  # four pages, then an empty one
    assert [c["timestamp"] for c in paged] == [c["timestamp"] for c in everything]
    ok = list(fetcher.iter("site.test/*", filter=["status:200"]))  # sent as pywb's `status:` (contains)
    assert len(ok) == 6 and {c["status"] for c in ok} == {"200"}
    no_page = list(fetcher.iter("site.test/*", filter=["!url:page"]))
    assert PAGE not in {c["url"] for c in no_page} and len(no_page) == 3
    exact = fetcher.get("site.test/*", filter=["=mime:text/css"])
    assert [c["url"] for c in exact] == ["http://site.test/style.css"]
    assert fetcher.get_size_estimate("site.test/*") >= 1
    closest = fetcher.get(PAGE, closest="20181201", sort="closest", limit=2)
    assert [c["timestamp"] for c in closest] == ["20190601000000", "20180101083000"]


class _ArchiveOrgAlias(requests.adapters.HTTPAdapter):
    """Send https://web.archive.org/... to the replay origin, and name web.archive.org in the answer."""

    def __init__(self, origin: str):
        super().__init__()
        self.origin = origin

    def send(self, request, **kwargs):
        request.url = request.url.replace(IA, self.origin, 1)
        r = super().send(request, **kwargs)
        r.url = r.url.replace(self.origin, IA)
        for name in ("Location", "Link", "Content-Location"):
            if name in r.headers:
                r.headers[name] = r.headers[name].replace(self.origin, IA)
        return r


def test_edgi_wayback_search_and_get_memento(replay, monkeypatch):
    import wayback
    import wayback._client as wayback_client

    monkeypatch.setattr(wayback_client, "CDX_SEARCH_URL", IA + "/cdx/search/cdx")
    # its rate limits are the Internet Archive's (0.4 searches a second); ours is on this machine
    client = wayback.WaybackClient(wayback.WaybackSession(search_calls_per_second=0, memento_calls_per_second=0))
    client.session.mount(IA, _ArchiveOrgAlias(replay.origin))
    records = list(client.search(PAGE, limit=1))  # one row a request: resume keys to the end
    assert [r.timestamp.strftime("%Y%m%d%H%M%S") for r in records] == STAMPS
    assert [r.statuscode for r in records] == [200, 200, None, 200]  # a revisit has no status, as at IA
    ok = list(client.search("site.test", match_type="host", filter_field="statuscode:200"))
    assert len(ok) == 6
    m = client.get_memento(PAGE, datetime(2017, 6, 1, tzinfo=timezone.utc), exact=False)  # inexact: redirected
    assert m.timestamp == datetime(2017, 5, 12, 10, 0, tzinfo=timezone.utc) and m.status_code == 200
    assert m.content == HTML and m.memento_url == f"{IA}/web/20170512100000id_/{PAGE}"
    png_m = client.get_memento(records[0].original.replace("page.html", "logo.png"), "20170512100000")
    assert png_m.content == png() and png_m.headers["Content-Type"] == "image/png"


def test_closest_reverse_pages_and_filters_as_the_wayback_server_has_them(replay):
    def stamps(q):
        r = _cdx(replay, f"url={PAGE}&fl=timestamp&{q}")
        assert r.status_code == 200, r.text
        return r.text.split()

    assert stamps("closest=20180601&sort=closest") == ["20180101083000", "20190601000000", "20170512100000",
                                                       "20160101000000"]
    assert stamps("closest=20180601&sort=closest&limit=1") == ["20180101083000"]
    assert stamps("sort=reverse") == STAMPS[::-1] and stamps("sort=reverse&limit=1") == [STAMPS[-1]]
    assert stamps("offset=1&limit=2") == STAMPS[1:3]
    assert _cdx(replay, f"url={PAGE}&showNumPages=true&pageSize=3").text.strip() == "2"
    assert stamps("page=1&pageSize=3") == STAMPS[3:] and stamps("page=0&pageSize=3") == STAMPS[:3]
    beyond = _cdx(replay, f"url={PAGE}&page=2&pageSize=3&output=json")
    assert beyond.status_code == 200 and beyond.text == ""  # past the last page: empty, as clients expect
    assert stamps("filter=status:200") == ["20160101000000", "20170512100000", "20190601000000"]  # pywb name
    assert stamps("filter=!statuscode:200") == ["20180101083000"]  # IA name, regex
    assert stamps("filter=~timestamp:201[89]") == ["20180101083000", "20190601000000"]  # pywb regex at start
    assert stamps("filter=timestamp:2018") == []  # IA: the regex must match the whole value
    assert stamps("filter==mimetype:warc/revisit") == ["20180101083000"]
    assert stamps("filter0=mimetype:text/.*&filter1=!timestamp:2016.*") == ["20170512100000", "20190601000000"]
    rows = _cdx(replay, f"url={PAGE}&output=json&limit=1&showResumeKey=true").json()
    assert rows[0][1] == "timestamp" and rows[-2] == [] and len(rows[-1]) == 1
    rest = _cdx(replay, f"url={PAGE}&output=json&resumeKey={rows[-1][0]}&fl=timestamp").json()
    assert [r[0] for r in rest[1:]] == STAMPS[1:]
    for bad in ("sort=newest", "sort=closest", "filter=original:(a)\\1", "page=-1", "filter=bogus:x"):
        r = _cdx(replay, f"url={PAGE}&{bad}")
        assert r.status_code == 400 and r.text.count("\n") == 1, bad


def test_a_pathological_filter_regex_does_not_hang_the_server(replay):
    """(.|.)*X takes exponential time in a backtracking engine on a 30-character URL; RE2 is linear."""
    started = time.monotonic()
    r = requests.get(f"{replay.origin}/cdx/search/cdx", params={"url": "test", "matchType": "domain",
                                                                "filter": "original:(.|.)*X"}, timeout=10)
    assert r.status_code == 200 and r.text == "" and time.monotonic() - started < 5
    assert _cdx(replay, f"url={PAGE}&fl=timestamp&limit=1").text.strip() == STAMPS[0]  # and it still answers


# ---- Memento ----------------------------------------------------------------------------------

def test_pywb_memento_index_sources_find_every_capture(replay):
    from pywb.warcserver.index.indexsource import MementoIndexSource, WBMementoIndexSource
    from pywb.warcserver.index.query import CDXQuery

    web = replay.origin + "/web/"
    wb = WBMementoIndexSource(web + "{timestamp}id_/{url}", web + "timemap/link/{url}", web + "{timestamp}im_/{url}")
    tg = MementoIndexSource.from_timegate_url(web, path="link")
    captures = _cdx(replay, "url=site.test&matchType=host&output=json&fl=original,timestamp").json()[1:]
    assert len(captures) == 7
    for url, ts in captures:  # exact: a 200 that names itself (Content-Location)
        assert [c["timestamp"] for c in wb.load_index(CDXQuery({"url": url, "closest": ts}).params)] == [ts]
        found = list(tg.load_index(CDXQuery({"url": url, "closest": ts}).params))
        assert [c["timestamp"] for c in found if c["mem_rel"] == "memento"] == [ts]
    for asked, got in (("2017", "20180101083000"), ("20170601", "20170512100000"), ("20181201", "20190601000000")):
        # inexact: the redirect carries Memento-Datetime and the Link of the memento it leads to
        assert [c["timestamp"] for c in wb.load_index(CDXQuery({"url": PAGE, "closest": asked}).params)] == [got]
    timemap = list(tg.load_index(CDXQuery({"url": PAGE}).params))
    assert [c["timestamp"] for c in timemap] == STAMPS


def _link_rel(link: str, rel: str) -> list[str]:
    from memento_client import MementoClient

    return [uri for uri, d in MementoClient.parse_link_header(link).items()
            for r in [d.get("rel", [])] if rel in r]


def test_timegate_location_and_link_name_the_same_memento(replay):
    for url, mime in ((PAGE, "text/html"), (PNG_URL, "image/png")):
        r = requests.get(f"{replay.origin}/web/{url}", headers={"Accept-Datetime": "Sat, 01 Jul 2017 00:00:00 GMT"},
                         allow_redirects=False, timeout=10)
        assert r.status_code == 302 and "accept-datetime" in r.headers["Vary"].lower()
        assert "Memento-Datetime" not in r.headers  # a TimeGate is not a memento
        assert _link_rel(r.headers["Link"], "memento") == [r.headers["Location"]]
        assert _link_rel(r.headers["Link"], "original") == [url]
        target = requests.get(r.headers["Location"], timeout=10)
        assert target.headers["Content-Type"].startswith(mime)  # the memento itself, not pywb's HTML frame


def test_inexact_memento_url_redirects_with_memento_headers(replay):
    r = requests.get(f"{replay.origin}/web/20170601id_/{PAGE}", allow_redirects=False, timeout=10)
    assert r.status_code == 302
    assert r.headers["Location"] == f"{replay.origin}/web/20170512100000id_/{PAGE}"
    assert r.headers["Memento-Datetime"] == "Fri, 12 May 2017 10:00:00 GMT"
    assert _link_rel(r.headers["Link"], "memento") == [r.headers["Location"]]
    assert _link_rel(r.headers["Link"], "timegate") == [f"{replay.origin}/web/{PAGE}"]
    exact = requests.get(r.headers["Location"], timeout=10)
    assert exact.status_code == 200 and exact.content == HTML
    assert exact.headers["Content-Location"] == r.headers["Location"]


def test_memento_client_finds_the_closest_memento(replay):
    from memento_client import MementoClient

    client = MementoClient(timegate_uri=replay.origin + "/web/", check_native_timegate=False)
    for when, ts in ((datetime(2017, 6, 1), "20170512100000"), (datetime(2018, 12, 1), "20190601000000")):
        # the request URI is one of our URI-Ms: memento_client reads the original from its Link
        info = client.get_memento_info(f"{replay.origin}/web/2017id_/{PAGE}", when)
        assert info["original_uri"] == PAGE
        closest = info["mementos"]["closest"]
        assert closest["uri"] == [f"{replay.origin}/web/{ts}mp_/{PAGE}"]
        assert closest["datetime"] == datetime.strptime(ts, "%Y%m%d%H%M%S") and closest["http_status_code"] == 200


def test_an_archived_memento_datetime_gives_way_to_ours():
    """A copy recovered before records dropped the archive's Memento headers replays them, and pywb appends its
    own: one Memento-Datetime and one Memento Link go out, those of the capture asked for."""
    from archiver.web import mementos

    pywb_link = ('<http://x.test/>; rel="original", <http://o/web/http://x.test/>; rel="timegate", '
                 '<http://o/web/20170705120000mp_/http://x.test/>; rel="memento"; '
                 'datetime="Mon, 30 Nov 2026 14:00:00 GMT"')
    headers = [("Content-Type", "text/html"), ("Memento-Datetime", "Wed, 05 Jul 2017 12:00:00 GMT"),
               ("Link", '<http://x.test/>; rel="original", <http://ia/web/timemap/link/http://x.test/>; rel="timemap"'),
               ("Link", "</s.css>; rel=preload"),
               ("Memento-Datetime", "Mon, 30 Nov 2026 14:00:00 GMT"), ("Link", pywb_link)]
    status, out = mementos.fix("200 OK", headers, "http://o/web/20170705120000id_/http://x.test/")
    assert status == "200 OK"
    assert [v for k, v in out if k == "Memento-Datetime"] == ["Wed, 05 Jul 2017 12:00:00 GMT"]
    links = [v for k, v in out if k == "Link"]
    assert links[0] == "</s.css>; rel=preload" and len(links) == 2  # the original server's Link stays
    assert 'datetime="Wed, 05 Jul 2017 12:00:00 GMT"' in links[1] and "http://ia/" not in links[1]
    assert ("Content-Location", "http://o/web/20170705120000id_/http://x.test/") in out
