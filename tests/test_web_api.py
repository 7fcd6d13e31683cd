"""The JSON API and the pages over the evidence fixture, on SQLite and PostgreSQL, through real HTTP."""
from __future__ import annotations

import threading
import time

import pytest
import requests

from archiver.model import RunSummary
from archiver.web.app import create_app
from tests.browser.evidence import PAGE, PAGE_TEXT, build
from tests.browser.servers import serve_app

REPLAY = "http://127.0.0.1:9"


@pytest.fixture
def ui(settings, Session):
    ids = build(Session, settings.storage.root)
    gate = threading.Event()

    def runner(settings_, Session_, progress=None, stop=None, kind="run"):
        progress("capture", 1, 2)
        gate.wait(10)
        return RunSummary(run_id=7, captured=2)

    app = create_app(settings, Session, replay_origin_url=REPLAY, runner=runner)
    with serve_app(app) as base:
        yield base, ids, gate


PRIVATE = {"warc_file", "offset", "length"}


def _public(doc):
    """A CLI document without the WARC locations the web never shows."""
    if isinstance(doc, list):
        return [_public(d) for d in doc]
    if isinstance(doc, dict):
        return {k: _public(v) for k, v in doc.items() if k not in PRIVATE}
    return doc


def test_reports_and_activities(ui):
    base, ids, _ = ui
    reports = requests.get(base + "/api/reports").json()
    assert len(reports) == 1
    r = reports[0]
    # coverage as `archiver health` counts it: 2 of the 3 activities (all cite a link) have preserved evidence
    assert (r["title"], r["activities"], r["links"], r["activities_with_evidence"], r["activities_without_links"],
            r["coverage_pct"]) == ("Budget transparency report", 3, 3, 2, 0, 66.7)
    assert (r["at_risk_count"], r["lost_count"], r["changed_count"]) == (1, 1, 0)
    one = requests.get(f"{base}/api/reports/{ids['report']}").json()
    assert (one["id"], one["coverage_pct"], one["meta"]) == (ids["report"], 66.7, {})
    assert [x["url"] for x in one["at_risk"]] == ["http://dead.test/gone"] and one["at_risk"][0]["lost"]
    acts = requests.get(f"{base}/api/reports/{ids['report']}/activities").json()
    assert [a["ordinal"] for a in acts] == [1, 2, 3]
    assert [lk["status"] for a in acts for lk in a["links"]] == ["captured", "captured", "dead"]
    assert acts[0]["date_text"] == "May 2017" and acts[0]["date"] == "2017-05-01"
    assert acts[0]["links"][0]["captures"][0]["timestamp"] == "2017-05-12T10:00:00Z"
    assert not PRIVATE & set(acts[0]["links"][0]["captures"][0])


def test_api_shows_what_the_cli_shows(ui, cli):
    base, ids, _ = ui
    cli_reports = cli("reports", "--json").json()["reports"]
    api_reports = requests.get(base + "/api/reports").json()
    assert [{k: r[k] for k in cli_reports[0]} for r in api_reports] == cli_reports
    cli_acts = cli("activities", "--report", ids["report"], "--json").json()["activities"]
    assert cli_acts[2]["links"][0]["url"] == "http://dead.test/gone"
    api_acts = requests.get(f"{base}/api/reports/{ids['report']}/activities").json()
    assert [a.pop("links_total") for a in api_acts] == [1, 1, 1]
    assert api_acts == _public(cli_acts)
    cli_show = cli("show", ids["a1"], "--json").json()
    api_show = requests.get(f"{base}/api/activities/{ids['a1']}").json()
    assert cli_show["links"][0]["captures"] and cli_show["links"][0]["hops"]

    def same(cli_doc, api_doc):  # every CLI field is in the API with the same value (the API adds provenance)
        if isinstance(cli_doc, dict):
            return all(k in api_doc and same(v, api_doc[k]) for k, v in cli_doc.items() if k not in PRIVATE)
        if isinstance(cli_doc, list):
            return len(cli_doc) == len(api_doc) and all(map(same, cli_doc, api_doc))
        return cli_doc == api_doc

    assert same(cli_show, api_show)
    health = cli("health", "--json").json()
    assert health["reports"][0]["coverage_pct"] == 66.7
    assert requests.get(base + "/api/health").json() == health


