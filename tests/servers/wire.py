"""A raw-socket HTTP server for tests: it sends exactly the bytes a test scripts, as a real
(or hostile) server would, which HTTP libraries will not.

    with WireServer() as srv:
        srv.route("/p", Reply([head, b"5\\r\\nhello\\r\\n", b"0\\r\\n\\r\\n"], pause_s=0.01))
        srv.url("/p")

Each write is its own ``sendall`` with TCP_NODELAY, so write boundaries become TCP segment
boundaries; ``pause_s`` sleeps between writes. After the writes the connection is kept for
the next request (``then="keep"``), closed (``"close"``: a close-delimited body ends here),
reset with an RST (``"reset"``), or left open and silent (``"stall"``, until the server
stops). A route may be a callable ``(path, request_bytes) -> Reply``.
"""
from __future__ import annotations

import gzip
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Union

Route = Union["Reply", Callable[[str, bytes], "Reply"]]


@dataclass
class Reply:
    writes: list[bytes]
    pause_s: float = 0.0
    then: str = "keep"  # keep | close | reset | stall


@dataclass
class WireServer:
    host: str = "127.0.0.1"
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[bytes] = field(default_factory=list)

    def __post_init__(self):
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((self.host, 0))
        self._sock.listen(64)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def route(self, path: str, reply: Route) -> str:
        self.routes[path] = reply
        return self.url(path)

    def __enter__(self) -> "WireServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._sock.close()
        with self._lock:
            for c in self._conns:
                try:
                    c.close()
                except OSError:
                    pass

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buf = b""
        try:
            while not self._stop.is_set():
                while b"\r\n\r\n" not in buf:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                head, _, buf = buf.partition(b"\r\n\r\n")
                self.requests.append(head)
                path = head.split(b" ", 2)[1].decode("latin-1") if b" " in head else "/"
                route = self.routes.get(path) or self.routes.get(path.split("?", 1)[0])
                if route is None:
                    reply = Reply([b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"])
                else:
                    reply = route(path, head) if callable(route) else route
                for i, w in enumerate(reply.writes):
                    if i and reply.pause_s:
                        time.sleep(reply.pause_s)
                    conn.sendall(w)
                if reply.then == "close":
                    conn.shutdown(socket.SHUT_WR)
                    return
                if reply.then == "reset":
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    return
                if reply.then == "stall":
                    self._stop.wait()
                    return
        except OSError:
            return
        finally:
            try:
                conn.close()
            except OSError:
                pass


# ---- building bodies --------------------------------------------------------------------------

def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    """``data`` cut at the given offsets (sorted, de-duplicated, in range)."""
    points = sorted({c for c in cuts if 0 < c < len(data)})
    out, prev = [], 0
    for p in points + [len(data)]:
        out.append(data[prev:p])
        prev = p
    return [x for x in out if x] or [data]


def chunked(body: bytes, sizes: list[int], *, extension: bytes = b"", trailers: bytes = b"",
            upper_hex: bool = False) -> bytes:
    """``body`` in chunks of the given sizes (cycled; the rest in one), then the last chunk."""
    out, pos, i = bytearray(), 0, 0
    while pos < len(body):
        n = max(1, sizes[i % len(sizes)]) if sizes else len(body)
        piece = body[pos:pos + n]
        size = f"{len(piece):X}" if upper_hex else f"{len(piece):x}"
        out += size.encode() + extension + b"\r\n" + piece + b"\r\n"
        pos += len(piece)
        i += 1
    out += b"0" + extension + b"\r\n" + trailers + b"\r\n"
    return bytes(out)


def encode(body: bytes, coding: str | None) -> bytes:
    if coding == "gzip":
        return gzip.compress(body, mtime=0)
    if coding == "br":
        import brotli
        return brotli.compress(body)
    return body


def response_head(status: str = "200 OK", headers: list[tuple[str, str]] = ()) -> bytes:
    lines = [f"HTTP/1.1 {status}"] + [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
