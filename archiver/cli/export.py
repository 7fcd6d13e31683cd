"""`archiver export (--activity ID | --report ID) -o OUT.wacz`: an evidence package."""
from __future__ import annotations

from pathlib import Path

import typer

from .. import __version__
from ..errors import InputError
from ..export.evidence import select_activity, select_report
from ..export.wacz import export_to_store, export_wacz
from ..store import open_store
from .output import console, emit_json, progress


def register(app: typer.Typer) -> None:
    app.command("export", help="Write the evidence of one activity or report as a WACZ package "
                "(records, CDXJ index, pages, readable summary; signed when export.signing_key is set).")(export)


def export(
    ctx: typer.Context,
    activity: int = typer.Option(None, "--activity", help="Activity id."),
    report: int = typer.Option(None, "--report", help="Report id."),
    output: Path = typer.Option(None, "--output", "-o", help="The .wacz file to write."),
    stored: str = typer.Option(None, "--stored", help="NAME.wacz: put the package in the store instead, as "
                               "exports/NAME.wacz (storage.url, else <storage.root>/exports)."),
    json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
):
    if (activity is None) == (report is None):
        raise InputError("give exactly one of --activity ID or --report ID")
    if (output is None) == (stored is None):
        raise InputError("give exactly one of -o FILE.wacz or --stored NAME.wacz")
    if stored is not None and ("/" in stored or not stored.endswith(".wacz")):
        raise InputError(f"--stored: {stored!r} must be a file name ending in .wacz (no folder)")
    settings = ctx.obj.settings
    Session = ctx.obj.sessionmaker()
    with Session() as session, progress(not json_out) as bar:
        selection = select_activity(session, activity) if activity is not None else select_report(session, report)
        task = bar.add_task("export", total=sum(c.length for c in selection.captures))
        kwargs = dict(software=f"archiver {__version__}", signing_key=settings.export.signing_key,
                      progress=lambda done, total: bar.update(task, completed=done, total=total))
        store = open_store(settings.storage)
        if stored is not None:
            result = export_to_store(session, store, selection, stored, **kwargs)
        else:
            result = export_wacz(session, store, selection, output, **kwargs)
    if json_out:
        emit_json(result.as_dict())
    else:
        console().print(f"wrote {result.path}: {result.records} records, {result.pages} pages, "
                        f"{result.bytes} bytes{', signed' if result.signed else ''} ({result.datapackage_hash})",
                        markup=False, highlight=False, soft_wrap=True)
