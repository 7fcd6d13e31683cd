"""A shortener host that cannot be reached, in the ways real ones cannot (raw TCP on 127.0.0.1, port 0).

Modes (``mode`` may be changed while it runs, e.g. to bring the shortener back):

* ``reset``: reads the request, then closes with SO_LINGER 0, so the client gets a TCP RST;
* ``stall``: accepts and reads the request, then answers nothing for ``stall_s`` seconds;
* ``tls``: answers the TLS ClientHello with a fatal ``handshake_failure`` alert (what a server
  that shares no cipher suite or protocol version with the client sends), then closes;
* ``redirect``: a working server: ``302`` to ``targets[path]``, ``200`` with ``pages[path]``
  (HTML), ``404`` for unknown paths (a shortener back, a site back).

A closed port and a name that does not resolve need no server: see ``closed_port_url`` in
tests/servers/shortener.py and the DNS guard in tests/conftest.py.
"""
from __future__ import annotations

import socket
import struct
import threading
import time

TLS_HANDSHAKE_FAILURE = bytes([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28])  # alert(21), TLS 1.2, fatal(2), 40


class Unreachable:
    def __init__(self, mode: str, *, stall_s: float = 15.0, targets: dict[str, str] | None = None,
                 pages: dict[str, bytes] | None = None):
        self.mode = mode
        self.stall_s = stall_s
        self.targets = dict(targets or {})
        self.pages = dict(pages or {})
        self.connections = 0
        self._stop = threading.Event()
        self._clients: list[socket.socket] = []
        self._lock = threading.Lock()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self._sock.settimeout(0.1)
        self.port = self._sock.getsockname()[1]

    @property
    def base(self) -> str:
        return f"{'https' if self.mode == 'tls' else 'http'}://127.0.0.1:{self.port}"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> "Unreachable":
        self._thread = threading.Thread(target=self._accept, name=f"unreachable-{self.mode}", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()
        with self._lock:
            for c in self._clients:
                try:
                    c.close()
                except OSError:
                    pass

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (socket.timeout, OSError):
                continue
            with self._lock:
                self.connections += 1
                self._clients.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _read_request(self, conn: socket.socket) -> bytes:
        conn.settimeout(5)
        data = b""
        try:
            while b"\r\n\r\n" not in data and len(data) < 65536:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk
                if self.mode == "tls":
                    break  # a ClientHello, not an HTTP request
        except OSError:
            pass
        return data

    def _serve(self, conn: socket.socket) -> None:
        mode = self.mode
        request = self._read_request(conn)
        try:
            if mode == "reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            elif mode == "stall":
                deadline = time.monotonic() + self.stall_s
                while time.monotonic() < deadline and not self._stop.is_set():
                    time.sleep(0.05)
            elif mode == "tls":
                conn.sendall(TLS_HANDSHAKE_FAILURE)
            elif mode == "redirect":
                path = request.split(b" ", 2)[1].decode("latin-1") if request.count(b" ") >= 2 else "/"
                target, page = self.targets.get(path.lstrip("/")), self.pages.get(path.lstrip("/"))
                if target:
                    conn.sendall(f"HTTP/1.1 302 Found\r\nLocation: {target}\r\nContent-Length: 0\r\n"
                                 "Connection: close\r\n\r\n".encode("latin-1"))
                elif page is not None:
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: "
                                 + str(len(page)).encode() + b"\r\nConnection: close\r\n\r\n" + page)
                else:
                    body = b"<html><body>Not found</body></html>"
                    conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: "
                                 + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
        except OSError:
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass
