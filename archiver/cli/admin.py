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
    stored = check_store(settings)
    engine = ctx.obj.engine
    with database_errors(engine):
        before = migrate.current_revision(engine)
        migrate.upgrade(engine)
        after = migrate.current_revision(engine)
    doc = {"storage_root": str(root), "storage_url": stored, "database": engine.url.render_as_string(hide_password=True),
           "revision_before": before, "revision": after, "changed": before != after}
    if json_out:
        emit_json(doc)
    else:
        state = "already up to date" if before == after else (f"upgraded from {before}" if before else "created")
        console().print(f"storage: {root}" + (f" (spool; finished files in {stored})" if stored else "")
                        + f"\ndatabase: {doc['database']} ({state}, revision {after})")


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


def check_store(settings) -> str | None:
    """With object storage, that the bucket answers to our credentials (one list request): one line
    and exit 2 otherwise, before the database is touched. Returns the store's url (None: local)."""
    from ..errors import StoreError
    from ..store import open_store

    store = open_store(settings.storage)
    if not store.remote:
        return None
    try:
        next(iter(store.list("manifest/")), None)
    except StoreError as exc:
        raise ConfigError(f"storage.url: {exc}; check the bucket, 'storage.s3' and the AWS_* variables") from exc
    return store.url


def show_config(ctx: typer.Context):
    emit_json(ctx.obj.settings.redacted())
