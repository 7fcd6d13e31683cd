"""The whole stack for browser tests: the interface (uvicorn, a thread) and the replay origin (pywb, a process)
over the evidence fixture, plus headless Debian Chromium driven by Playwright."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from archiver.config import load_settings
from archiver.db import migrate
from archiver.db.session import make_engine, make_sessionmaker
from archiver.web.app import create_app
from archiver.web.replay import ReplayServer
from tests.conftest import write_config

from .evidence import build
from .servers import free_socket, serve_app

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync",
        # no DNS query leaves the machine: every name but localhost fails (archived pages name other hosts)
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"]
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


class Stack:
    def __init__(self, base, replay, settings, Session, ids, app):
        self.base, self.replay, self.settings, self.Session, self.ids, self.app = (
            base, replay, settings, Session, ids, app)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("web")
    settings = load_settings(write_config(tmp, f"sqlite:///{(tmp / 'archiver.db').as_posix()}"), env={})
    engine = make_engine(settings)
    migrate.upgrade(engine)
    Session = make_sessionmaker(engine)
    sock = free_socket()
    ui_origin = f"http://127.0.0.1:{sock.getsockname()[1]}"
    ids = build(Session, settings.storage.root, ui_origin=ui_origin)
    with ReplayServer(settings.storage.root, "127.0.0.1", 0, ui_origin=ui_origin) as replay:
        app = create_app(settings, Session, replay_origin_url=replay.origin)
        with serve_app(app, sock=sock) as base:
            yield Stack(base, replay, settings, Session, ids, app)
    engine.dispose()


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium); "
                    "browser tests never download a browser")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1366, "height": 900})
    pg = ctx.new_page()
    pg.set_default_timeout(15_000)
    yield pg
    ctx.close()


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.fixture(scope="session")
def scripted_capture(tmp_path_factory):
    """Script-built pages (tests/servers/scripted.py: /shell.html, activity 1; /post.html, activity 2) captured by
    `archiver run` through the browser, once per session; the site is gone afterwards, so replay can only answer
    from the WARC."""
    from tests.servers.scripted import scripted_site

    from .captured import capture_pages

    with scripted_site() as site:
        url, post = site.url("/shell.html"), site.url("/post.html")
        captured = capture_pages(tmp_path_factory.mktemp("scripted"), [url, post],
                                 web={"tokens": [{"token": SCRIPTED_TOKEN, "role": "reader"}]})
    captured.page, captured.post_page = url, post
    return captured


SCRIPTED_TOKEN = "scripted-replay-Vq3Lm8Xr2Tn6Kw9Zb4"
