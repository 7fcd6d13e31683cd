"""Command-line interface: thin callers of the library, one module per command.

Every command takes ``--config PATH`` (global) and most take ``--json``: with it,
exactly one JSON document goes to stdout and nothing else. Errors are one line on
stderr and an exit code (2: bad input or configuration, 1: something failed).
"""
from __future__ import annotations

import sys

import typer
from typer.core import TyperGroup

from ..errors import ArchiverError
from . import context as _context

# Commands, in the order `--help` lists them (explicit: no discovery at import time), and the
# module that registers each. A module is imported only when its command runs (or for --help):
# `archiver run` does not load what `ingest`, `export` or `serve` need (pass start-up time).
COMMANDS = {
    "init": "admin", "config": "admin", "ingest": "ingest", "reports": "listing", "activities": "listing",
    "show": "listing", "run": "run", "status": "status", "search": "search", "get": "get",
    "schedule": "schedule", "demo": "demo", "health": "health", "serve": "serve",
    "export": "export", "dossier": "dossier", "verify": "verify", "verify-export": "verify", "dumps": "dumps",
}


class _LazyGroup(TyperGroup):
    """The root command group: each command's module is imported when the command is asked for."""

    def list_commands(self, ctx) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx, cmd_name: str):
        module = COMMANDS.get(cmd_name)
        if module is None:
            return None
        return _load(module).get(cmd_name)


def _load(module: str) -> dict:
    """The click commands one of our modules registers (built once)."""
    got = _loaded.get(module)
    if got is None:
        from importlib import import_module

        sub = typer.Typer()
        import_module(f"{__name__}.{module}").register(sub)
        got = _loaded[module] = dict(typer.main.get_group(sub).commands)
    return got


_loaded: dict[str, dict] = {}

app = typer.Typer(
    name="archiver",
    help="Preserve the evidence that reports cite: ingest reports, resolve short links, "
    "capture into WARC, index, search, verify.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    cls=_LazyGroup,
)


@app.callback()
def _global(
    ctx: typer.Context,
    config: str = typer.Option(None, "--config", "-c", help="Config file (default: $ARCHIVER_CONFIG or ./config.yaml)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log details to stderr."),
):
    ctx.obj = _context.AppContext(config_path=config, verbose=verbose)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turning ArchiverError into one line and an exit code."""
    try:
        code = app(args=argv, standalone_mode=False)  # without standalone mode, typer.Exit(n) returns n
        if isinstance(code, int) and code:
            sys.exit(code)
    except ArchiverError as exc:
        _context.print_error(str(exc))
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        _context.print_error("aborted")
        sys.exit(130)
    except typer.TyperException as exc:  # usage errors: typer vendors click, so not click's classes
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        _context.print_error(message)
        sys.exit(getattr(exc, "exit_code", 2))
    except KeyboardInterrupt:
        _context.print_error("interrupted")
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)
