"""Command-line interface: thin callers of the library, one module per command.

Every command takes ``--config PATH`` (global) and most take ``--json``: with it,
exactly one JSON document goes to stdout and nothing else. Errors are one line on
stderr and an exit code (2: bad input or configuration, 1: something failed).
"""
from __future__ import annotations

import sys

import typer
from typer.core import TyperCommand, TyperGroup

from ..errors import ArchiverError
from . import context as _context

# Commands, in the order `--help` lists them (explicit: no discovery at import time), and the
# module that registers each. A module is imported only when its command runs (or for --help):
# `archiver run` does not load what `ingest`, `export` or `serve` need (pass start-up time).
COMMANDS = {
    "init": "admin", "config": "admin", "ingest": "ingest", "reports": "listing", "activities": "listing",
    "show": "listing", "run": "run", "worker": "worker", "status": "status", "search": "search", "get": "get",
    "schedule": "schedule", "demo": "demo", "health": "health", "serve": "serve",
    "export": "export", "dossier": "dossier", "verify": "verify", "verify-export": "verify", "dumps": "dumps",
}

# What `archiver --help` says of each command: the first sentence of its own help (tests/test_cli_lazy.py checks
# they agree), so that listing the commands imports none of them (their modules load SQLAlchemy, pydantic
# models, FastAPI, ...: ~1 s of start-up).
SUMMARIES = {
    "init": "Create the storage folders and create or upgrade the database schema.",
    "config": "Print the effective configuration (secrets hidden).",
    "ingest": "Read reports (txt, md, html, pdf, docx; paths or http(s) URLs) into activities and links.",
    "reports": "List ingested reports.",
    "activities": "List activities with their dates and links.",
    "show": "One activity: its text, date, links and what became of them.",
    "run": "One pass: resolve, capture and extract every pending link, then re-check the captured links that "
           "are due.",
    "worker": "Run pipeline tasks from the queue (queue.url): a Celery worker in the foreground.",
    "status": "Link states, retries, given-up links and the last runs.",
    "search": 'Full-text search: words, "phrases", OR, -excluded.',
    "get": "Write the evidence captured for URL: the newest capture that is evidence (or --latest, or closest "
           "to --at); --list lists them all.",
    "schedule": "Run the pipeline nightly (cron from config) in the foreground.",
    "demo": "Run the whole pipeline offline against a simulated web (under a minute).",
    "health": "Evidence coverage per report; dead unpreserved evidence first.",
    "serve": "Serve the web interface and the replay server (archived pages on another port).",
    "export": "Write the evidence of one activity or report as a WACZ package (records, CDXJ index, pages, "
              "readable summary; signed when export.signing_key is set).",
    "dossier": "Write a report's evidence dossier (each activity, its links, redirect chains, captures with source "
               "and SHA-256, screenshots) as PDF (printed by Chromium) or HTML.",
    "verify": "Re-read every stored WARC record and file, recompute digests, check the manifest chain.",
    "verify-export": "Check a WACZ package offline: resource hashes, datapackage digest, signature, and the "
                     "records its CDXJ index points at.",
    "dumps": "URLTeam short-link dumps (shortcode|url, BEACON; .xz/.gz/.zip).",
}


class _LazyGroup(TyperGroup):
    """The root command group: each command's module is imported when the command is asked for; the
    group's own help lists them from ``SUMMARIES`` without importing any."""

    _listing = False

    def list_commands(self, ctx) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx, cmd_name: str):
        module = COMMANDS.get(cmd_name)
        if module is None:
            return None
        if self._listing:
            return TyperCommand(cmd_name, help=SUMMARIES[cmd_name])
        return _load(module).get(cmd_name)

    def format_help(self, ctx, formatter):
        self._listing = True
        try:
            return super().format_help(ctx, formatter)
        finally:
            self._listing = False


def _load(module: str) -> dict:
    """The click commands one of our modules registers (built once)."""
    got = _loaded.get(module)
    if got is None:
        from importlib import import_module

        sub = typer.Typer(rich_markup_mode=None)  # plain help, as the root's (start-up time)
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
    rich_markup_mode=None,  # plain help for the command list: typer's rich help alone imports ~0.2 s of modules
)


@app.callback()
def _global(
    ctx: typer.Context,
    config: str = typer.Option(None, "--config", "-c", help="Config file (default: $ARCHIVER_CONFIG or ./config.yaml)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log details to stderr."),
):
    ctx.obj = _context.AppContext(config_path=config, verbose=verbose)
    ctx.call_on_close(ctx.obj.close)


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
