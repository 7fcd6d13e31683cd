"""The replay origin under the interface's rules (issue 9): tokens or signed grants, Host names, wrong tokens slowed
down, and the headers that keep archived pages in their box, on every answer, over real HTTP."""
from __future__ import annotations

import io
import time

import pytest
import requests
from itsdangerous import TimestampSigner
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archiver.config import load_settings
from archiver.resolve.cdx import parse_cdx
from archiver.web.access import Access
from archiver.web.replay import ReplayServer
from tests.browser.evidence import HTML, PAGE, T1, write_warc
from tests.conftest import write_config

TOKEN = "replay-Hc7Vn2Qx9Lt4Wk8Zr3Bs"
UI = "http://127.0.0.1:7"
NASTY = "http://nasty.test/"
NASTY_HEADERS = [("Set-Cookie", "__Host-archiver=attacker; Path=/; Secure"), ("Set-Cookie", "a=b; Path=/"),
                 ("Clear-Site-Data", '"cookies"'), ("Access-Control-Allow-Origin", "*"),
                 ("Access-Control-Allow-Credentials", "true"),
                 ("Content-Security-Policy-Report-Only", "default-src 'none'; report-uri http://127.0.0.1:9/r"),
                 ("Report-To", '{"group":"x","endpoints":[{"url":"http://127.0.0.1:9/r"}]}'),
                 ("NEL", '{"report_to":"x","max_age":9}'), ("Strict-Transport-Security", "max-age=9; includeSubDomains")]


def _nasty_warc(path):
    body = b"<!doctype html><html><body><h1>nasty</h1><script>fetch('/')</script></body></html>"
    with open(path, "wb") as fh:
        w = WARCWriter(fh, gzip=True, warc_version="1.1")
        http = StatusAndHeaders("200 OK", [("Content-Type", "text/html"), ("Content-Length", str(len(body)))]
                                + NASTY_HEADERS, protocol="HTTP/1.1")
        w.write_record(w.create_warc_record(NASTY, "response", payload=io.BytesIO(body), http_headers=http,
                                            warc_headers_dict={"WARC-Date": T1.strftime("%Y-%m-%dT%H:%M:%SZ")}))


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("guarded")
    root = tmp / "storage"
    write_warc(root / "warcs" / "fixture-00001.warc.gz")
    _nasty_warc(root / "warcs" / "nasty-00001.warc.gz")
    settings = load_settings(write_config(tmp, "sqlite://", web={"tokens": [{"token": TOKEN, "role": "reader"}]}),
                             env={})
    access = Access.for_serving(settings, "127.0.0.1")
    with ReplayServer(root, "127.0.0.1", 0, ui_origin=UI, access=access) as server:
        yield server, access


def _get(server, path, **kw):
    kw.setdefault("allow_redirects", False)
    kw.setdefault("timeout", 10)
    return requests.get(server.origin + path, **kw)


def _granted(access: Access, path: str) -> str:
    return f"/c/{access.grant()}{path}"


def test_without_a_token_or_grant_nothing_is_served(guarded):
    server, _ = guarded
    for path in ("/cdx/search/cdx?url=site.test&matchType=host", f"/web/20170512100000id_/{PAGE}",
                 f"/web/20170512100000mp_/{PAGE}", f"/web/timemap/link/{PAGE}", f"/web/{PAGE}", "/web/cdx?url=x",
                 "/collinfo.json", "/static/wombat.js", "/"):
        r = _get(server, path)
        assert r.status_code == 401, (path, r.status_code)
        assert "Bearer" in r.headers["WWW-Authenticate"] and b"site.test" not in r.content
        assert r.headers["Content-Security-Policy"].startswith("sandbox;")
    assert _get(server, "/_ready").status_code == 200  # says nothing but "ok"


def test_a_bearer_token_reads_the_cdx_and_raw_replay(guarded):
    server, _ = guarded
    auth = {"Authorization": f"Bearer {TOKEN}"}
    r = _get(server, "/cdx/search/cdx?url=site.test/page.html", headers=auth)
    assert r.status_code == 200 and [x.timestamp for x in parse_cdx(r.content)] == ["20170512100000",
                                                                                  "20180101083000"]
    raw = _get(server, f"/web/20170512100000id_/{PAGE}", headers=auth)
    assert raw.status_code == 200 and raw.content == HTML


def test_grants_open_the_replay_and_nothing_else(guarded):
    server, access = guarded
    page = _get(server, _granted(access, f"/web/20170512100000mp_/{PAGE}"))
    assert page.status_code == 200 and b"The ministry published" in page.content
    grant = page.url.split("/c/", 1)[1].split("/", 1)[0]
    # pywb writes the grant into every URL it rewrites: the page's own image and style load through it
    assert f"/c/{grant}/web/20170512100000im_/http://site.test/logo.png".encode() in page.content
    assert _get(server, f"/c/{grant}/web/20170512100000im_/http://site.test/logo.png").status_code == 200
    assert _get(server, f"/c/{grant}/static/wombat.js").status_code == 200
    for closed in ("/cdx/search/cdx?url=site.test", "/web/cdx?url=site.test", "/collinfo.json",
                   "/web/timemap/json/" + PAGE):
        assert _get(server, f"/c/{grant}{closed}").status_code == 404, closed


