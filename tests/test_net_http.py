import gzip
import socket
import threading
import time

import pytest

import archiver.net.http as http_mod
from archiver.config import FetchSettings
from archiver.errors import FetchError, FetchRefused, FetchTimeout, TooLarge
from archiver.net.http import HttpClient
from tests.servers.targets import GZIP_HTML, serve

OPEN = FetchSettings(allow_private_addresses=True, timeout_s=2, total_timeout_s=5)


@pytest.fixture(scope="module")
def site():
    with serve() as s:
        yield s


def test_loopback_refused_by_default(site):
    with HttpClient(FetchSettings()) as c, pytest.raises(FetchRefused, match="loopback"):
        with c.open(site.url("/final")):
            pass
    assert "/final" not in site.hits


def test_dns_rebinding_caught_on_the_connected_socket(site, monkeypatch):
    """Even when the pre-request check is fooled, the peer address of the socket is checked."""
    monkeypatch.setattr(http_mod, "check_url", lambda url, fetch: None)
    before = len(site.hits)
    with HttpClient(FetchSettings()) as c, pytest.raises(FetchRefused, match="127.0.0.1 is a loopback"):
        with c.open(site.url("/final")):
            pass
    assert len(site.hits) == before  # no request was sent


def test_redirects_are_not_followed(site):
    with HttpClient(OPEN) as c, c.open(site.url("/r1")) as f:
        assert f.status == 301 and f.headers["location"] == "/r2"
        assert b"".join(f.iter_raw()) == b"moved"


def test_fetched_fields_and_raw_headers(site):
    with HttpClient(OPEN, user_agent="test-agent/1") as c, c.open(site.url("/gzip.html")) as f:
        body = b"".join(f.iter_raw())
    assert f.peer_ip == "127.0.0.1" and f.http_version == "HTTP/1.1" and f.tls_chain_der is None
    assert [k for k, _ in f.raw_headers][:2] == ["Server", "Date"]
    assert f.headers["content-encoding"] == "gzip"
    assert gzip.decompress(body).decode() == GZIP_HTML  # iter_raw leaves Content-Encoding alone


def test_wire_tap_sees_exact_bytes(site):
    class Tap:
        def __init__(self):
            self.out, self.inp = b"", b""

        def sent(self, d):
            self.out += d

        def received(self, d):
            self.inp += bytes(d)

    tap = Tap()
    with HttpClient(OPEN, user_agent="tap-test") as c, c.open(site.url("/chunked.html"), tap=tap) as f:
        b"".join(f.iter_raw())
    assert tap.out.startswith(b"GET /chunked.html HTTP/1.1\r\n") and b"User-Agent: tap-test\r\n" in tap.out
    assert b"Accept-Encoding: identity\r\n" in tap.out
    assert tap.inp.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"Transfer-Encoding: chunked\r\n" in tap.inp and tap.inp.endswith(b"0\r\n\r\n")


def test_get_bytes_decodes_and_caps(site):
    with HttpClient(OPEN) as c:
        f, body = c.get_bytes(site.url("/gzip.html"))
        assert body.decode() == GZIP_HTML
        with pytest.raises(TooLarge):
            c.get_bytes(site.url("/big?bytes=50000"), max_bytes=10000)


def test_total_deadline_ends_slow_drip(site):
    fetch = FetchSettings(allow_private_addresses=True, timeout_s=2, total_timeout_s=0.6)
    start = time.monotonic()
    got = b""
    with HttpClient(fetch) as c, c.open(site.url("/slow?n=20&interval=0.2")) as f:
        with pytest.raises(FetchTimeout) as info:
            for chunk in f.iter_raw():
                got += chunk
    assert info.value.context["deadline"] is True
    assert time.monotonic() - start < 2.0
    assert got.startswith(b"drip\n")


def test_read_timeout_and_connection_errors_translated():
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(5)
    accepted = []
    threading.Thread(target=lambda: accepted.append(lsock.accept()), daemon=True).start()
    fetch = FetchSettings(allow_private_addresses=True, timeout_s=0.3)
    with HttpClient(fetch) as c:
        with pytest.raises(FetchTimeout):
            with c.open(f"http://127.0.0.1:{lsock.getsockname()[1]}/"):
                pass
        lsock.close()
        free = socket.socket()
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
        free.close()
        with pytest.raises(FetchError, match="connection failed"):
            with c.open(f"http://127.0.0.1:{port}/"):
                pass


def test_connection_reused_across_requests(site):
    with HttpClient(OPEN) as c:
        for _ in range(3):
            with c.open(site.url("/final")) as f:
                b"".join(f.iter_raw())
        pool = next(iter(c.session.get_adapter("http://x").poolmanager.pools._container.values()))
        assert pool.num_connections == 1
