"""Replay isolation in a real browser (issue 9): hostile archived pages try the three escapes that broke.

1. read the replay index and another archived record, and send both to the attacker's server
   (from raw ``id_`` replay, from what "Open in replay" opens, from a memento opened on its own, and from the
   interface's snapshot frame);
2. beacon out over a WebSocket;
3. replace the interface's HttpOnly login cookie with an archived ``Set-Cookie: ...; Path=/``.

The interface runs with tokens (a login cookie to steal or replace); the attacker's server is a local listener.
Each attack passes when the listener heard nothing of it and the login is intact.
"""
from __future__ import annotations

import pytest

from archiver.config import load_settings
from archiver.db import migrate
from archiver.db.session import make_engine, make_sessionmaker
from archiver.web.access import Access
from archiver.web.app import create_app
from archiver.web.replay import ReplayServer
from tests.conftest import write_config

from .conftest import shot
from .evidence import build
from .hostile import COOKIE_NAMES, INDEX_MARK, STOLEN_MARK, Listener, add_rows, write_hostile
from .servers import free_socket, serve_app

pytestmark = pytest.mark.browser
TOKEN = "isolation-editor-token-5f0c2d9a7e41"
SETTLE_MS = 3000  # time given to a hostile page's script to do its worst


class Hostile:
    def __init__(self, base, replay, listener, ids):
        self.base, self.replay, self.listener, self.ids = base, replay, listener, ids


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile")
    cfg = write_config(tmp, f"sqlite:///{(tmp / 'archiver.db').as_posix()}",
                       web={"tokens": [{"token": TOKEN, "role": "editor"}]})
    settings = load_settings(cfg, env={})
    engine = make_engine(settings)
    migrate.upgrade(engine)
    Session = make_sessionmaker(engine)
    listener = Listener()
    sock = free_socket()
    ui_origin = f"http://127.0.0.1:{sock.getsockname()[1]}"
    ids = build(Session, settings.storage.root)
    write_hostile(settings.storage.root, listener.url)
    ids.update(add_rows(Session, settings.storage.root, ids["report"]))
    access = Access.for_serving(settings, "127.0.0.1")
    with ReplayServer(settings.storage.root, "127.0.0.1", 0, ui_origin=ui_origin, access=access) as replay:
        app = create_app(settings, Session, replay_origin_url=replay.origin, access=access)
        with serve_app(app, sock=sock) as base:
            yield Hostile(base, replay, listener, ids)
    listener.close()
    engine.dispose()


def _login(page, h: Hostile) -> dict:
    page.goto(h.base + "/login")
    page.fill("#token", TOKEN)
    with page.expect_navigation():
        page.click("form.card button[type=submit]")
    assert "Reports" in page.text_content("main")
    return _ui_cookies(page, h)


def _ui_cookies(page, h) -> dict:
    return {c["name"]: c["value"] for c in page.context.cookies(h.base)}


def _frame_src(page, h, name: str) -> str:
    page.goto(f"{h.base}/activities/{h.ids[name]}")
    return page.get_attribute("figure.snapshot iframe", "src")


def _console(page) -> "_Said":
    said = _Said()
    page.on("console", lambda m: said.append(m.text))
    return said


class _Said(list):
    def __contains__(self, text):
        return any(text in m for m in self)


def _replay_frame(page, url_part: str):
    for _ in range(100):
        frames = [f for f in page.frames if url_part in f.url and "mp_/" in f.url]
        if frames and frames[0].query_selector("#result"):
            return frames[0]
        page.wait_for_timeout(100)
    raise AssertionError(f"no replay frame of {url_part} among {[f.url for f in page.frames]}")


def _heard(h: Hostile) -> str:
    return h.listener.text()


def _assert_nothing_stolen(h: Hostile):
    heard = _heard(h)
    assert STOLEN_MARK not in heard and INDEX_MARK not in heard, heard[:2000]


@pytest.fixture
def fresh(hostile):
    hostile.listener.clear()
    return hostile