def test_forged_expired_and_foreign_grants_are_refused(guarded):
    server, access = guarded
    good = access.grant()
    forged = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")
    old_signer = TimestampSigner(access.key, salt="archiver-replay")
    old_signer.get_timestamp = lambda: int(time.time()) - access.grant_s - 5
    old = old_signer.sign(b"r").decode()
    other = Access(hosts=access.hosts, tokens=access.tokens).grant()  # another server's key
    for grant in (forged, old, other, "r", ""):
        r = _get(server, f"/c/{grant}/web/20170512100000mp_/{PAGE}")
        assert r.status_code in (403, 404) and b"ministry" not in r.content, grant
    assert _get(server, f"/c/{old}/web/20170512100000mp_/{PAGE}").text.startswith("this replay link has expired")


def test_a_foreign_host_name_is_refused(guarded):
    server, access = guarded
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for host in ("rebind.evil.example", "rebind.evil.example:8001", "127.0.0.1.evil.example"):
        r = _get(server, "/cdx/search/cdx?url=site.test", headers={**auth, "Host": host})
        assert r.status_code == 400 and b"site.test" not in r.content, host
        r = _get(server, _granted(access, f"/web/20170512100000mp_/{PAGE}"), headers={"Host": host})
        assert r.status_code == 400, host
    assert _get(server, "/cdx/search/cdx?url=site.test", headers={**auth, "Host": "localhost"}).status_code == 200


def test_wrong_tokens_slow_down(guarded):
    server, _ = guarded
    codes = [_get(server, "/cdx/search/cdx?url=x", headers={"Authorization": f"Bearer guess-{i}"}).status_code
             for i in range(25)]
    assert codes[:10] == [401] * 10 and set(codes[10:]) == {429}
    blocked = _get(server, "/cdx/search/cdx?url=x", headers={"Authorization": f"Bearer {TOKEN}"})
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0


@pytest.mark.parametrize("mode", ["id_", "mp_", "im_", "js_", "cs_", "if_", "oe_", ""])
def test_every_answer_is_sandboxed_and_loses_what_an_archive_would_do_to_a_browser(guarded, mode):
    server, access = guarded
    for dest in ("document", "iframe", None):
        headers = {"Sec-Fetch-Dest": dest} if dest else {}
        r = _get(server, _granted(access, f"/web/20170512100000{mode}/{NASTY}"), headers=headers)
        assert r.status_code == (302 if mode in ("mp_", "if_") and dest == "iframe" else 200), (mode, dest)
        names = {k.lower() for k in r.headers}
        for dropped in ("set-cookie", "clear-site-data", "access-control-allow-origin",
                        "access-control-allow-credentials", "content-security-policy-report-only", "report-to", "nel",
                        "strict-transport-security"):
            assert dropped not in names, (mode, dest, dropped)
        csp = r.headers["Content-Security-Policy"]
        assert "ws:" not in csp and "wss:" not in csp and "*" not in csp
        assert "report-uri" not in csp and "127.0.0.1:9" not in csp
        if mode == "":  # pywb's frame page: its own scripts, framing only the replay origin, never framed itself
            assert "sandbox" not in csp and f"frame-src 'self' {server.origin}" in csp
            assert "frame-ancestors 'none'" in csp
            continue
        scripted = mode in ("mp_", "if_") and dest == "iframe"
        if scripted:  # a framed scripted memento first goes under its own site's scope (web/replay_scope.py)
            assert r.status_code == 302 and "/o/" in r.headers["Location"]
            assert r.headers["Content-Security-Policy"].startswith("sandbox allow-scripts;")
            r = _get(server, r.headers["Location"], headers=headers)
            assert r.status_code == 200 and "set-cookie" not in {k.lower() for k in r.headers}, (mode, r.status_code)
            csp = r.headers["Content-Security-Policy"]
        assert csp.startswith("sandbox allow-scripts;" if scripted else "sandbox;"), (mode, dest, csp)
        assert f"connect-src 'self' {server.origin};" in csp and f"frame-ancestors 'self' {UI}" in csp
        assert r.headers["Referrer-Policy"] == "no-referrer"


def test_an_open_replay_still_checks_host_names(tmp_path):
    root = tmp_path / "storage"
    write_warc(root / "warcs" / "fixture-00001.warc.gz")
    with ReplayServer(root, "127.0.0.1", 0) as server:
        assert _get(server, "/cdx/search/cdx?url=site.test/page.html").status_code == 200
        assert _get(server, "/cdx/search/cdx?url=site.test", headers={"Host": "evil.example"}).status_code == 400
        raw = _get(server, f"/web/20170512100000id_/{PAGE}")
        assert raw.status_code == 200 and raw.headers["Content-Security-Policy"].startswith("sandbox;")
        # without tokens a framed page gets its scope all the same (no grant before it)
        framed = _get(server, f"/web/20170512100000mp_/{PAGE}", headers={"Sec-Fetch-Dest": "iframe"})
        prefix = framed.headers["Location"].split("/web/", 1)[0]
        assert framed.status_code == 302 and prefix.startswith("/o/")
        own = _get(server, f"{prefix}/web/20170512100000mp_/http://site.test/style.css", headers={"Origin": "null"})
        assert own.status_code == 200 and own.headers["Access-Control-Allow-Origin"] == "null"


