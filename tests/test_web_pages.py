"""Every page and API route at any size, on SQLite and PostgreSQL: ids out of range are 404, HEAD answers like
GET, the interface never links raw replay, and with 300 000 links every page answers 200, fast, one page at a
time, in a bounded number of queries with bounded parameter lists (issue 9; exact figures: bench/web_pages.py)."""
from __future__ import annotations

import re
import time

import pytest
import requests
from sqlalchemy import event

from archiver import coverage
from archiver.health import report_health
from archiver.web.app import create_app
from archiver.web.params import MAX_ID
from tests.bigdb import build as build_big
from tests.browser.evidence import PAGE, build
from tests.browser.servers import serve_app

REPLAY = "http://127.0.0.1:9"
ID_ROUTES = ["/reports/{}", "/activities/{}", "/captures/{}", "/api/reports/{}", "/api/reports/{}/activities",
             "/api/activities/{}", "/api/captures/{}"]
BAD_IDS = ["0", "-1", "99999", str(MAX_ID + 1), str(2**63), str(2**63 + 1), str(10**30), "1e3", "١"]


@pytest.fixture
def ui(settings, Session):
    ids = build(Session, settings.storage.root)
    app = create_app(settings, Session, replay_origin_url=REPLAY, runner=lambda *a, **k: None)
    with serve_app(app) as base:
        yield base, ids, app


@pytest.mark.parametrize("route", ID_ROUTES)
def test_ids_out_of_range_are_404(ui, route):
    """Issue 9: out-of-range ids gave 500 (beyond INTEGER on PostgreSQL, beyond 2**63 on SQLite)."""
    base, _, _ = ui
    for bad in BAD_IDS:
        r = requests.get(base + route.format(bad))
        assert r.status_code == 404, (route, bad, r.status_code, r.text[:200])
        if route.startswith("/api/"):
            assert r.json()["status"] == 404
    for q in ("page=0", f"page={2**63}", "per_page=100000", "page=x"):
        r = requests.get(f"{base}/api/reports?{q}")
        assert r.status_code == 400 and "page" in r.json()["error"], q


def _get_routes(app, ids) -> list[str]:
    """A concrete URL for every GET route of the app (ids from the fixture)."""
    fill = {"report_id": ids["report"], "activity_id": ids["a1"], "capture_id": ids["page"], "job_id": "nope"}
    out = []
    from archiver.web import routes_api, routes_pages

    for route in [*app.routes, *routes_api.router.routes, *routes_pages.router.routes]:
        methods = getattr(route, "methods", None) or set()
        if "GET" not in methods:
            continue
        path = route.path
        for name, value in fill.items():
            path = path.replace("{" + name + "}", str(value))
        if path.endswith("/timeline"):
            path += f"?url={PAGE}"
        elif path.endswith("/search"):
            path += "?q=budget"
        out.append(path)
    return out + ["/static/style.css"]


def test_head_answers_every_get_route_like_get(ui):
    """Issue 9: HEAD / answered 405. Every GET route: the same status and headers, no body."""
    base, ids, app = ui
    paths = _get_routes(app, ids)
    assert len(paths) >= 15
    for path in paths:
        get, head = requests.get(base + path), requests.head(base + path)
        assert head.status_code == get.status_code, (path, head.status_code, get.status_code)
        assert head.content == b"", path
        for name in ("Content-Type", "Content-Length", "Content-Security-Policy", "Cache-Control", "Link",
                     "X-Total-Count"):
            if name == "Content-Length" and path.startswith(("/runs/", "/api/runs")):
                continue
            assert head.headers.get(name) == get.headers.get(name), (path, name)
    assert requests.head(base + "/api/uploads").status_code == 405  # HEAD only where GET is


def test_the_interface_never_links_raw_replay(ui):
    base, ids, app = ui
    found = []
    for path in _get_routes(app, ids):
        if path.startswith(("/api/", "/openapi")) or path.endswith(".css"):
            continue
        found += re.findall(r'(?:href|src)="([^"]*)"', requests.get(base + path).text)
    replay = [u for u in found if u.startswith(REPLAY)]
    assert replay and not [u for u in replay if re.search(r"/web/\d+[a-z]{2}_/", u) and "mp_/" not in u]
    assert not [u for u in found if "id_/" in u]


