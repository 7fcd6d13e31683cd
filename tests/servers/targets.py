"""A local target site for capture tests and benchmarks (threaded, 127.0.0.x, port 0).

    with serve() as site:                   # site.url("/page.html")
        with serve(other=site.base) as b:   # pages on b reference images on site

Paths: /page.html (requisites: img, srcset, css with url() and @import, font,
script, icon, <style>, an image from ``other``), /style.css, /more.css, /img.png,
/bg.gif, /font.woff2, /app.js, /icon.ico, /doc.pdf, /gzip.html (Content-Encoding:
gzip whatever was asked), /chunked.html (Transfer-Encoding: chunked),
/cp1251.html (windows-1251), /404, /500, /slow?n=&interval= (drips one line per
interval), /big?bytes= (streamed, generated), /r1 → 301 /r2 → 302 /final,
/loop1 ⇄ /loop2, /redirect?to=URL (302 anywhere), /n/<anything> (a small
distinct page per path, for benchmarks). ``latency`` delays every response.
"""
from __future__ import annotations

import gzip
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator
from urllib.parse import parse_qs, urlsplit

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")
GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
       b"trailer<</Root 1 0 R>>\n%%EOF\n")
CSS = b"@font-face{font-family:x;src:url('/font.woff2') format('woff2')}\n.hero{background:url(\"/bg.gif\")}\n"
MORE_CSS = b".more{background-image:url(img.png)}\n"
GZIP_HTML = "<html><head><title>Gzip page</title></head><body><p>Compressed evidence text.</p></body></html>"
CHUNKS = [b"<html><head><title>Chunked</title></head><body>", b"<p>first part</p>", b"<p>second part</p>",
          b"</body></html>"]
CP1251_HTML = "<html><head><meta charset=windows-1251><title>Отчёт</title></head><body><p>Привет, мир</p></body></html>"
BIG_BLOCK = bytes((i * 7919 + (i >> 8) * 31) & 0xFF for i in range(16384))


def page_html(other: str | None) -> bytes:
    extra = f'<img src="{other}/img.png" alt="other host">' if other else ""
    return f"""<!doctype html><html><head><title>Evidence page</title>
<link rel="stylesheet" href="/style.css"><link rel="icon" href="/icon.ico">
<style>@import "/more.css"; body {{ background: url(/bg.gif) }}</style>
<script src="/app.js"></script></head>
<body><h1>Evidence</h1><p>The ministry published the plan.</p>
<img src="/img.png" srcset="/img.png 1x, /img2.png 2x">{extra}
<a href="/doc.pdf">the plan (PDF)</a></body></html>""".encode()