# ---- a replayed page's scripts read its own site's records, and nothing else (archiver/web/replay_scope.py) -------

def _scoped(server, access, path: str, **headers) -> requests.Response:
    """Open the framed memento ``path`` as the interface's iframe does; (its scope's prefix, the answer)."""
    first = _get(server, _granted(access, path), headers={"Sec-Fetch-Dest": "iframe", **headers})
    assert first.status_code == 302, first.status_code
    return first.headers["Location"].split("/web/", 1)[0]


def test_a_framed_page_reads_its_own_sites_records_from_an_opaque_origin(guarded):
    server, access = guarded
    prefix = _scoped(server, access, f"/web/20170512100000mp_/{PAGE}")
    assert prefix.startswith("/c/") and "/o/" in prefix  # the grant, then the page's scope
    page = _get(server, f"{prefix}/web/20170512100000mp_/{PAGE}", headers={"Sec-Fetch-Dest": "iframe"})
    assert page.status_code == 200 and f"{prefix}/web/".encode() in page.content  # pywb carries it on
    own = f"{prefix}/web/20170512100000mp_/http://site.test/style.css"
    read = _get(server, own, headers={"Origin": "null"})
    assert read.status_code == 200 and read.headers["Access-Control-Allow-Origin"] == "null"
    assert "Origin" in read.headers["Vary"] and "Access-Control-Allow-Credentials" not in read.headers
    pre = requests.options(server.origin + own, timeout=10, headers={
        "Origin": "null", "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "x-pywb-requested-with"})
    assert pre.status_code == 204 and pre.headers["Access-Control-Allow-Origin"] == "null"
    assert pre.headers["Access-Control-Allow-Headers"] == "x-pywb-requested-with"
    # a real origin (another web page) is never granted, nor a request without a scope
    assert "Access-Control-Allow-Origin" not in _get(server, own, headers={"Origin": "http://127.0.0.1:7"}).headers
    unscoped = _granted(access, "/web/20170512100000mp_/http://site.test/style.css")
    assert "Access-Control-Allow-Origin" not in _get(server, unscoped, headers={"Origin": "null"}).headers


def test_a_scope_opens_neither_the_index_nor_other_sites(guarded):
    server, access = guarded
    prefix = _scoped(server, access, f"/web/20170512100000mp_/{PAGE}")
    null = {"Origin": "null"}
    for path in ("/cdx/search/cdx?url=site.test", "/web/cdx?url=site.test", "/collinfo.json"):
        r = _get(server, prefix + path, headers=null)
        assert r.status_code == 404 and "Access-Control-Allow-Origin" not in r.headers, path
    for path in (f"/web/timemap/link/{PAGE}", f"/web/{PAGE}", f"/web/20170512100000/{PAGE}",
                 "/web/20170512100000id_/http://goo.gl/abc"):  # TimeMap, TimeGate, frame page, another site
        r = _get(server, prefix + path, headers=null)
        assert "Access-Control-Allow-Origin" not in r.headers, (path, r.status_code)
    # another site whose archived answer allowed any origin (Access-Control-Allow-Origin: *) is readable, as live
    r = _get(server, f"{prefix}/web/20170512100000id_/{NASTY}", headers=null)
    assert r.headers.get("Access-Control-Allow-Origin") == "null"
    # a frame moved to another site's page goes under that site's scope, not the one it came with
    moved = _get(server, f"{prefix}/web/20170512100000mp_/{NASTY}", headers={"Sec-Fetch-Dest": "iframe"})
    assert moved.status_code == 302 and moved.headers["Location"].split("/web/", 1)[0] != prefix
    assert access.scope_origin(moved.headers["Location"].split("/o/", 1)[1].split("/", 1)[0]) == "http://nasty.test"


def test_forged_and_foreign_scopes_are_refused(guarded):
    server, access = guarded
    good = access.scope("http://site.test")
    forged = access.scope("http://site.test")[:-3] + "AAA"
    foreign = Access(hosts=access.hosts, tokens=access.tokens).scope("http://site.test")
    plain = "aHR0cDovL3NpdGUudGVzdA"  # base64 of the origin, unsigned
    for scope in (forged, foreign, plain):
        r = _get(server, _granted(access, f"/o/{scope}/web/20170512100000mp_/http://site.test/style.css"),
                 headers={"Origin": "null"})
        assert r.status_code == 403 and "Access-Control-Allow-Origin" not in r.headers, scope
    assert _get(server, _granted(access, f"/o/{good}/web/20170512100000mp_/http://site.test/style.css"),
                headers={"Origin": "null"}).headers["Access-Control-Allow-Origin"] == "null"
    # a scope is no grant: without the interface's grant (tokens on), nothing is served
    assert _get(server, f"/o/{good}/web/20170512100000mp_/http://site.test/style.css").status_code == 401
