"""Access control: tokens and roles, the login cookie, cross-origin posts, and `archiver serve` refusing to
expose an open archive."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import pytest
import requests

from archiver.config import load_settings
from archiver.web.app import create_app
from tests.browser.servers import serve_app
from tests.conftest import run_cli, write_config

READER, EDITOR = "r-token-0123456789", "e-token-9876543210"


@pytest.fixture
def secured(tmp_path, db_url, engine):
    cfg = write_config(tmp_path, db_url, web={"tokens": [{"token": READER, "role": "reader"},
                                                         {"token": EDITOR, "role": "editor"}]})
    settings = load_settings(cfg, env={})
    from archiver.db.session import make_sessionmaker

    def runner(*a, **k):
        from archiver.model import RunSummary
        return RunSummary(run_id=1)

    app = create_app(settings, make_sessionmaker(engine), replay_origin_url="http://127.0.0.1:9", runner=runner)
    with serve_app(app) as base:
        yield base


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_every_request_needs_a_token(secured):
    for path in ("/", "/api/reports", "/api/health", "/openapi.json", "/activities/1", "/search?q=x"):
        r = requests.get(secured + path, allow_redirects=False)
        assert r.status_code == 401, path
        assert "Content-Security-Policy" in r.headers
    assert requests.get(secured + "/api/reports", headers=bearer("wrong")).status_code == 401
    assert requests.get(secured + "/api/reports", headers=bearer(READER)).json() == []
    assert requests.get(secured + "/login").status_code == 200  # the way in stays open


def test_reader_cannot_upload_or_run_editor_can(secured):
    f = {"file": ("r.txt", b"1. Something (https://example.org/x).\n", "text/plain")}
    assert requests.post(secured + "/api/uploads", files=f, headers=bearer(READER)).status_code == 403
    assert requests.post(secured + "/api/runs", headers=bearer(READER)).status_code == 403
    assert requests.post(secured + "/upload", files=f, headers=bearer(READER)).status_code == 403
    assert requests.post(secured + "/api/runs", headers=bearer(EDITOR)).status_code == 202
    assert requests.post(secured + "/api/uploads", files=f, headers=bearer(EDITOR)).status_code == 201


def test_login_sets_a_strict_httponly_cookie(secured):
    s = requests.Session()
    bad = s.post(secured + "/login", data={"token": "nope"}, allow_redirects=False)
    assert bad.status_code == 401
    r = s.post(secured + "/login", data={"token": READER}, allow_redirects=False)
    assert r.status_code == 303
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and re.search(r"SameSite=strict", cookie, re.I)
    assert s.get(secured + "/api/reports").status_code == 200
    assert s.post(secured + "/api/runs").status_code == 403  # still a reader
    s.post(secured + "/logout")
    assert s.get(secured + "/api/reports").status_code == 401


def test_cross_origin_posts_are_refused(secured):
    h = bearer(EDITOR)
    assert requests.post(secured + "/api/runs", headers={**h, "Origin": "http://127.0.0.1:8001"}).status_code == 403
    assert requests.post(secured + "/api/runs", headers={**h, "Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert requests.post(secured + "/api/runs", headers={**h, "Origin": "null"}).status_code == 403


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "::"])
def test_serve_refuses_open_archive_off_loopback(cli, host):
    r = cli("serve", "--host", host, "--port", "0")
    assert r.code == 2
    assert r.err.strip().count("\n") == 0 and "web.tokens" in r.err and "Traceback" not in r.err


def test_serve_starts_both_servers_and_stops_on_sigterm(tmp_path):
    config_file = write_config(tmp_path, f"sqlite:///{(tmp_path / 'archiver.db').as_posix()}")  # not about the DB
    assert run_cli(["init"], config_file).code == 0
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    proc = subprocess.Popen([sys.executable, "-m", "archiver", "--config", str(config_file), "serve",
                             "--port", "0", "--replay-port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, text=True)
    try:
        lines = [proc.stdout.readline() for _ in range(2)]
        ui = re.search(r"http://127\.0\.0\.1:\d+", lines[0]).group(0)
        replay = re.search(r"http://127\.0\.0\.1:\d+", lines[1]).group(0)
        assert ui != replay
        r = requests.get(ui + "/", timeout=10)
        assert r.status_code == 200 and f"frame-src {replay}" in r.headers["Content-Security-Policy"]
        assert requests.get(replay + "/cdx/search/cdx?url=example.org&output=json", timeout=10).json() == []
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        with pytest.raises(requests.ConnectionError):
            requests.get(replay + "/cdx/search/cdx?url=x", timeout=2)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
