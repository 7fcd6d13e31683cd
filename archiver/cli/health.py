"""`archiver health`: evidence coverage per report, the evidence at risk first."""
from __future__ import annotations

import typer
from rich.text import Text

from ..health import report_health
from .output import console, emit_json, table


def register(app: typer.Typer) -> None:
    app.command("health", help="Evidence coverage per report; dead unpreserved evidence first.")(health)


def health(
    ctx: typer.Context,
    report: int = typer.Option(None, "--report", help="Only this report (id)."),
    json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
):
    Session = ctx.obj.sessionmaker()
    with Session() as s:
        doc = report_health(s, report)
    if json_out:
        emit_json(doc)
        return
    c = console()
    if not doc["reports"]:
        c.print("no reports yet: `archiver ingest FILE` first")
        return
    for r in doc["reports"]:
        title = r["title"] or f"report {r['report_id']}"
        c.print(Text.assemble((title, "bold"), f" (report {r['report_id']}): {r['activities_with_evidence']} of "
                              f"{r['activities']} activities have preserved evidence ({r['coverage_pct']}%)"))
        if r["at_risk"]:
            lost = {(e["activity_id"], e["url"]) for e in r["lost"]}
            c.print(table("AT RISK: dead and not preserved", ["activity", "url", "status", "lost", "why"],
                          [[e["activity_id"], e["url"], e["status"],
                            "yes" if (e["activity_id"], e["url"]) in lost else "", e["reason"]]
                           for e in r["at_risk"]]))
        if r["changed"]:
            c.print(table("changed since capture", ["activity", "url", "state", "checked", "preserved"],
                          [[e["activity_id"], e["url"], e["state"],
                            f"{e['since']:%Y-%m-%d}" if e["since"] else "", "yes" if e["preserved"] else "no"]
                           for e in r["changed"]]))
