"""Test helpers around the simulated web (archiver.simweb): the shorteners and target site
live in the package because `archiver demo` serves them too."""
from __future__ import annotations

import socket

from archiver.simweb import SimWeb

__all__ = ["SimWeb", "closed_port_url"]


def closed_port_url(path: str = "/x") -> str:
    """A URL on 127.0.0.1 where nothing listens (a port just released), for network-error tests."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"
