"""A page built by its scripts replays with what they built (issue 11), on the replay origin as `archiver serve`
runs it (interface and pywb sharing one Access, with tokens, so every replay URL carries a grant).

The page (tests/servers/scripted.py) fetches ``/data.json`` and writes a paragraph holding ``WORD``. It was
captured through the browser, so the JSON is in the WARC; the site is gone when it replays. Replayed sandboxed
(opaque origin), its fetch is a cross-origin request to the replay origin: it succeeds only because the page runs
under its own site's signed scope (archiver/web/replay_scope.py). The isolation tests
(test_replay_isolation.py) show that scope opens nothing else."""
from __future__ import annotations

import pytest

from archiver.db.session import make_engine, make_sessionmaker
from archiver.web.access import Access
from archiver.web.app import create_app
from archiver.web.replay import ReplayServer
from tests.servers.scripted import POST_WORD, WORD

from .conftest import SCRIPTED_TOKEN, shot
from .servers import free_socket, serve_app

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def served(scripted_capture):
    settings = scripted_capture.settings
    engine = make_engine(settings)
    access = Access.for_serving(settings, "127.0.0.1")
    sock = free_socket()
    ui = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with ReplayServer(settings.storage.root, "127.0.0.1", 0, ui_origin=ui, access=access) as replay:
        app = create_app(settings, make_sessionmaker(engine), replay_origin_url=replay.origin, access=access)
        with serve_app(app, sock=sock) as base:
            yield base
    engine.dispose()


def _login(page, base):
    page.goto(base + "/login")
    page.fill("#token", SCRIPTED_TOKEN)
    with page.expect_navigation():
        page.click("form.card button[type=submit]")


def _built(page, url: str, selector: str = "#built", done=lambda text: True):
    """The replayed page's frame, once its script wrote the paragraph (or what the frames hold, to fail with)."""
    for _ in range(150):
        for f in page.frames:
            if f.url.endswith("mp_/" + url):
                el = f.query_selector(selector)
                if el is not None and done(el.text_content()):
                    return f, el.text_content()
        page.wait_for_timeout(100)
    raise AssertionError(f"no paragraph built in {[f.url for f in page.frames]}")


def _errors(page) -> list[str]:
    said: list[str] = []
    page.on("console", lambda m: said.append(m.text) if m.type == "error" else None)
    return said


def test_the_snapshot_frame_shows_what_the_script_built(served, scripted_capture, page):
    url = scripted_capture.page
    _login(page, served)
    errors = _errors(page)
    page.goto(f"{served}/activities/1")
    frame, text = _built(page, url)
    shot(page, "script-replay-snapshot")
    assert WORD in text, text
    assert "/o/" in frame.url and "/c/" in frame.url  # under its scope, after the interface's grant
    assert not [e for e in errors if "CORS" in e], errors
    assert page.url.startswith(served + "/activities/")


def test_pywb_frame_page_shows_what_the_script_built(served, scripted_capture, page):
    url = scripted_capture.page
    _login(page, served)
    page.goto(f"{served}/activities/1")
    with page.context.expect_page() as popup_info:
        page.locator("figure.snapshot a", has_text="Open in replay").click()
    popup = popup_info.value
    errors = _errors(popup)
    popup.wait_for_load_state()
    _frame, text = _built(popup, url)
    shot(popup, "script-replay-pywb")
    assert WORD in text, text
    assert not [e for e in errors if "CORS" in e], errors


def test_a_scripts_post_is_answered_from_the_warc(served, scripted_capture, page):
    """The page's script POSTs a JSON query and writes the answer: replayed, pywb finds the recorded answer by
    method and body (the replay index keys POSTs with cdxj-indexer's post_append)."""
    _login(page, served)
    errors = _errors(page)
    page.goto(f"{served}/activities/2")
    _frame, text = _built(page, scripted_capture.post_page, "#out", lambda t: t != "waiting")
    shot(page, "script-replay-post")
    assert text.startswith(f"Found: {POST_WORD}"), (text, errors)
