"""`archiver init` and `archiver config`."""
from __future__ import annotations

import tempfile
from pathlib import Path

import typer

from ..db import migrate
from ..db.session import database_errors
from ..errors import ConfigError
from .output import console, emit_json


def register(app: typer.Typer) -> None:
    app.command("init", help="Create the storage folders and create or upgrade the database schema.")(init)
    app.command("config", help="Print the effective configuration (secrets hidden).")(show_config)


def init(ctx: typer.Context, json_out: bool = typer.Option(False, "--json", help="Machine-readable output.")):
    settings = ctx.obj.settings
    root = settings.storage.root
    prepare_storage(root)
    engine = ctx.obj.engine
    with database_errors(engine):
        before = migrate.current_revision(engine)
        migrate.upgrade(engine)
        after = migrate.current_revision(engine)
    doc = {"storage_root": str(root), "database": engine.url.render_as_string(hide_password=True),
           "revision_before": before, "revision": after, "changed": before != after}
    if json_out:
        emit_json(doc)
    else:
        state = "already up to date" if before == after else (f"upgraded from {before}" if before else "created")
        console().print(f"storage: {root}\ndatabase: {doc['database']} ({state}, revision {after})")


def prepare_storage(root: Path) -> None:
    """Create the storage folders and check that we may write in each (an existing folder on a
    read-only disk passes mkdir): one line and exit 2 otherwise, before the database is touched."""
    for sub in ("", "warcs", "uploads", "exports"):
        folder = root / sub
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=folder, prefix=".write-test-"):
                pass
        except OSError as exc:
            raise ConfigError(f"storage.root: cannot write in {folder} ({exc.strerror or exc}); "
                              "choose a writable folder in 'storage.root'") from exc


def show_config(ctx: typer.Context):
    emit_json(ctx.obj.settings.redacted())
