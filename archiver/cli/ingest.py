"""`archiver ingest PATH_OR_URL... [--json]`: read reports into activities and links.

Each report is stored in its own transaction, so one bad file in a batch costs
only itself. Exit code: 0 when every source was read (or was already there),
1 when some failed and some succeeded, 2 when nothing could be read.
"""
from __future__ import annotations

import typer

from ..errors import ArchiverError
from ..ingest import IngestResult, ingest_source
from .context import print_error
from .output import console, emit_json, progress, table


def register(app: typer.Typer) -> None:
    app.command("ingest", help="Read reports (txt, md, html, pdf, docx; paths or http(s) URLs) into "
                               "activities and links.")(ingest)


def ingest(
    ctx: typer.Context,
    sources: list[str] = typer.Argument(..., metavar="PATH_OR_URL...", help="Report files or URLs."),
    json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
):
    settings = ctx.obj.settings
    factory = ctx.obj.sessionmaker()
    results: list[IngestResult] = []
    with progress(not json_out) as bar:
        task = bar.add_task("ingesting", total=len(sources))
        for source in sources:
            try:
                results.append(ingest_source(factory, source, settings))
            except ArchiverError as exc:
                message = str(exc) if source in str(exc) else f"{source}: {exc}"
                print_error(message)
                results.append(IngestResult(source=source, status="error", error=message))
            bar.advance(task)
    failed = sum(r.status == "error" for r in results)
    if json_out:
        emit_json({"reports": [r.as_dict() for r in results], "ok": failed == 0})
    else:
        _summary(results)
    if failed:
        raise typer.Exit(2 if failed == len(results) else 1)


def _summary(results: list[IngestResult]) -> None:
    ok = [r for r in results if r.status != "error"]
    if not ok:
        return
    out = console()
    out.print(table(None, ["report", "status", "format", "activities", "links", "source"],
                    [(r.report_id, r.status, r.format, r.activities, r.links, r.source) for r in ok]))
    counts = {s: sum(r.status == s for r in results) for s in ("ingested", "new_version", "unchanged", "error")}
    words = {"ingested": "ingested", "new_version": "new version(s)", "unchanged": "unchanged (already stored)",
             "error": "failed"}
    out.print(", ".join(f"{n} {words[s]}" for s, n in counts.items() if n))
