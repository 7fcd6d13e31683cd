"""The auditor's interface: ``create_app(settings)`` builds the FastAPI app (pages + JSON API).

Archived bytes are never served here: snapshots are iframes onto the replay
origin (``web.replay_port``, pywb, see ``replay.py``), sandboxed without
``allow-same-origin``, and every response of ours carries a strict CSP.
Every request is checked, in this order: its ``Host`` is one of ours (DNS
rebinding), its credentials (web/auth.py, web/access.py; wrong ones slow down,
web/throttle.py), and a state-changing one comes from our own pages. ``HEAD``
answers what ``GET`` would, without the body.
"""
from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..config import Settings
from ..errors import ArchiverError, InputError, NotFound
from . import auth
from .access import GRANT_PREFIX, Access
from .jobs import Jobs
from .replay import replay_url
from .throttle import Failures

HERE = Path(__file__).resolve().parent


def _fmt_dt(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if hasattr(value, "strftime") and hasattr(value, "hour") else (
        value.isoformat() if hasattr(value, "isoformat") else ("" if value is None else str(value)))


def replay_origin(request: Request) -> str:
    """The replay server's origin as this browser reaches it: same host, the replay port."""
    fixed = request.app.state.replay_origin
    if fixed:
        return fixed
    host = request.url.hostname or "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    return f"{request.url.scheme}://{host}:{request.app.state.replay_port}"


def replay_base(request: Request) -> str:
    """Where this page's replay links start: the replay origin, and with tokens a fresh replay grant
    (web/access.py), one per request."""
    base = replay_origin(request)
    access: Access = request.app.state.access
    if not access.required:
        return base
    if getattr(request.state, "replay_grant", None) is None:
        request.state.replay_grant = access.grant()
    return f"{base}{GRANT_PREFIX}{request.state.replay_grant}"


class HeadAsGet:
    """ASGI: a HEAD request is routed as GET and answered without the body, so every GET route answers
    HEAD with the same status and headers (RFC 9110 §9.3.2)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "HEAD":
            return await self.app(scope, receive, send)

        async def no_body(message):
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, no_body)


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith(("/api/", "/metrics")) or "application/json" in request.headers.get("accept", "")


def create_app(settings: Settings, session_factory=None, replay_origin_url: str | None = None,
               runner=None, access: Access | None = None) -> FastAPI:
    """The interface app. ``session_factory`` defaults to one built from ``settings``;
    ``replay_origin_url`` pins the replay origin (else: request host + ``web.replay_port``);
    ``runner`` replaces ``pipeline.run`` (tests); ``access`` is shared with the replay server
    (else built from ``settings``, with a key of its own)."""
    if session_factory is None:
        from ..db.session import make_engine, make_sessionmaker

        session_factory = make_sessionmaker(make_engine(settings))
    app = FastAPI(title="archiver", version="0.1", docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.Session = session_factory
    app.state.replay_origin = replay_origin_url
    app.state.replay_port = settings.web.replay_port
    app.state.jobs = Jobs(settings, session_factory, runner)
    app.state.access = access = access or Access.for_serving(settings)
    app.state.failures = failures = Failures()
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters["dt"] = _fmt_dt
    templates.env.globals["replay_url"] = replay_url
    app.state.templates = templates
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.middleware("http")
    async def guard(request: Request, call_next):
        if not access.host_allowed(request.headers.get("host")):
            return _secure(request, _error(request, 400, "unknown host name: not one of web.allowed_hosts"))
        if access.required and request.url.path not in auth.OPEN_PATHS:
            refused = _authenticate(request)
            if refused is not None:
                return _secure(request, refused)
        if request.method not in ("GET", "HEAD", "OPTIONS") and not auth.same_origin(request):
            return _secure(request, _error(request, 403, "cross-origin request refused"))
        return _secure(request, await call_next(request))

    def _authenticate(request: Request):
        """None with ``request.state.role`` set, or the response refusing the request."""
        token = auth.bearer(request)
        if token is not None:
            role, wait = failures.check(auth.client_address(request), lambda: access.role_for(token))
            if wait:
                return too_many(request, wait)
        else:
            role = access.session_role(request.cookies.get(auth.cookie_name(request)))
        if role is None:
            resp = _error(request, 401, "authentication required: log in or send Authorization: Bearer <token>")
            resp.headers["WWW-Authenticate"] = 'Bearer realm="archiver"'
            return resp
        request.state.role = role
        return None

    def too_many(request: Request, wait: int):
        resp = _error(request, 429, f"too many wrong tokens from your address: try again in {wait} s")
        resp.headers["Retry-After"] = str(wait)
        return resp

    app.state.too_many = too_many

    def _secure(request: Request, resp):
        for k, v in auth.security_headers(replay_origin(request)).items():
            resp.headers.setdefault(k, v)
        resp.headers.setdefault("Cache-Control", "no-store")
        return resp

    def _error(request: Request, status: int, message: str):
        if _wants_json(request):
            return JSONResponse({"error": message, "status": status}, status_code=status)
        return templates.TemplateResponse(request, "error.html", {"status": status, "message": message,
                                                                   "login": status == 401}, status_code=status)

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound):
        return _error(request, 404, str(exc))

    @app.exception_handler(InputError)
    async def _bad_input(request: Request, exc: InputError):
        return _error(request, 400, str(exc))

    @app.exception_handler(ArchiverError)
    async def _failed(request: Request, exc: ArchiverError):
        return _error(request, 500, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        # a malformed id in the path names nothing we have: 404, never a hint about files
        if any(e.get("loc", ("",))[0] == "path" for e in exc.errors()):
            return _error(request, 404, "not found")
        first = exc.errors()[0]
        return _error(request, 400, f"bad parameter {'.'.join(map(str, first.get('loc', ())))}: {first.get('msg')}")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        return _error(request, exc.status_code, str(exc.detail))

    from .metrics import make_registry, render

    app.state.metrics = make_registry(session_factory, settings)

    @app.get("/metrics", include_in_schema=False)
    def metrics():
        """Prometheus exposition (web/metrics.py), behind the same guard as the JSON API."""
        body, content_type = render(app.state.metrics)
        return Response(body, media_type=content_type)

    from . import routes_api, routes_pages, routes_views

    app.include_router(routes_api.router)
    app.include_router(routes_pages.router)
    app.include_router(routes_views.router)
    app.add_middleware(HeadAsGet)  # outermost: routing and the guard see a GET
    return app


__all__ = ["create_app", "replay_origin", "replay_base"]