def test_pages_and_health_agree_with_the_cli_definitions(ui, Session):
    """coverage.py (SQL, a page at a time) and health.py (what `archiver health` prints) count alike."""
    base, ids, _ = ui
    with Session() as s:
        doc = report_health(s)["reports"][0]
        counts = coverage.counts(s, [ids["report"]])[ids["report"]]
        risky, total = coverage.at_risk(s)
    assert (counts["activities_cited"], counts["activities_with_evidence"], counts["coverage_pct"],
            counts["at_risk_count"], counts["lost_count"]) == (
        doc["activities"], doc["activities_with_evidence"], doc["coverage_pct"], len(doc["at_risk"]), len(doc["lost"]))
    assert total == 1 and [(e["activity_id"], e["url"], e["reason"]) for e in risky] == [
        (e["activity_id"], e["url"], e["reason"]) for e in doc["at_risk"]]


@pytest.fixture
def big(settings, engine, Session):
    started = time.monotonic()
    ids = build_big(engine)
    print(f"built {ids['links']} links in {time.monotonic() - started:.1f} s")
    app = create_app(settings, Session, replay_origin_url=REPLAY, runner=lambda *a, **k: None)
    seen: list[tuple[str, int]] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, len(parameters or ())))

    event.listen(engine, "before_cursor_execute", count)
    with serve_app(app) as base:
        yield base, ids, seen
    event.remove(engine, "before_cursor_execute", count)


@pytest.mark.slow
def test_pages_stay_fast_and_bounded_with_300k_links(big):
    """Issue 9: more than 250 k links made the front page answer 500 ("too many SQL variables")."""
    base, ids, seen = big
    rid, act = ids["report"], ids["big_activity"]
    pages = ["/", f"/reports/{rid}", f"/reports/{rid}?page=401", f"/activities/{act}",
             f"/activities/{act}?page=5000", f"/activities/{ids['small_activity']}", "/health", "/health?page=2400",
             "/health?changed_page=400", f"/timeline?url={ids['url']}", "/api/reports", f"/api/reports/{rid}",
             f"/api/reports/{rid}/activities?page=200", f"/api/activities/{act}?page=999"]
    slowest = 0.0
    for path in pages:
        seen.clear()
        started = time.monotonic()
        r = requests.get(base + path, timeout=60)
        took = time.monotonic() - started
        slowest = max(slowest, took)
        assert r.status_code == 200, (path, r.status_code, r.text[:300])
        # a blow-up guard only (was minutes): the bounds that catch a regression are the query counts
        # below; the figures themselves are bench/'s (a timed test flakes on a busy 2-core machine)
        assert took < 30, (path, took)
        assert len(seen) <= 20, (path, len(seen), [s for s, _ in seen])
        assert max((n for _, n in seen), default=0) <= 500, (path, max(n for _, n in seen))
        assert len(r.content) < 2_000_000, (path, len(r.content))
    print(f"slowest page {slowest:.2f} s")
    front = requests.get(base + "/").text
    assert "A very long report" in front
    report = requests.get(f"{base}/reports/{rid}").text
    assert report.count("<tr>\n    <td><a href=\"/activities/") == 50 and "page 1 of 401" in report
    last = requests.get(f"{base}/reports/{rid}?page=401").text  # the activity citing 100 000 links: its first 10
    assert f'<a href="/activities/{act}">and 99990 more</a>' in last and last.count('<div class="link">') == 10
    big_page = requests.get(f"{base}/activities/{act}?page=2").text
    assert "Link 21:" in big_page and "Link 41:" not in big_page and "page 2 of 5000" in big_page
    health = requests.get(base + "/health").text
    assert "page 1 of" in health and health.count('<td class="url">') <= 200
    api = requests.get(base + "/api/reports/" + str(rid) + "/activities", params={"page": 2, "per_page": 100})
    assert len(api.json()) == 100 and api.headers["X-Total-Count"] == "20001"
    assert 'rel="next"' in api.headers["Link"] and 'rel="prev"' in api.headers["Link"]
    acts = api.json()
    assert acts[0]["ordinal"] == 101 and all(len(a["links"]) <= 10 for a in acts)
