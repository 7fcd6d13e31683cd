"""`archiver dumps import FILE`: load an ArchiveTeam URLTeam dump into the lookup table."""
from __future__ import annotations

import typer

from ..resolve.dumps import MAX_LINE, import_dump
from .output import console, emit_json, progress

dumps_app = typer.Typer(help="URLTeam short-link dumps (shortcode|url, BEACON; .xz/.gz/.zip).",
                        no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(dumps_app, name="dumps")


@dumps_app.command("import", help="Import a dump file once (a file already imported, by sha256, adds nothing).")
def import_cmd(
    ctx: typer.Context,
    file: str = typer.Argument(..., help="Dump file: plain, .xz, .gz, .bz2 or .zip (detected from the bytes)."),
    name: str = typer.Option(None, "--name", help="Source name shown in resolutions (default: the file name)."),
    prefix: str = typer.Option(None, "--prefix",
                               help="Short-URL prefix for code|url lines without #PREFIX (default https://goo.gl/)."),
    json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
):
    Session = ctx.obj.sessionmaker()
    with progress(not json_out) as bar:
        task = bar.add_task("importing", total=None)
        result = import_dump(Session, file, name=name, prefix=prefix,
                             progress=lambda n: bar.update(task, completed=n))
    doc = {"dump_id": result.dump_id, "name": result.name, "path": result.path, "sha256": result.sha256,
           "entries": result.entries, "skipped_lines": result.skipped_lines,
           "overlong_lines": result.overlong_lines, "already_imported": result.already,
           "prefix": result.prefix}
    if json_out:
        emit_json(doc)
        return
    if result.already:
        console().print(f"{result.path}: already imported as '{result.name}' ({result.entries} entries); nothing added")
    else:
        skipped = [f"{result.skipped_lines} unusable lines skipped"] if result.skipped_lines else []
        if result.overlong_lines:
            skipped.append(f"{result.overlong_lines} lines longer than {MAX_LINE} bytes skipped unread")
        console().print(f"imported {result.entries} entries from {result.path} as '{result.name}'"
                        + (f" ({'; '.join(skipped)})" if skipped else ""))