STATIC = {
    "/style.css": ("text/css", CSS), "/more.css": ("text/css", MORE_CSS), "/img.png": ("image/png", PNG),
    "/img2.png": ("image/png", PNG + b"2x"), "/bg.gif": ("image/gif", GIF),
    "/font.woff2": ("font/woff2", b"wOF2fakefontdata"), "/app.js": ("text/javascript", b"console.log('hi');\n"),
    "/icon.ico": ("image/x-icon", b"\x00\x00\x01\x00icon"), "/doc.pdf": ("application/pdf", PDF),
    "/final": ("text/html; charset=utf-8", b"<html><body>final page</body></html>"),
    "/cp1251.html": ("text/html; charset=windows-1251", CP1251_HTML.encode("cp1251")),
}
REDIRECTS = {"/r1": (301, "/r2"), "/r2": (302, "/final"), "/loop1": (302, "/loop2"), "/loop2": (302, "/loop1")}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_Server"

    def log_message(self, *args):  # quiet tests
        pass

    def _send(self, status: int, ctype: str, body: bytes, extra: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        self.server.hits.append(self.path)
        if self.server.latency:
            time.sleep(self.server.latency)
        parts = urlsplit(self.path)
        path, q = parts.path, {k: v[-1] for k, v in parse_qs(parts.query).items()}
        if path in STATIC:
            ctype, body = STATIC[path]
            return self._send(200, ctype, body)
        if path == "/page.html":
            return self._send(200, "text/html; charset=utf-8", page_html(self.server.other))
        if path.startswith("/n/"):
            body = f"<html><head><title>{path}</title></head><body><p>page {path}</p>{'x' * 2000}</body></html>"
            return self._send(200, "text/html; charset=utf-8", body.encode())
        if path in REDIRECTS:
            status, loc = REDIRECTS[path]
            return self._send(status, "text/html", b"moved", {"Location": loc})
        if path == "/redirect":
            return self._send(302, "text/html", b"moved", {"Location": q.get("to", "/final")})
        if path == "/404":
            return self._send(404, "text/html", b"<html><body>Not Found</body></html>")
        if path == "/500":
            return self._send(500, "text/html", b"<html><body>Server Error</body></html>")
        if path == "/gzip.html":
            return self._send(200, "text/html; charset=utf-8", gzip.compress(GZIP_HTML.encode(), mtime=0),
                              {"Content-Encoding": "gzip"})
        if path == "/chunked.html":
            return self._chunked()
        if path == "/slow":
            return self._slow(int(q.get("n", 20)), float(q.get("interval", 0.5)))
        if path == "/big":
            return self._big(int(q.get("bytes", 1_000_000)))
        self._send(404, "text/plain", b"no such test path")

    def _chunked(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for c in CHUNKS:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(c), c))
        self.wfile.write(b"0\r\n\r\n")

    def _slow(self, n: int, interval: float):
        line = b"drip\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(n * len(line)))
        self.end_headers()
        try:
            for _ in range(n):
                self.wfile.write(line)
                self.wfile.flush()
                time.sleep(interval)
        except OSError:
            pass

    def _big(self, size: int):
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        left = size
        try:
            while left > 0:
                block = BIG_BLOCK if left >= len(BIG_BLOCK) else BIG_BLOCK[:left]
                self.wfile.write(block)
                left -= len(block)
        except OSError:
            pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, latency: float, other: str | None):
        super().__init__(addr, _Handler)
        self.latency = latency
        self.other = other
        self.hits: list[str] = []

    def handle_error(self, request, client_address):  # clients hang up on slow/big responses by design
        pass


@dataclass
class Site:
    host: str
    port: int
    server: _Server

    @property
    def base(self) -> str:
        return f"{getattr(self.server, 'scheme', 'http')}://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    @property
    def hits(self) -> list[str]:
        return self.server.hits


def self_signed_cert(folder, host: str = "127.0.0.1") -> tuple[str, str, bytes]:
    """(cert.pem path, key.pem path, DER bytes) of a fresh self-signed certificate for ``host``."""
    import datetime
    import ipaddress
    import os

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=7))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]), False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")
    with open(cert_path, "wb") as fh:
        fh.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as fh:
        fh.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()))
    return cert_path, key_path, cert.public_bytes(serialization.Encoding.DER)


@contextmanager
def serve(host: str = "127.0.0.1", *, latency: float = 0.0, other: str | None = None,
          tls: tuple[str, str] | None = None) -> Iterator[Site]:
    """Run a target site on ``host`` (port 0) in a thread for the duration of the block.

    ``tls=(cert.pem, key.pem)`` serves HTTPS (see :func:`self_signed_cert`).
    """
    srv = _Server((host, 0), latency, other)
    if tls:
        import ssl

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*tls)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
        srv.scheme = "https"
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    try:
        yield Site(host, srv.server_address[1], srv)
    finally:
        srv.shutdown()
        srv.server_close()


def capture_settings(root, **fetch):
    """Settings for capture tests: storage under ``root``, loopback allowed, short timeouts."""
    from archiver.config import load_settings

    base = {"allow_private_addresses": True, "politeness_delay_s": 0, "timeout_s": 5, "total_timeout_s": 10}
    base.update(fetch)
    return load_settings(None, env={}, overrides={"storage": {"root": str(root)}, "fetch": base,
                                                   "capture": {"browser": "never"}})


@contextmanager
def recorder_for(settings, sessionmaker=None):
    """(recorder, sink) over a fresh HttpClient and WarcSink; the sink is closed afterwards."""
    from archiver.capture.recorder import Recorder
    from archiver.capture.warcfile import WarcSink
    from archiver.net.http import HttpClient

    client = HttpClient(settings.fetch)
    sink = WarcSink(settings, sessionmaker)
    try:
        yield Recorder(settings, client, sink), sink
    finally:
        sink.close()
        client.close()