@pytest.mark.parametrize("mode", ["id_", "mp_", "im_", "js_", "if_"])
def test_a_memento_opened_alone_reads_and_sends_nothing(fresh, page, mode):
    """Any replay mode of a hostile page, opened as a page of its own (as "Open in replay" once opened id_)."""
    _login(page, fresh)
    url = _frame_src(page, fresh, "steal").replace("mp_/", f"{mode}/")
    resp = page.goto(url)
    assert resp.status == 200 and "Hostile page" in resp.text()  # served, as archived
    page.wait_for_timeout(SETTLE_MS)
    shot(page, f"isolation-alone-{mode}")
    _assert_nothing_stolen(fresh)
    assert "/nav?" not in _heard(fresh) and "/ws?" not in _heard(fresh)
    assert page.url == url  # it did not navigate itself to the attacker either


def test_open_in_replay_reads_and_sends_nothing(fresh, page):
    _login(page, fresh)
    page.goto(f"{fresh.base}/activities/{fresh.ids['steal']}")
    link = page.locator("figure.snapshot a", has_text="Open in replay")
    assert "id_/" not in link.get_attribute("href")
    with page.context.expect_page() as popup_info:
        link.click()
    popup = popup_info.value
    said = _console(popup)
    popup.wait_for_load_state()
    popup.wait_for_timeout(SETTLE_MS)
    shot(popup, "isolation-open-in-replay")
    _assert_nothing_stolen(fresh)
    assert "/nav?" not in _heard(fresh) and "/ws?" not in _heard(fresh)
    # the page was shown in pywb's frame, its script ran and found every door shut
    assert "hostile: blocked" in said and "hostile: nothing read" in said and "hostile: read" not in said, said


def test_snapshot_frame_reads_and_sends_nothing(fresh, page):
    _login(page, fresh)
    said = _console(page)
    visited: list[str] = []  # every URL a frame showed (the page's last act is to try to navigate away)
    page.on("framenavigated", lambda f: visited.append(f.url))
    page.goto(f"{fresh.base}/activities/{fresh.ids['steal']}")
    page.wait_for_timeout(SETTLE_MS)
    _assert_nothing_stolen(fresh)
    assert _heard(fresh) == ""  # not even "nothing-read": no channel out (fetch, image, beacon, WebSocket, navigation)
    assert page.url.startswith(fresh.base + "/activities/")  # the interface page was not navigated away
    # it ran under its own site's scope (web/replay_scope.py), which opens evil.test's records and nothing else
    assert any("/o/" in u and u.endswith("mp_/http://evil.test/steal") for u in visited), visited
    assert "hostile: blocked" in said and "hostile: nothing read" in said and "hostile: read" not in said, said


@pytest.mark.parametrize("where", ["frame", "open-in-replay"])
def test_websocket_beacon_is_blocked(fresh, page, where):
    _login(page, fresh)
    page.goto(f"{fresh.base}/activities/{fresh.ids['ws']}")
    target = page
    if where == "open-in-replay":
        with page.context.expect_page() as popup_info:
            page.locator("figure.snapshot a", has_text="Open in replay").click()
        target = popup_info.value
        target.wait_for_load_state()
    target.wait_for_timeout(SETTLE_MS)
    assert "ws-beacon" not in _heard(fresh), _heard(fresh)
    result = _replay_frame(target, "/evil.test/ws").text_content("#result")
    assert result.startswith(("error", "blocked")), result  # the script ran; the socket was refused


@pytest.mark.parametrize("mode", ["id_", "mp_"])
def test_archived_set_cookie_cannot_replace_the_login(fresh, page, mode):
    before = _login(page, fresh)
    assert before and not any(v.startswith("attacker") for v in before.values())
    url = _frame_src(page, fresh, "cookie").replace("mp_/", f"{mode}/")
    resp = page.goto(url)  # as a page of its own
    assert resp.status == 200 and "Cookie setter" in resp.text()
    page.goto(f"{fresh.base}/activities/{fresh.ids['cookie']}")  # and in the snapshot frame
    page.wait_for_timeout(1000)
    after = _ui_cookies(page, fresh)
    assert not any(v.startswith("attacker") for v in after.values()), after
    assert {k: after.get(k) for k in before} == before
    page.goto(fresh.base + "/")
    assert "Reports" in page.text_content("main")  # still logged in as ourselves
    assert set(COOKIE_NAMES) >= set(before) | {"archiver_token"}
