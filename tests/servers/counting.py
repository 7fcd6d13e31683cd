"""Sites that count what they are asked: requests in flight (now and at peak) and each path's hits.

    with counting_sites(3, latency=0.2) as servers:   # 127.0.0.2, .3, .4, port 0
        servers[0].peak, servers[0].paths, servers[0].starts

``/p/<anything>`` is a small distinct page (see ``body``); any other path is a 404 page.
``stall`` (an Event) holds every /p/ answer until it is set.
"""
from __future__ import annotations

import threading
import time
from collections import Counter
from contextlib import ExitStack, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def body(path: str) -> bytes:
    return (f"<html><head><title>Page {path}</title></head><body><p>The ministry "
            f"published decree {path} on water.</p></body></html>").encode()


class CountingServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str, latency: float, stall: threading.Event | None = None):
        self.latency, self.stall = latency, stall
        self.lock = threading.Lock()
        self.inflight = self.peak = 0
        self.paths: Counter = Counter()
        self.starts: list[float] = []  # time.monotonic() at each request's arrival, in order
        self.log: list[tuple[float, str]] = []  # (that time, the path), in order
        super().__init__((host, 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):  # noqa: N802
        srv = self.server
        with srv.lock:
            srv.inflight += 1
            srv.peak = max(srv.peak, srv.inflight)
            srv.paths[self.path] += 1
            srv.starts.append(time.monotonic())
            srv.log.append((srv.starts[-1], self.path))
        try:
            time.sleep(srv.latency)
            if srv.stall is not None and self.path.startswith("/p/"):
                srv.stall.wait(30)
            if not self.path.startswith("/p/"):
                page, status = b"<html><title>not here</title><body>no such page</body></html>", 404
            else:
                page, status = body(self.path), 200
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)
        finally:
            with srv.lock:
                srv.inflight -= 1


@contextmanager
def counting_sites(n: int, latency: float, stall: threading.Event | None = None):
    with ExitStack() as stack:
        servers = []
        for i in range(n):
            srv = CountingServer(f"127.0.0.{i + 2}", latency, stall)
            threading.Thread(target=srv.serve_forever, daemon=True).start()
            stack.callback(srv.server_close)
            stack.callback(srv.shutdown)
            servers.append(srv)
        yield servers