def test_activity_evidence(ui):
    base, ids, _ = ui
    a = requests.get(f"{base}/api/activities/{ids['a1']}").json()
    link = a["links"][0]
    assert link["url"] == "goo.gl/abc" and link["text_raw"] == "(see goo.gl/abc)." and link["final_url"] == PAGE
    assert a["report"]["title"] == "Budget transparency report" and a["date"] == "2017-05-01"
    assert [(h["seq"], h["status_code"], h["location"], h["attempt"], h["capture_id"]) for h in link["hops"]] == [
        (1, 301, PAGE, 1, ids["hop"]), (2, 200, None, 1, ids["page"])]
    caps = link["captures"]  # the evidence, as `archiver show` lists it: the hop's record is reached from its hop
    assert [(c["id"], c["role"], c["http_status"], c["is_revisit"]) for c in caps] == [
        (ids["page"], "target", 200, False), (ids["revisit"], "target", 200, True)]
    assert link["requisites"] == 1
    page = caps[0]
    assert len(page["sha256"]) == 64 and page["source"] == "live" and page["timestamp"] == "2017-05-12T10:00:00Z"
    assert page["extraction"]["text"].startswith(PAGE_TEXT)
    assert page["replay_url"] == f"{REPLAY}/web/20170512100000mp_/{PAGE}"
    assert page["replay_page_url"] == f"{REPLAY}/web/20170512100000/{PAGE}"
    assert not PRIVATE & set(page)
    hop = requests.get(f"{base}/api/captures/{ids['hop']}").json()
    assert (hop["role"], hop["http_status"], hop["url"]) == ("hop", 301, "http://goo.gl/abc")
    c = requests.get(f"{base}/api/captures/{ids['pdf']}").json()
    assert c["content_type"] == "application/pdf" and c["extraction"]["method"] == "pypdf"
    assert not PRIVATE & set(c)  # files are ours, reached through the index only


def test_search_health_timeline(ui):
    base, ids, _ = ui
    hits = requests.get(base + "/api/search", params={"q": "budget"}).json()
    assert hits and hits[0]["activity_id"] == ids["a1"]
    assert "<script" not in hits[0]["snippet_html"] and "<mark>budget</mark>" in hits[0]["snippet_html"]
    [h] = requests.get(base + "/api/health").json()["reports"]
    assert (h["report_id"], h["activities"], h["activities_with_evidence"], h["coverage_pct"]) == (ids["report"], 3, 2, 66.7)
    assert h["at_risk"] == [{"activity_id": ids["a3"], "url": "http://dead.test/gone", "status": "dead",
                             "reason": "404 Not Found for good"}]
    assert h["lost"] == h["at_risk"]  # dead and done: no automatic source left
    tl = requests.get(base + "/api/timeline", params={"url": PAGE}).json()
    assert [c["timestamp"][:4] for c in tl] == ["2017", "2018"] and [c["is_revisit"] for c in tl] == [False, True]
    assert tl[1]["replay_url"] == f"{REPLAY}/web/20180101083000mp_/{PAGE}" and not PRIVATE & set(tl[0])


def test_pages_render_and_escape(ui):
    base, ids, _ = ui
    for path in ("/", f"/reports/{ids['report']}", f"/activities/{ids['a1']}", f"/captures/{ids['page']}",
                 f"/timeline?url={PAGE}", "/health", "/upload", "/search?q=budget"):
        r = requests.get(base + path)
        assert r.status_code == 200, path
        assert "<script" not in r.text.replace("&lt;script", ""), path  # no script of ours or theirs
    act = requests.get(f"{base}/activities/{ids['a1']}").text
    assert f'src="{REPLAY}/web/20180101083000mp_/{PAGE}" sandbox="allow-scripts"' in act
    assert "allow-same-origin" not in act
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in act
    listing = requests.get(base + "/").text
    assert "66.7%" in listing and "(2 of 3 activities)" in listing
    health = requests.get(base + "/health").text
    assert health.index("http://dead.test/gone") < health.index("Evidence coverage")  # at risk first
    assert ">lost<" in health and "404 Not Found for good" in health
    search = requests.get(base + "/search", params={"q": "<b>budget</b>"}).text
    assert "&lt;b&gt;budget&lt;/b&gt;" in search and "<b>budget" not in search


def test_interface_sends_strict_headers(ui):
    base, _, _ = ui
    h = requests.get(base + "/").headers
    csp = h["Content-Security-Policy"]
    for part in ("default-src 'self'", f"frame-src {REPLAY}", "script-src 'none'", "object-src 'none'",
                 "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'"):
        assert part in csp
    assert h["X-Content-Type-Options"] == "nosniff" and h["Referrer-Policy"] == "same-origin"
    assert requests.get(base + "/api/reports").headers["Content-Security-Policy"] == csp


def test_openapi_lists_the_api(ui):
    base, _, _ = ui
    paths = requests.get(base + "/openapi.json").json()["paths"]
    for p in ("/api/reports", "/api/reports/{report_id}", "/api/reports/{report_id}/activities",
              "/api/activities/{activity_id}", "/api/search", "/api/health", "/api/captures/{capture_id}",
              "/api/runs", "/api/uploads"):
        assert p in paths
    assert "post" in paths["/api/runs"] and "post" in paths["/api/uploads"]


def test_run_from_the_page_shows_progress_then_result(ui):
    base, _, gate = ui
    r = requests.post(base + "/runs", allow_redirects=False)
    assert r.status_code == 303
    run_page = base + r.headers["Location"]
    api = base + "/api/runs/" + run_page.rsplit("/", 1)[1]
    for _ in range(100):
        if requests.get(api).json()["stage"]:
            break
        time.sleep(0.02)
    html = requests.get(run_page).text
    assert '<meta http-equiv="refresh" content="2">' in html and "capture: 1 of 2" in html
    assert requests.post(base + "/api/runs").status_code == 400  # one at a time
    gate.set()
    for _ in range(100):
        job = requests.get(api).json()
        if job["state"] != "running":
            break
        time.sleep(0.05)
    assert job["state"] == "ok" and job["summary"]["captured"] == 2
    html = requests.get(run_page).text
    assert "http-equiv" not in html and ">ok<" in html


TRICKS = ["/api/captures/..%2f..%2fetc%2fpasswd", "/api/captures/%2e%2e", "/api/captures//etc/passwd",
          "/api/captures/999999", "/captures/abc", "/static/%2e%2e/app.py", "/static/..%2fapp.py",
          "/static//etc/passwd", "/static/%2fetc%2fpasswd", "/api/activities/1e3", "/reports/-1",
          "/api/timeline/..%2f..%2fwarcs", "/warcs/fixture-00001.warc.gz", "/storage/warcs/fixture-00001.warc.gz"]


def test_path_tricks_are_404(ui):
    base, _, _ = ui
    for path in TRICKS:
        r = requests.get(base + path)
        assert r.status_code == 404, (path, r.status_code)
        assert b"root:" not in r.content and b"create_app" not in r.content and b"WARC/1" not in r.content


def test_uploads_are_ingested(ui, settings):
    base, _, _ = ui
    report = b"Report 2019\n\n1. Published the open data portal in March 2019 (https://example.org/portal).\n"
    r = requests.post(base + "/api/uploads", files={"file": ("../../evil name.txt", report, "text/plain")})
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["stored_as"].endswith("-evil_name.txt") and "/" not in doc["stored_as"]
    assert (settings.storage.root / "uploads" / doc["stored_as"]).read_bytes() == report
    assert doc["result"]["status"] == "ingested" and doc["result"]["links"] == 1
    assert len(requests.get(base + "/api/reports").json()) == 2
    bad = requests.post(base + "/api/uploads", files={"file": ("x.exe", b"MZ", "application/octet-stream")})
    assert bad.status_code == 400 and "unsupported" in bad.json()["error"]
