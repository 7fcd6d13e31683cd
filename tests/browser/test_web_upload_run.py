"""Upload a report in the browser, start a run from the page, watch it finish (meta refresh, no JS),
then see the new capture replayed. A module of its own: it adds a report to its own stack."""
from __future__ import annotations

import pytest

from archiver.web.replay import pywb_dir
from tests.servers.targets import serve

from .conftest import shot

pytestmark = pytest.mark.browser


def test_upload_then_run_then_replay(stack, page, tmp_path):
    with serve() as site:
        report = tmp_path / "progress-report.txt"
        report.write_text("Progress report 2019\n\n"
                          f"1. Published the national plan in March 2019 ({site.url('/page.html')}).\n",
                          encoding="utf-8")
        page.goto(stack.base + "/upload")
        shot(page, "upload")
        page.set_input_files("input[type=file]", str(report))
        with page.expect_navigation():
            page.click("form.card button[type=submit]")
        assert page.locator(".notice.bad").count() == 0, page.text_content("main")
        page.wait_for_selector(".notice.good")
        assert '"status": "ingested"' in page.text_content(".notice.good")
        shot(page, "upload-done")
        page.click("text=Start a run now")
        page.wait_for_url("**/runs/*")
        assert page.locator("#run-state").text_content() in ("running", "ok", "partial")
        # the page reloads itself with <meta http-equiv=refresh> until the run is over
        for _ in range(600):
            state = page.locator("#run-state").text_content()
            if state != "running":
                break
            page.wait_for_timeout(150)
        assert state in ("ok", "partial"), page.text_content("main")
        assert "/page.html" in "".join(site.hits)
        shot(page, "run")
    page.goto(stack.base + "/")
    page.click("text=Progress report 2019")
    page.click("table.activities tbody tr >> nth=0 >> a >> nth=1")
    page.wait_for_url("**/activities/*")
    page.wait_for_load_state()  # count rows of the loaded page, not of a half-parsed one
    assert page.locator("table.captures tbody tr").count() >= 1
    frame = None
    for _ in range(100):
        frames = [f for f in page.frames if "/web/" in f.url]
        if frames:
            frame = frames[0]
            break
        page.wait_for_timeout(100)
    assert frame is not None
    frame.wait_for_selector("h1")
    assert "The ministry published the plan." in frame.text_content("body")
    try:  # generous: CI's two cores also run the other worker's tests, Chromium and pywb
        frame.wait_for_function("Array.from(document.images).every(i => i.complete)", timeout=60_000)
    except Exception as e:  # say which image and what the replay server logged, not only "timeout"
        states = frame.evaluate("Array.from(document.images).map(i => [i.currentSrc || i.src, i.complete])")
        log = pywb_dir(stack.settings.storage.root) / "replay.log"
        tail = log.read_text(errors="replace")[-3000:] if log.exists() else "(no replay.log)"
        raise AssertionError(f"images still loading: {states}\nreplay.log ends:\n{tail}") from e
    assert frame.evaluate("document.images[0].naturalWidth") > 0
    shot(page, "new-activity")
