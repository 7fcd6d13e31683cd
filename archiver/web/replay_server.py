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
from urllib.parse import parse_qs, quote  # noqa: E402

import gevent  # noqa: E402
from gevent.pywsgi import WSGIServer  # noqa: E402
from pywb.apps.frontendapp import FrontEndApp  # noqa: E402

from archiver.errors import InputError  # noqa: E402
from archiver.web import cdx, mementos  # noqa: E402
from archiver.web import replay_policy as policy  # noqa: E402
from archiver.web import replay_scope as scoping  # noqa: E402
from archiver.web.access import ENV, GRANT_PREFIX, Access  # noqa: E402
from archiver.web.replay import index_dir, refresh_index, store_from_env  # noqa: E402
from archiver.web.throttle import Failures  # noqa: E402

REFRESH_EVERY_S = 1.0
# pywb's own index views name our WARC files and offsets: closed (ours is /cdx/search/cdx; the
# link-format TimeMap, which names mementos only, stays open)
_CLOSED = re.compile(r"^/[^/]+/(cdx$|timemap/(?!link/))|^/collinfo\.json$")


class ReplayApp:
    """WSGI: host and access checks, our CDX endpoint and a readiness probe in front of pywb, the index
    kept fresh, and every answer's headers made safe (web/replay_policy.py)."""

    def __init__(self, root: Path, config: Path, ui_origin: str = "", access: Access | None = None):
        self.root = root
        self.store = store_from_env(root)
        self.pywb = FrontEndApp(config_file=str(config))
        self.ui_origin = ui_origin
        self.access = access or Access.open("127.0.0.1")
        self.failures = Failures()
        self._lock = threading.Lock()
        self._checked = 0.0

    def _fresh_index(self) -> None:
        with self._lock:
            if time.monotonic() - self._checked >= REFRESH_EVERY_S:
                refresh_index(self.root, self.store)
                self._checked = time.monotonic()

    def _ui(self, environ) -> str:
        """The interface's origin as this browser reaches it (a wildcard bind follows the Host used)."""
        return self.ui_origin.replace("{host}", environ.get("HTTP_HOST", "").rsplit(":", 1)[0]) \
            if "{host}" in self.ui_origin else self.ui_origin

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/_ready":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok"]
        if not self.access.host_allowed(environ.get("HTTP_HOST")):
            return self._plain(start_response, "400 Bad Request", "unknown host name: not one of web.allowed_hosts")
        if self.access.required:
            refused = self._authorize(environ)
            if refused is not None:
                return self._plain(start_response, *refused)
            path = environ.get("PATH_INFO", "")
        token, rest = scoping.split(path)
        scope = None
        if token is not None:
            scope = self.access.scope_origin(token)
            if scope is None:
                return self._plain(start_response, "403 Forbidden",
                                   "this replay link has expired or is not valid: open it again from the interface")
            if not rest.startswith(("/web/", "/static/")):
                return self._plain(start_response, "404 Not Found", "not found")
            environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + scoping.SCOPE_PREFIX + token
            environ["PATH_INFO"] = path = rest
        self._fresh_index()
        if path == "/cdx/search/cdx":
            return self._cdx(environ, start_response)
        if _CLOSED.match(path):
            return self._plain(start_response, "404 Not Found", "not found")
        request = self._request_url(environ)
        kind = policy.kind(path)
        framed = environ.get("HTTP_SEC_FETCH_DEST", "") in ("iframe", "frame")
        csp = policy.csp(kind, framed, self._ui(environ), self._self_source(environ))
        target = policy.target(path)
        if kind == "scripted" and framed and target is not None:
            own = scoping.origin_of(target)
            if own and own != scope:  # its own site's scope, once (replay_scope.py)
                return self._rescoped(environ, start_response, token, own, csp)
        readable = (scope is not None and target is not None and kind in ("memento", "scripted")
                    and environ.get("HTTP_ORIGIN") == "null")  # records only: never the frame page or an index
        if readable and environ.get("REQUEST_METHOD") == "OPTIONS" and scoping.may_read(scope, target, None):
            start_response("204 No Content", scoping.preflight_grant(environ) + policy.safe_headers([], csp))
            return [b""]

        def _start(status, headers, exc_info=None):
            status, headers = mementos.fix(status, headers, request)
            grant = readable and scoping.may_read(scope, target, scoping.archived_allow_origin(headers))
            return start_response(status, policy.safe_headers(headers, csp) + (scoping.read_grant() if grant else []),
                                  exc_info)

        return self.pywb(environ, _start)

    def _rescoped(self, environ, start_response, token: str | None, origin: str, csp: str):
        """302 to the same memento under the scope of ``origin`` (replacing ``token``'s, if any)."""
        base = environ.get("SCRIPT_NAME", "")
        if token is not None:
            base = base[: -len(scoping.SCOPE_PREFIX + token)]
        query = environ.get("QUERY_STRING", "")
        path = quote(environ.get("PATH_INFO", "").encode("latin-1"), safe="/:@!$&'()*+,;=~")
        location = f"{base}{scoping.SCOPE_PREFIX}{self.access.scope(origin)}{path}" + (
            f"?{query}" if query else "")
        start_response("302 Found", [("Location", location), ("Content-Length", "0"), ("Cache-Control", "no-store")]
                       + policy.safe_headers([], csp))
        return [b""]

    def _authorize(self, environ) -> tuple | None:
        """None when the request may go on (a replay grant in the path, or a valid bearer token), else the
        (status, message, extra headers) to refuse it with. A grant is moved from the path into
        SCRIPT_NAME, so that pywb writes it into every URL it rewrites."""
        path = environ.get("PATH_INFO", "")
        if path.startswith(GRANT_PREFIX):
            grant, _, rest = path[len(GRANT_PREFIX):].partition("/")
            if not self.access.grant_ok(grant):
                return "403 Forbidden", "this replay link has expired or is not valid: open it again from the interface"
            if not rest.startswith(("web/", "static/", scoping.SCOPE_PREFIX[1:])):
                return "404 Not Found", "not found"
            environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + GRANT_PREFIX + grant
            environ["PATH_INFO"] = "/" + rest
            return None
        header = environ.get("HTTP_AUTHORIZATION", "")
        address = environ.get("REMOTE_ADDR")
        if header.lower().startswith("bearer "):
            role, wait = self.failures.check(address, lambda: self.access.role_for(header[7:].strip()))
            if wait:
                return "429 Too Many Requests", "too many wrong tokens: try again later", [("Retry-After", str(wait))]
            if role:
                return None
        return ("401 Unauthorized", "authentication required: send Authorization: Bearer <token>, or open "
                "archived pages from the interface", [("WWW-Authenticate", 'Bearer realm="archiver-replay"')])

    @staticmethod
    def _self_source(environ) -> str:
        return f"{environ.get('wsgi.url_scheme', 'http')}://{environ.get('HTTP_HOST', '')}"

    def _plain(self, start_response, status: str, message: str, extra=()):
        body = (message + "\n").encode("utf-8")
        start_response(status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body))),
                                *extra, *policy.own_headers()])
        return [body]

    @staticmethod
    def _request_url(environ) -> str:
        host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME', '')}:{environ.get('SERVER_PORT', '')}"
        query = environ.get("QUERY_STRING", "")
        path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        return f"{environ.get('wsgi.url_scheme', 'http')}://{host}{path}" + (f"?{query}" if query else "")

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
        start_response(status, [("Content-Type", ctype), ("Content-Length", str(len(data)))] + policy.own_headers())
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
    access = Access.from_env(os.environ.pop(ENV)) if os.environ.get(ENV) else Access.open(args.host)
    app = ReplayApp(Path(args.root), Path(args.config), args.ui_origin, access)
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
