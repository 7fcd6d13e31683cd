"""`archiver verify` (the whole store) and `archiver verify-export FILE` (one WACZ package)."""
from __future__ import annotations

from pathlib import Path

import typer

from ..export.verify import count_records, verify_storage
from ..store import open_store
from .output import console, emit_json, progress, table


def register(app: typer.Typer) -> None:
    app.command("verify", help="Re-read every stored WARC record and file, recompute digests, check the "
                "manifest chain. Exit 1 on any mismatch.")(verify)
    app.command("verify-export", help="Check a WACZ package offline: resource hashes, datapackage digest, "
                "signature, and the records its CDXJ index points at. Exit 1 on any problem.")(verify_export)


def _done(ok: bool) -> None:
    # SystemExit, not typer.Exit: with standalone_mode=False typer *returns* Exit's code,
    # which cli.main would turn into 0.
    raise SystemExit(0 if ok else 1)


def verify_stored(store, name: str):
    """verify-export of ``exports/NAME`` in the store (read in place: a remote object by range)."""
    from ..errors import InputError, StoreError
    from ..export.verify_wacz import verify_package
    from ..store import check_key

    try:
        key = check_key(f"exports/{name}")
    except StoreError as exc:
        raise InputError(f"--stored: {exc}") from None
    try:
        fh = store.open(key)
    except FileNotFoundError:
        raise InputError(f"no package {name} in {store.url}/exports") from None
    with fh:
        return verify_package(Path(name), fh=fh, label=f"{store.url}/{key}")


def verify(ctx: typer.Context, json_out: bool = typer.Option(False, "--json", help="Machine-readable output.")):
    settings = ctx.obj.settings
    Session = ctx.obj.sessionmaker()
    with Session() as session:
        total = count_records(session)
        with progress(not json_out) as bar:
            task = bar.add_task("verifying records", total=total)
            report = verify_storage(session, open_store(settings.storage), on_record=lambda: bar.advance(task))
    if json_out:
        emit_json(report.as_dict())
    elif report.ok:
        console().print(f"{report.records_checked} records in {report.files_checked} files verified: no problems")
    else:
        con = console()
        if con.is_terminal:
            rows = [(p.file, p.offset, p.capture_id, p.kind, p.detail) for p in report.problems]
            con.print(table(f"{len(report.problems)} problem(s)", ["file", "offset", "capture", "problem", "detail"],
                            rows))
        else:  # piped or logged: one unwrapped line per problem reads and greps better than a folded table
            for p in report.problems:
                con.print(p.line(), markup=False, highlight=False, soft_wrap=True)
        con.print(f"{len(report.problems)} problem(s); {report.records_checked} records in "
                  f"{report.files_checked} files checked")
    _done(report.ok)


def verify_export(
    ctx: typer.Context,
    file: Path = typer.Argument(None, help="The .wacz file to check."),
    stored: str = typer.Option(None, "--stored", help="NAME.wacz: a package `export --stored` put in the "
                               "store (storage.url), read where it is by range."),
    json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
):
    from ..errors import InputError
    from ..export.verify_wacz import verify_package

    if (file is None) == (stored is None):
        raise InputError("give a .wacz file or --stored NAME.wacz")
    if stored is not None:
        result = verify_stored(open_store(ctx.obj.settings.storage), stored)
    else:
        result = verify_package(file)
    if json_out:
        emit_json(result.as_dict())
    else:
        con = console()
        for line in result.lines():
            con.print(line, markup=False, highlight=False, soft_wrap=True)
    _done(result.ok)
