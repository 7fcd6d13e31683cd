"""`archiver health`: evidence coverage per report, the evidence at risk first, a page at a time."""
from __future__ import annotations

import typer
from rich.text import Text

from ..health import report_health
from .output import console, emit_json_stream, table, terminal_rows

JSON_PAGE = 100  # entries of each list in one --json answer unless --limit says otherwise


def register(app: typer.Typer) -> None:
    app.command("health", help="Evidence coverage per report; dead unpreserved evidence first.")(health)


def health(
    ctx: typer.Context,
    report: int = typer.Option(None, "--report", help="Only this report (id)."),
    limit: int = typer.Option(None, "--limit", "-n", min=0,
                              help=f"At most this many entries of each list (0: all). Default: {JSON_PAGE} with "
                                   "--json, what fits the terminal otherwise."),
    offset: int = typer.Option(0, "--offset", min=0, help="Skip this many first entries of each list."),
    json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
):
    Session = ctx.obj.sessionmaker()
    with Session() as s:
        if json_out:  # streamed: the lists are read from the database as they are written
            emit_json_stream(report_health(s, report, offset=offset, limit=JSON_PAGE if limit is None else (limit or None),
                                           lazy=True))
            return
        _print(report_health(s, report, offset=offset, limit=terminal_rows(per_row=2) // 2 if limit is None
                             else (limit or None), lazy=True, mark_lost=True), offset)


def _print(doc: dict, offset: int) -> None:
    c = console()
    seen = False
    for r in doc["reports"]:
        seen = True
        title = r["title"] or f"report {r['report_id']}"
        c.print(Text.assemble((title, "bold"), f" (report {r['report_id']}): {r['activities_with_evidence']} of "
                              f"{r['activities']} activities have preserved evidence ({r['coverage_pct']}%)"))
        if r["at_risk_count"]:
            rows = [[e["activity_id"], e["url"], e["status"], "yes" if e["lost"] else "",
                     e["reason"]] for e in r["at_risk"]]
            c.print(table("AT RISK: dead and not preserved", ["activity", "url", "status", "lost", "why"], rows))
            _more(c, "at risk", offset, len(rows), r["at_risk_count"], r["report_id"])
        if r["changed_count"]:
            rows = [[e["activity_id"], e["url"], e["state"], (e["since"] or "")[:10], "yes" if e["preserved"] else "no"]
                    for e in r["changed"]]
            c.print(table("changed since capture", ["activity", "url", "state", "checked", "preserved"], rows))
            _more(c, "changed", offset, len(rows), r["changed_count"], r["report_id"])
    if not seen:
        c.print("no reports yet: `archiver ingest FILE` first")


def _more(c, what: str, offset: int, shown: int, total: int, report_id: int) -> None:
    """Say which part of a list was shown and how to see the rest."""
    if offset or offset + shown < total:
        nxt = f"; next: --report {report_id} --offset {offset + shown}" if offset + shown < total else ""
        c.print(f"{what}: {offset + 1 if shown else offset}-{offset + shown} of {total}{nxt} "
                "(--limit N for more at once, 0 for all; --json for every field)", markup=False)
