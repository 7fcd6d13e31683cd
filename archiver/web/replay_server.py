"""The replay origin, run as its own process (``python -m archiver.web.replay_server``).

pywb serves the collection ``web``: the framed and ``mp_`` replay the interface
embeds, raw ``/web/<ts>id_/<url>`` (archived status, headers and payload,
``Location`` kept), the Memento TimeGate ``/web/<url>`` (302 to the closest
memento) and TimeMap ``/web/timemap/link/<url>``, with the Memento headers set
right (web/mementos.py). We add ``/cdx/search/cdx`` in the Wayback dialect and
close pywb's own ``/web/cdx``, its other TimeMap formats and ``/collinfo.json``,
which name our WARC files and offsets. Archived bytes are only ever served
here, never on the interface's origin.
"""
from gevent import monkey

monkey.patch_all()  # before anything else, as pywb's own launcher does

import argparse  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import socket  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from urllib.parse import parse_qs  # noqa: E402

import gevent  # noqa: E402
from gevent.pywsgi import WSGIServer  # noqa: E402
from pywb.apps.frontendapp import FrontEndApp  # noqa: E402

from archiver.errors import InputError  # noqa: E402
from archiver.web import cdx, mementos  # noqa: E402
from archiver.web.replay import index_dir, refresh_index  # noqa: E402

REFRESH_EVERY_S = 1.0
# pywb's own index views name our WARC files and offsets: closed (ours is /cdx/search/cdx; the
# link-format TimeMap, which names mementos only, stays open)
_CLOSED = re.compile(r"^/[^/]+/(cdx$|timemap/(?!link/))|^/collinfo\.json$")


class ReplayApp:
    """WSGI: our CDX endpoint and a readiness probe in front of pywb; the index kept fresh."""

    def __init__(self, root: Path, config: Path, ui_origin: str = ""):
        self.root = root
        self.pywb = FrontEndApp(config_file=str(config))
        self.ui_origin = ui_origin
        self._lock = threading.Lock()
        self._checked = 0.0

    def _fresh_index(self) -> None:
        with self._lock:
            if time.monotonic() - self._checked >= REFRESH_EVERY_S:
                refresh_index(self.root)
                self._checked = time.monotonic()

    def _headers(self) -> list[tuple[str, str]]:
        headers = [("Referrer-Policy", "no-referrer")]
        if self.ui_origin:  # only the interface (and pywb's own frame) may frame archived pages
            headers.append(("Content-Security-Policy", f"frame-ancestors 'self' {self.ui_origin}"))
        return headers

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/_ready":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok"]
        self._fresh_index()
        if path == "/cdx/search/cdx":
            return self._cdx(environ, start_response)

        if _CLOSED.match(path):
            return self._not_found(start_response)
        request = self._request_url(environ)

        def _start(status, headers, exc_info=None):
            status, headers = mementos.fix(status, headers, request)
            names = {h[0].lower() for h in headers}
            extra = [h for h in self._headers() if h[0].lower() not in names]
            return start_response(status, headers + extra, exc_info)

        return self.pywb(environ, _start)

    def _not_found(self, start_response):
        body = b"not found\n"
        start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8"),
                                         ("Content-Length", str(len(body)))] + self._headers())
        return [body]

    @staticmethod
    def _request_url(environ) -> str:
        host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME', '')}:{environ.get('SERVER_PORT', '')}"
        query = environ.get("QUERY_STRING", "")
        return f"{environ.get('wsgi.url_scheme', 'http')}://{host}{environ.get('PATH_INFO', '')}" + (
            f"?{query}" if query else "")

    def _cdx(self, environ, start_response):
        qs = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        params, filters, collapses = cdx.params_of(qs)
        try:
            fields = cdx.fields_of(params)
            ans = cdx.answer(index_dir(self.root), params, filters, collapses)
            body, ctype = cdx.render(ans, fields, params.get("output"))
            status = "200 OK"
        except InputError as exc:
            body, ctype, status = str(exc) + "\n", "text/plain; charset=utf-8", "400 Bad Request"
        data = body.encode("utf-8")
        start_response(status, [("Content-Type", ctype), ("Content-Length", str(len(data)))] + self._headers())
        return [data]


def _exit_with_parent(parent: int) -> None:
    """Never outlive `archiver serve` (or a test) that started us, even if it was killed outright."""
    while os.getppid() == parent:
        gevent.sleep(1.0)
    os._exit(0)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="archiver-replay")
    p.add_argument("--root", required=True)
    p.add_argument("--config", required=True)
    p.add_argument("--fd", type=int, help="listening socket inherited from the parent")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8001)
    p.add_argument("--ui-origin", default="")
    args = p.parse_args(argv)
    app = ReplayApp(Path(args.root), Path(args.config), args.ui_origin)
    if args.fd is not None:
        listener = socket.socket(fileno=args.fd)
    else:
        listener = (args.host, args.port)
    server = WSGIServer(listener, app, log=None)
    gevent.spawn(_exit_with_parent, os.getppid())
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
