"""Access control on the interface: tokens and roles, the login session cookie, cross-origin posts, Host names
(DNS rebinding), strong tokens, slowing down wrong ones per client address, and `archiver serve` refusing to
expose an open archive."""
from __future__ import annotations

import http.client
import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from archiver.config import load_settings
from archiver.web.access import Access, default_hosts, host_name, token_problem
from archiver.web.app import create_app
from archiver.web.throttle import client_key
from tests.browser.servers import serve_app
from tests.conftest import write_config

READER, EDITOR = "r-Vq8Lk2Tz9Xw4Np7Hs3Fj6Gd", "e-Mb5Rc1Yu8Ke3Wq6Zt9Ap2Lx"


def _secured_app(tmp_path, db_url, engine, **web):
    cfg = write_config(tmp_path, db_url, name="secured.yaml", web={
        "tokens": [{"token": READER, "role": "reader"}, {"token": EDITOR, "role": "editor"}], **web})
    settings = load_settings(cfg, env={})
    from archiver.db.session import make_sessionmaker

    def runner(*a, **k):
        from archiver.model import RunSummary
        return RunSummary(run_id=1)

    return create_app(settings, make_sessionmaker(engine), replay_origin_url="http://127.0.0.1:9", runner=runner)


@pytest.fixture
def secured(tmp_path, db_url, engine):
    with serve_app(_secured_app(tmp_path, db_url, engine)) as base:
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


def _set_cookie(resp) -> tuple[str, str, str]:
    raw = resp.headers["Set-Cookie"]
    name, _, rest = raw.partition("=")
    value, _, attrs = rest.partition(";")
    return name, value, attrs


def test_login_sets_a_host_only_httponly_session_cookie(secured):
    bad = requests.post(secured + "/login", data={"token": "nope"}, allow_redirects=False)
    assert bad.status_code == 401 and "Set-Cookie" not in bad.headers
    r = requests.post(secured + "/login", data={"token": READER}, allow_redirects=False)
    assert r.status_code == 303
    name, value, attrs = _set_cookie(r)
    # loopback is a secure context for browsers: the __Host- prefix (Secure, Path=/, no Domain) holds
    assert name == "__Host-archiver"
    assert re.search(r"\bSecure\b", attrs) and re.search(r"\bHttpOnly\b", attrs)
    assert re.search(r"SameSite=strict", attrs, re.I) and re.search(r"Path=/(;|$)", attrs)
    assert "domain" not in attrs.lower()
    assert READER not in value  # a signed session, never the token (cookies reach every port of the host)
    jar = {"Cookie": f"{name}={value}"}
    assert requests.get(secured + "/api/reports", headers=jar).status_code == 200
    assert requests.post(secured + "/api/runs", headers=jar).status_code == 403  # still a reader
    forged = value[:-2] + ("AA" if not value.endswith("AA") else "BB")
    assert requests.get(secured + "/api/reports", headers={"Cookie": f"{name}={forged}"}).status_code == 401
    # the name an archived Set-Cookie could have used once is no credential at all
    assert requests.get(secured + "/api/reports", headers={"Cookie": f"archiver_token={READER}"}).status_code == 401
    out = requests.post(secured + "/logout", headers=jar, allow_redirects=False)
    assert out.headers["Set-Cookie"].startswith("__Host-archiver=") and "Max-Age=0" in out.headers["Set-Cookie"]


def test_plain_http_off_loopback_gets_a_cookie_without_secure(tmp_path, db_url, engine):
    """Browsers refuse Secure cookies over plain http off loopback: the session there is archiver_session."""
    app = _secured_app(tmp_path, db_url, engine, allowed_hosts=["archive.example.org"])
    with serve_app(app) as base:
        r = requests.post(base + "/login", data={"token": EDITOR}, allow_redirects=False,
                          headers={"Host": "archive.example.org"})
        name, value, attrs = _set_cookie(r)
        assert name == "archiver_session" and "secure" not in attrs.lower() and "HttpOnly" in attrs
        ok = requests.get(base + "/api/reports", headers={"Host": "archive.example.org",
                                                          "Cookie": f"{name}={value}"})
        assert ok.status_code == 200


