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
_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT (RFC 6598)


def address_problem(ip: str) -> str | None:
    """Why this address may not be fetched ("a private address"), or None when it is global."""
    try:
        addr = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return "not an IP address"
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return address_problem(str(addr.ipv4_mapped))
    checks = (
        (addr.is_unspecified, "an unspecified address"),
        (addr.is_loopback, "a loopback address"),
        (addr.is_link_local, "a link-local address"),
        (addr.is_multicast, "a multicast address"),
        (isinstance(addr, ipaddress.IPv4Address) and addr in _SHARED, "a shared (carrier-grade NAT) address"),
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
        raise FetchError(f"cannot resolve host {host!r} ({exc})", url=url) from exc
    return sorted({info[4][0] for info in infos})


def check_url(url: str, fetch: FetchSettings) -> None:
    """Raise FetchRefused unless ``url`` is http(s) and every address its host resolves to is allowed."""
    host = check_scheme(url)
    if fetch.allow_private_addresses:
        return
    for ip in resolve_host(host, url=url):
        check_address(ip, fetch, url=url)
