"""The interface in a real browser: pages, faithful replay through pywb, and isolation of archived scripts."""
from __future__ import annotations

import pytest

from .conftest import SHOTS, shot
from .evidence import PAGE_TEXT

pytestmark = pytest.mark.browser


def _snapshot_frame(page):
    page.wait_for_selector("figure.snapshot iframe")
    for _ in range(100):
        frames = [f for f in page.frames if "/web/" in f.url]
        if frames:
            return frames[0]
        page.wait_for_timeout(100)
    raise AssertionError(f"no replay frame among {[f.url for f in page.frames]}")


def test_reports_and_report_page_list_activities(stack, page):
    page.goto(stack.base + "/")
    assert "Budget transparency report" in page.text_content("main")
    # coverage as `archiver health` counts it: 3 of 4 activities (with the probe) have preserved evidence
    assert "75.0% (3 of 4 activities)" in page.text_content("main")
    shot(page, "reports")
    page.click("text=Budget transparency report")
    page.wait_for_url(f"**/reports/{stack.ids['report']}")
    rows = page.locator("table.activities tbody tr")
    assert rows.count() == 4  # three activities plus the isolation probe
    body = page.text_content("table.activities")
    assert "Publish the budget online" in body and "goo.gl/abc" in body and "dead" in body
    shot(page, "report")


def test_activity_page_shows_evidence_and_replayed_snapshot(stack, page):
    page.goto(f"{stack.base}/activities/{stack.ids['a1']}")
    main = page.text_content("main")
    assert "goo.gl/abc" in main and "(see goo.gl/abc)." in main  # as written
    hops = page.locator("ol.hops li")
    assert hops.count() == 2 and "301" in hops.nth(0).text_content() and "site.test/page.html" in hops.nth(0).text_content()
    assert "revisit" in page.text_content("table.captures")
    assert PAGE_TEXT in page.text_content("details.text")
    banner = page.text_content("figure.snapshot .banner")
    assert "http://site.test/page.html" in banner and "2018-01-01 08:30:00 UTC" in banner
    iframe = page.locator("figure.snapshot iframe")
    assert iframe.get_attribute("sandbox") == "allow-scripts"
    assert iframe.get_attribute("src").startswith(stack.replay.origin + "/web/20180101083000mp_/")
    frame = _snapshot_frame(page)
    frame.wait_for_selector("#claim")
    assert PAGE_TEXT in frame.text_content("#claim")  # the revisit replays the original payload
    frame.wait_for_function("document.getElementById('logo').complete")
    assert frame.evaluate("document.getElementById('logo').naturalWidth") > 0  # the image came from our WARC
    assert frame.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(253, 246, 227)"  # and the CSS
    shot(page, "activity")
    page.locator("figure.snapshot").scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    page.locator("figure.snapshot").screenshot(path=str(SHOTS / "snapshot.png"))


def test_archived_script_cannot_reach_the_interface(stack, page):
    page.context.add_cookies([{"name": "probe", "value": "ui-secret", "url": stack.base}])
    page.goto(f"{stack.base}/activities/{stack.ids['a_evil']}")
    frame = _snapshot_frame(page)
    frame.wait_for_function("document.getElementById('result') && "
                            "document.getElementById('result').textContent !== 'pending'")
    result = frame.text_content("#result")
    assert "parent-blocked" in result, result
    assert "cookie-blocked" in result, result
    assert "fetch-blocked" in result, result
    assert "ui-secret" not in result and "Budget" not in result
    shot(page, "isolation")


def test_search_timeline_and_health_pages(stack, page):
    page.goto(f"{stack.base}/search?q=budget")
    marks = page.locator("p.snippet mark")
    assert marks.count() >= 1 and marks.first.text_content().lower() == "budget"
    assert page.locator("p.snippet script").count() == 0  # the archived "<script>" text stays text
    assert "<script>alert(1)</script>" in page.text_content("ol.hits")
    shot(page, "search")
    page.goto(f"{stack.base}/timeline?url=http://site.test/page.html")
    assert page.locator("ol.timeline li").count() == 2
    shot(page, "timeline")
    page.goto(f"{stack.base}/health")
    rows = page.locator("table.at-risk tbody tr")
    assert rows.count() == 1
    row = rows.first.text_content()
    assert "dead.test/gone" in row and "#3" in row and "lost" in row and "404 Not Found for good" in row
    assert "75.0% (3 of 4 activities)" in page.text_content("table.coverage")
    shot(page, "health")