def test_cross_origin_posts_are_refused(secured):
    h = bearer(EDITOR)
    assert requests.post(secured + "/api/runs", headers={**h, "Origin": "http://127.0.0.1:8001"}).status_code == 403
    assert requests.post(secured + "/api/runs", headers={**h, "Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert requests.post(secured + "/api/runs", headers={**h, "Origin": "null"}).status_code == 403


# ---- DNS rebinding: the Host header -------------------------------------------------------------

@pytest.mark.parametrize("auth", ["open", "tokens"])
def test_a_foreign_host_name_is_refused(tmp_path, db_url, engine, auth):
    """The rebinding attack of issue 9: an upload got 201 and a run 202 with Host and Origin of evil.example."""
    if auth == "open":
        from archiver.db.session import make_sessionmaker
        from archiver.model import RunSummary

        cfg = write_config(tmp_path, db_url, name="open.yaml")
        app = create_app(load_settings(cfg, env={}), make_sessionmaker(engine), replay_origin_url="http://127.0.0.1:9",
                         runner=lambda *a, **k: RunSummary(run_id=1))
    else:
        app = _secured_app(tmp_path, db_url, engine)
    evil = {"Host": "rebind.evil.example:8000", "Origin": "http://rebind.evil.example:8000"}
    creds = bearer(EDITOR) if auth == "tokens" else {}
    f = {"file": ("r.txt", b"1. Something (https://example.org/x).\n", "text/plain")}
    with serve_app(app) as base:
        for method, path, kw in (("post", "/api/uploads", {"files": f}), ("post", "/api/runs", {}),
                                 ("post", "/upload", {"files": f}), ("get", "/", {}), ("get", "/api/reports", {}),
                                 ("get", "/login", {})):
            r = getattr(requests, method)(base + path, headers={**creds, **evil}, allow_redirects=False, **kw)
            assert r.status_code == 400, (path, r.status_code)
            assert "unknown host" in r.text
        for host in ("127.0.0.1", "localhost", f"127.0.0.1:{base.rsplit(':', 1)[1]}", "[::1]:8000", "LOCALHOST."):
            r = requests.get(base + "/api/reports", headers={**creds, "Host": host})
            assert r.status_code == 200, host
        assert requests.post(base + "/api/runs", headers={**creds, "Host": "localhost",
                                                          "Origin": "http://localhost"}).status_code == 202


def test_allowed_host_names_come_from_the_bind_address_or_the_config(tmp_path):
    assert host_name("[::1]:8000") == "::1" and host_name("Example.ORG.:80") == "example.org"
    loop = Access.open("127.0.0.1")
    assert loop.host_allowed("localhost:8000") and loop.host_allowed("127.0.0.1")
    assert not loop.host_allowed("192.0.2.1") and not loop.host_allowed("evil.example") and not loop.host_allowed("")
    names, any_ip = default_hosts("0.0.0.0")
    assert any_ip and "localhost" in names
    wild = Access.open("0.0.0.0")
    # a rebinding attack always comes with the attacker's own name; an address literal cannot be rebound
    assert wild.host_allowed("192.0.2.7:8000") and wild.host_allowed("[2001:db8::1]:8000")
    assert not wild.host_allowed("rebind.evil.example")
    one = Access.open("192.0.2.10")
    assert one.host_allowed("192.0.2.10:8000") and not one.host_allowed("192.0.2.11")
    cfg = write_config(tmp_path, "sqlite://", web={"allowed_hosts": ["archive.example.org"]})
    conf = Access.for_serving(load_settings(cfg, env={}), "0.0.0.0")
    assert conf.host_allowed("archive.example.org") and not conf.host_allowed("192.0.2.7")


# ---- strong tokens, slowed-down failures ---------------------------------------------------------

@pytest.mark.parametrize("token", ["a", "abc", "0123456789abcdef", "passwordpassword", "r-token-0123456789",
                                   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"])
def test_weak_tokens_are_refused(token):
    assert token_problem(token)


@pytest.mark.parametrize("token", [READER, EDITOR, "SNqyBM2Oy9T-DzQPpLB7q7Y-0S4UI6hC3pdSwrUYS6Y",
                                   "b3eb689751e32e27060bdca7e837514c"])
def test_random_tokens_are_strong(token):
    assert token_problem(token) is None


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0"])
def test_serve_refuses_a_weak_token_in_one_line(tmp_path, db_url, host):
    from tests.conftest import run_cli

    cfg = write_config(tmp_path, db_url, name="weak.yaml",
                       web={"tokens": [{"token": EDITOR, "role": "editor"}, {"token": "x", "role": "reader"}]})
    assert run_cli(["init"], cfg).code == 0
    r = run_cli(["serve", "--host", host, "--port", "0", "--replay-port", "0"], cfg)
    assert r.code == 2 and "Traceback" not in r.err
    assert r.err.strip().count("\n") == 0, r.err
    assert "web.tokens entry 2 (reader)" in r.err and "shorter than 16" in r.err and "secrets.token_urlsafe" in r.err


def _login_from(base: str, source: str, token: str) -> int:
    port = int(base.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    try:
        conn.request("POST", "/login", body=f"token={token}",
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def test_wrong_logins_slow_down_per_client_address(secured):
    """Issue 9: 300 wrong tries took 3.3 s. Now a client address gets 10 looked at, then 429 + Retry-After,
    whatever it sends, right token included; another address is not affected."""
    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda i: _login_from(secured, "127.0.0.1", f"guess-{i:04d}"), range(300)))
    elapsed = time.monotonic() - started
    checked = codes.count(401)
    assert checked <= 10 and codes.count(429) == 300 - checked, codes
    print(f"300 wrong logins in {elapsed:.2f} s: {checked} checked, {codes.count(429)} answered 429")
    assert _login_from(secured, "127.0.0.1", EDITOR) == 429  # no oracle while blocked
    r = requests.post(secured + "/login", data={"token": "again"})
    assert r.status_code == 429 and 50 <= int(r.headers["Retry-After"]) <= 60
    assert _login_from(secured, "127.0.0.2", EDITOR) == 303  # another client address logs in
    assert _login_from(secured, "127.0.0.2", "wrong") == 401


def test_wrong_bearer_tokens_slow_down_too(secured):
    codes = [requests.get(secured + "/api/reports", headers=bearer(f"guess-{i}")).status_code for i in range(40)]
    assert codes[:10] == [401] * 10 and set(codes[10:]) == {429}
    assert requests.get(secured + "/api/reports", headers=bearer(READER)).status_code == 429
    assert client_key("2001:db8::1") == client_key("2001:db8::2") == "2001:db8::/64"
    assert client_key("::ffff:192.0.2.1") == "192.0.2.1"


# ---- `archiver serve` -----------------------------------------------------------------------------

@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "::"])
def test_serve_refuses_open_archive_off_loopback(cli, host):
    r = cli("serve", "--host", host, "--port", "0")
    assert r.code == 2
    assert r.err.strip().count("\n") == 0 and "web.tokens" in r.err and "Traceback" not in r.err
