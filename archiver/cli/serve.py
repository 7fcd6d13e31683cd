"""`archiver serve`: the interface (uvicorn) and the replay origin (pywb, a child process)."""
from __future__ import annotations

import os
import signal
import socket
import sys
import threading

import typer

from ..errors import ConfigError
from ..store import open_store
from ..web.access import Access, check_tokens, is_loopback
from .output import console

# a request still running this long after SIGTERM/SIGINT is cut off: stopping never waits on a client
GRACEFUL_S = 3


def register(app: typer.Typer) -> None:
    app.command("serve", help="Serve the web interface and the replay server (archived pages on another port).")(serve)


def check_exposure(host: str, tokens) -> None:
    """Off loopback the archive must not be open to anyone who can reach the port; tokens must be strong
    wherever they guard it."""
    if not is_loopback(host) and not tokens:
        raise ConfigError(f"refusing to serve on {host} without authentication: set web.tokens "
                          "(or bind to 127.0.0.1)")
    check_tokens(tokens)


class _Server:
    """uvicorn's Server, quiet once told to stop: the requests it cuts off after GRACEFUL_S are not errors."""

    @staticmethod
    def make(config):
        import logging

        import uvicorn

        class Server(uvicorn.Server):
            def handle_exit(self, sig, frame):
                logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)
                super().handle_exit(sig, frame)

        return Server(config)


def _leave_if_stuck() -> None:
    """A request handler still running in a worker thread (a query waiting on a lock, an ingest) would hold
    the interpreter's exit until it ends: leave now. Its database transaction is rolled back by the database,
    as after any lost connection; a run started from the interface has had its stop signal."""
    busy = [t for t in threading.enumerate()
            if t.is_alive() and not t.daemon and t is not threading.main_thread()]
    if busy:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


class _Stop(Exception):
    """Raised from our signal handler so that the replay process is always stopped on the way out."""


def _raise_stop(signum, frame):
    raise _Stop(signum)


def serve(
    ctx: typer.Context,
    host: str = typer.Option(None, "--host", help="Address to bind (default: web.host, 127.0.0.1)."),
    port: int = typer.Option(None, "--port", help="Interface port (default: web.port, 8000)."),
    replay_port: int = typer.Option(None, "--replay-port", help="Replay port (default: web.replay_port, 8001)."),
):
    import uvicorn

    from ..web.app import create_app
    from ..web.replay import ReplayServer

    settings = ctx.obj.settings
    host = host or settings.web.host
    port = settings.web.port if port is None else port
    replay_port = settings.web.replay_port if replay_port is None else replay_port
    check_exposure(host, settings.web.tokens)
    Session = ctx.obj.sessionmaker()

    ui_sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    ui_sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        ui_sock.bind((host, port))
        ui_sock.listen(2048)  # connections wait in the backlog until uvicorn serves them
    except OSError as exc:
        raise ConfigError(f"cannot bind {host}:{port}: {exc.strerror}") from exc
    shown = f"[{host}]" if ":" in host else host
    ui_origin = f"http://{shown}:{ui_sock.getsockname()[1]}"
    wildcard = host in ("0.0.0.0", "::")  # then follow the host the browser used
    access = Access.for_serving(settings, host)
    try:
        replay = ReplayServer(settings.storage.root, host, replay_port, access=access, store=open_store(settings.storage),
                              ui_origin=f"http://{{host}}:{ui_sock.getsockname()[1]}" if wildcard else ui_origin)
    except OSError as exc:
        ui_sock.close()
        raise ConfigError(f"cannot bind {host}:{replay_port}: {exc.strerror}") from exc
    replay.start()
    app = None
    try:
        app = create_app(settings, Session, replay_origin_url=None if wildcard else replay.origin, access=access)
        app.state.replay_port = replay.port
        out = console()
        out.print(f"interface: {ui_origin}/", soft_wrap=True)
        out.print(f"replay:    {replay.origin}/web/  (CDX: {replay.origin}/cdx/search/cdx)", soft_wrap=True)
        out.print("Ctrl-C to stop")
        server = _Server.make(uvicorn.Config(app, log_level="warning", lifespan="off",
                                             timeout_graceful_shutdown=GRACEFUL_S))
        # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal to the handler that was
        # there before it: ours, so we get to stop the replay process and exit 0
        old = {sig: signal.signal(sig, _raise_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            server.run(sockets=[ui_sock])
        except _Stop:
            pass
        finally:
            for sig, handler in old.items():
                signal.signal(sig, handler)
    finally:
        if app is not None:
            app.state.jobs.stop.set()
        replay.stop()
        ui_sock.close()
    _leave_if_stuck()
