"""SSRF policy: may this URL / this connected address be fetched?

Reports are untrusted input: a cited link may point at 127.0.0.1, the cloud
metadata address or an intranet host. Schemes other than http/https are
refused, and so is every address that is not globally routable, unless
``fetch.allow_private_addresses`` is set (tests, intranets). The check runs on
the URL before a request (after DNS) *and* on the connected socket's peer
address (net/http.py), so DNS rebinding between the two cannot slip through.
"""
from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from ..config import FetchSettings
from ..errors import FetchError, FetchRefused

ALLOWED_SCHEMES = ("http", "https")
_N = ipaddress.ip_network
_REFUSED_V4 = (
    (_N("100.64.0.0/10"), "a shared (carrier-grade NAT) address"),  # RFC 6598
    (_N("192.88.99.0/24"), "a 6to4 relay anycast address (deprecated, RFC 7526)"),  # relays anywhere
    (_N("192.0.0.0/24"), "an IETF protocol assignment (RFC 6890)"),  # Python versions disagree on parts
)

# IPv6 spellings that lead to an IPv4 address: (prefix, what, where the IPv4 address sits).
# The embedded address decides: refused when it would be (6to4 to 127.0.0.1 is loopback).
_EMBEDDING = (
    (_N("::ffff:0:0/96"), "an IPv4-mapped address", lambda a: a.ipv4_mapped),
    (_N("64:ff9b::/96"), "a NAT64 address", lambda a: ipaddress.IPv4Address(int(a) & 0xFFFFFFFF)),  # RFC 6052
    (_N("2002::/16"), "a 6to4 address", lambda a: a.sixtofour),  # RFC 3056: bits 16-47
)
# IPv6 ranges refused whatever they embed: tunnels and translations whose far end we cannot
# judge, deprecated and local scopes, and what is not routable on the internet (IANA IPv6
# special-purpose registry). Checked by hand: Python's is_private/is_global differ between versions.
_REFUSED_V6 = (
    (_N("::/128"), "an unspecified address"),
    (_N("::1/128"), "a loopback address"),
    (_N("::/96"), "an IPv4-compatible address (deprecated, RFC 4291)"),
    (_N("::ffff:0:0:0/96"), "an IPv4-translated address (RFC 2765)"),
    (_N("64:ff9b:1::/48"), "a local-use NAT64 address (RFC 8215)"),
    (_N("100::/64"), "a discard-only address (RFC 6666)"),
    (_N("2001::/32"), "a Teredo address (RFC 4380)"),
    (_N("2001::/23"), "an IETF protocol assignment (RFC 2928)"),
    (_N("2001:db8::/32"), "a documentation address (RFC 3849)"),
    (_N("3fff::/20"), "a documentation address (RFC 9637)"),
    (_N("5f00::/16"), "a segment-routing address (RFC 9602)"),
    (_N("fc00::/7"), "a unique-local (private) address"),
    (_N("fe80::/10"), "a link-local address"),
    (_N("fec0::/10"), "a site-local address (deprecated, RFC 3879)"),
    (_N("ff00::/8"), "a multicast address"),
)
_GLOBAL_UNICAST = _N("2000::/3")  # all the global unicast space IANA allocates today


def _ipv6_problem(addr: ipaddress.IPv6Address) -> str | None:
    """Why an IPv6 address is refused, or None when it is global unicast (an embedded IPv4
    address is judged before: see address_problem)."""
    for net, what in _REFUSED_V6:
        if addr in net:
            return what
    if addr not in _GLOBAL_UNICAST:
        return "not a globally routable address (outside 2000::/3)"
    return None


def address_problem(ip: str) -> str | None:
    """Why this address may not be fetched ("a private address"), or None when it is global.

    Every IPv6 spelling of an IPv4 address (mapped, NAT64, 6to4) is judged by that IPv4
    address; other IPv6 ranges that are not global unicast are refused (``_REFUSED_V6``)."""
    try:
        addr = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return "not an IP address"
    if isinstance(addr, ipaddress.IPv6Address):
        for net, what, v4 in _EMBEDDING:
            if addr in net:
                inner = v4(addr)
                problem = address_problem(str(inner))
                return f"{what} for {inner}, {problem}" if problem else None
        problem = _ipv6_problem(addr)
        if problem:
            return problem
    checks = (
        (addr.is_unspecified, "an unspecified address"),
        (addr.is_loopback, "a loopback address"),
        (addr.is_link_local, "a link-local address"),
        (addr.is_multicast, "a multicast address"),
        *((isinstance(addr, ipaddress.IPv4Address) and addr in net, what) for net, what in _REFUSED_V4),
        (addr.is_reserved, "a reserved address"),
        (addr.is_private, "a private address"),
        (not addr.is_global, "not a globally routable address"),
    )
    for hit, what in checks:
        if hit:
            return what
    return None


def check_address(ip: str, fetch: FetchSettings, *, url: str | None = None) -> None:
    """Raise FetchRefused when ``ip`` may not be contacted under this policy."""
    if fetch.allow_private_addresses:
        return
    problem = address_problem(ip)
    if problem:
        raise FetchRefused(f"refused: {ip} is {problem}", url=url, address=ip)


def check_scheme(url: str) -> str:
    """Return the host of ``url``; raise FetchRefused for other schemes or no host."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise FetchRefused(f"refused: not a valid URL ({exc})", url=url) from exc
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        raise FetchRefused(f"refused: scheme {parts.scheme or '(none)'!r} is not http or https", url=url)
    if not host:
        raise FetchRefused("refused: the URL has no host", url=url)
    return host


def resolve_host(host: str, *, url: str | None = None) -> list[str]:
    """All addresses DNS gives for ``host`` (an IP literal resolves to itself)."""
    try:
        infos = socket.getaddrinfo(host, 80, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError(f"cannot resolve host {host!r} ({exc})", url=url, kind="dns") from exc
    return sorted({info[4][0] for info in infos})


def check_url(url: str, fetch: FetchSettings) -> None:
    """Raise FetchRefused unless ``url`` is http(s) and every address its host resolves to is allowed."""
    host = check_scheme(url)
    if fetch.allow_private_addresses:
        return
    for ip in resolve_host(host, url=url):
        check_address(ip, fetch, url=url)
