"""Short link -> final URL. Live resolution hop by hop (``live``), goo.gl specifics (``googl``),
HTML/JS redirects (``html_redirects``); archive fallbacks live beside them.

Which hosts are shorteners is configuration (``resolver.shorteners``: ``host`` or
``host:port``). An entry without a port matches the host on any port; one with a port
matches only that port (the scheme's default when the URL has none), so tests can
declare ``127.0.0.1:PORT`` a shortener without making every local server one.
``www.`` in front of a listed host is the same host (reference §7 step 0).
"""
from __future__ import annotations

from urllib.parse import urlsplit

from ..config import Settings

_DEFAULT_PORTS = {"http": 80, "https": 443}


def _split_entry(entry: str) -> tuple[str, int | None]:
    entry = entry.strip().lower()
    if entry.startswith("["):  # [v6]:port
        host, _, rest = entry[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
    host, sep, port = entry.rpartition(":")
    if sep and port.isdigit() and ":" not in host:
        return host, int(port)
    return entry, None


def host_port(url: str) -> tuple[str, int | None]:
    """(lower-case host without ``www.``, effective port) of a URL; ("", None) when it has none."""
    try:
        parts = urlsplit(url.strip())
        host, port = (parts.hostname or "").lower().rstrip("."), parts.port
    except ValueError:
        return "", None
    if port is None:
        port = _DEFAULT_PORTS.get(parts.scheme.lower())
    return host.removeprefix("www."), port


def is_shortener(url: str, settings: Settings) -> bool:
    """Is ``url`` on a host listed in ``resolver.shorteners``?"""
    host, port = host_port(url)
    if not host:
        return False
    for entry in settings.resolver.shorteners:
        e_host, e_port = _split_entry(entry)
        if e_host.removeprefix("www.") == host and (e_port is None or e_port == port):
            return True
    return False


def resolve_live(*args, **kwargs):
    """See :func:`archiver.resolve.live.resolve_live` (imported lazily: it pulls in the capture stack)."""
    from .live import resolve_live as _resolve_live
    return _resolve_live(*args, **kwargs)


__all__ = ["host_port", "is_shortener", "resolve_live"]
