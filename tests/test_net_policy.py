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


# ---- every IPv6 spelling of a refused IPv4 address (issue 9: 6to4 and site-local slipped through) ----

import ipaddress  # noqa: E402

from hypothesis import given, settings as hsettings, strategies as st  # noqa: E402

NON_GLOBAL_V4 = ["127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16",
                 "100.64.0.0/10", "0.0.0.0/8", "192.0.0.0/24", "192.0.2.0/24", "198.18.0.0/15",
                 "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4", "192.88.99.0/24"]
GLOBAL_V4 = ["8.8.8.8", "93.184.216.34", "1.1.1.1", "151.101.1.69"]


def _in(net: str):
    n = ipaddress.ip_network(net)
    return st.integers(0, n.num_addresses - 1).map(lambda i: n.network_address + i)


non_global_v4 = st.sampled_from(NON_GLOBAL_V4).flatmap(_in)


def mapped(v4):
    return ipaddress.IPv6Address(0xFFFF << 32 | int(v4))


def compatible(v4):
    return ipaddress.IPv6Address(int(v4))


def translated(v4):
    return ipaddress.IPv6Address(0xFFFF << 48 | int(v4))


def six_to_four(v4, low=1):
    return ipaddress.IPv6Address(0x2002 << 112 | int(v4) << 80 | low)


def teredo(v4, server="65.54.227.120"):
    return ipaddress.IPv6Address(0x20010000 << 96 | int(ipaddress.IPv4Address(server)) << 64
                                 | 0x8000_63BF << 32 | (int(v4) ^ 0xFFFFFFFF))


def nat64(v4):
    return ipaddress.IPv6Address(0x0064FF9B << 96 | int(v4))


def nat64_local(v4):
    return ipaddress.IPv6Address(0x0064FF9B0001 << 80 | int(v4) << 16)


EMBEDDINGS = [mapped, compatible, translated, six_to_four, teredo, nat64, nat64_local]


def spellings(addr: ipaddress.IPv6Address) -> list[str]:
    """The ways a URL or DNS answer may write one IPv6 address."""
    low = int(addr) & 0xFFFFFFFF
    dotted = addr.exploded.rsplit(":", 2)[0] + ":" + str(ipaddress.IPv4Address(low))
    return [str(addr), addr.exploded, addr.exploded.upper(), dotted, str(addr) + "%eth0"]


@hsettings(max_examples=150, deadline=None)
@given(v4=non_global_v4, embed=st.sampled_from(EMBEDDINGS))
def test_every_ipv6_spelling_of_a_refused_ipv4_address_is_refused(v4, embed):
    addr = embed(v4)
    for spelled in spellings(addr):
        problem = address_problem(spelled)
        assert problem, f"{spelled} (embeds {v4}) was allowed"
        with pytest.raises(FetchRefused):
            check_address(spelled, STRICT)
    with pytest.raises(FetchRefused):
        check_url(f"http://[{addr}]:8080/x", STRICT)


@pytest.mark.parametrize("v4", GLOBAL_V4)
def test_a_global_ipv4_address_is_judged_the_same_through_mapping_nat64_and_6to4(v4):
    """These spellings lead to the IPv4 address itself; the deprecated and local ones are refused whatever
    they embed (IPv4-compatible, IPv4-translated, Teredo, local-use NAT64)."""
    v4 = ipaddress.IPv4Address(v4)
    assert address_problem(str(v4)) is None
    for embed in (mapped, nat64, six_to_four):
        assert address_problem(str(embed(v4))) is None, embed.__name__
    for embed in (compatible, translated, teredo, nat64_local):
        assert address_problem(str(embed(v4))), embed.__name__


@pytest.mark.parametrize("ip,what", [
    ("2002:7f00:1::", "6to4 address for 127.0.0.1, a loopback"), ("2002:a00:1::1", "6to4 address for 10.0.0.1"),
    ("fec0::1", "site-local"), ("fec0:1:2:3::4", "site-local"), ("feff::1", "site-local"),
    ("fc00::1", "unique-local"), ("fdff:ffff::1", "unique-local"), ("fe80::1", "link-local"),
    ("febf::1", "link-local"), ("ff02::1", "multicast"), ("ff0e::1", "multicast"), ("::", "unspecified"),
    ("::1", "loopback"), ("2001:db8::1", "documentation"), ("3fff::1", "documentation"),
    ("2001::1", "Teredo"), ("64:ff9b:1::1", "local-use NAT64"), ("64:ff9b::7f00:1", "NAT64 address for 127.0.0.1"),
    ("100::1", "discard-only"), ("2001:10::1", "IETF protocol"), ("5f00::1", "segment-routing"),
    ("4000::1", "outside 2000::/3"), ("::ffff:0:a00:1", "IPv4-translated"), ("::a00:1", "IPv4-compatible"),
    ("192.88.99.1", "6to4 relay"),
])
def test_special_purpose_ranges_are_refused_with_their_name(ip, what):
    assert what in (address_problem(ip) or "")


@pytest.mark.parametrize("ip", ["2606:4700:4700::1111", "2001:4860:4860::8888", "2a00:1450:4001:80b::200e",
                                "2002:808:808::1", "64:ff9b::808:808", "::ffff:8.8.8.8"])
def test_global_ipv6_passes(ip):
    assert address_problem(ip) is None
