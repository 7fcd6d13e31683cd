import pytest

from archiver.config import FetchSettings
from archiver.errors import FetchRefused
from archiver.net.policy import address_problem, check_address, check_url

STRICT = FetchSettings()
OPEN = FetchSettings(allow_private_addresses=True)


@pytest.mark.parametrize("ip,what", [
    ("10.0.0.5", "private"), ("172.16.3.4", "private"), ("192.168.1.1", "private"),
    ("127.0.0.1", "loopback"), ("::1", "loopback"), ("0.0.0.0", "unspecified"), ("::", "unspecified"),
    ("169.254.169.254", "link-local"), ("fe80::1", "link-local"), ("224.0.0.1", "multicast"),
    ("ff02::1", "multicast"), ("fc00::1", "private"), ("fd12:3456::1", "private"),
    ("100.64.0.1", "shared"), ("240.0.0.1", "reserved"), ("::ffff:127.0.0.1", "loopback"),
    ("::ffff:10.1.2.3", "private"),
])
def test_non_global_addresses_are_refused(ip, what):
    assert what in address_problem(ip)
    with pytest.raises(FetchRefused, match=f"refused: {ip.replace('.', '[.]')} is"):
        check_address(ip, STRICT)
    check_address(ip, OPEN)  # allowed when configured


@pytest.mark.parametrize("ip", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_global_addresses_pass(ip):
    assert address_problem(ip) is None
    check_address(ip, STRICT)


def test_readable_reason():
    with pytest.raises(FetchRefused) as info:
        check_url("http://10.0.0.5/x", STRICT)
    assert str(info.value) == "refused: 10.0.0.5 is a private address"
    assert info.value.url == "http://10.0.0.5/x"


@pytest.mark.parametrize("url", ["ftp://example.org/x", "file:///etc/passwd", "gopher://a/", "javascript:alert(1)",
                                 "http:///nohost", "http://[::1"])
def test_bad_schemes_and_urls_refused_even_when_private_allowed(url):
    with pytest.raises(FetchRefused):
        check_url(url, OPEN)


def test_hostname_resolving_to_loopback_is_refused():
    with pytest.raises(FetchRefused, match="127.0.0.1 is a loopback address"):
        check_url("http://localhost:8080/", STRICT)
    check_url("http://localhost:8080/", OPEN)


def test_ip_literals_checked():
    with pytest.raises(FetchRefused):
        check_url("http://[::ffff:169.254.169.254]/latest/meta-data", STRICT)
    with pytest.raises(FetchRefused):
        check_url("http://0.0.0.0:80/", STRICT)


def test_tests_resolve_no_outside_names():
    """The suite's guard: an outside name fails as offline, without a DNS query leaving the machine."""
    import socket

    import pytest as _pytest

    with _pytest.raises(socket.gaierror):
        socket.getaddrinfo("goo.gl", 443)
    assert socket.getaddrinfo("localhost", 80)
