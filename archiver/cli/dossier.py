"""`archiver dossier --report N -o dossier.pdf|.html`: the report's evidence as one document to file."""
from __future__ import annotations

from pathlib import Path

import typer

from ..errors import InputError
from ..store import open_store
from .output import console, emit_json


def register(app: typer.Typer) -> None:
    app.command("dossier", help="Write a report's evidence dossier (each activity, its links, redirect chains, "
                "captures with source and SHA-256, screenshots) as PDF (printed by Chromium) or HTML.")(dossier)


def dossier(
    ctx: typer.Context,
    report: int = typer.Option(..., "--report", help="Report id."),
    output: Path = typer.Option(..., "--output", "-o", help="dossier.pdf or dossier.html"),
    json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
):
    from ..export.dossier import build, print_pdf, render_html

    kind = output.suffix.lower()
    if kind not in (".pdf", ".html", ".htm"):
        raise InputError(f"-o {output}: the dossier is written as .pdf or .html")
    settings = ctx.obj.settings
    with ctx.obj.sessionmaker()() as session:
        doc = build(session, open_store(settings.storage), report)
    html = render_html(doc)
    data = print_pdf(html, settings) if kind == ".pdf" else html.encode("utf-8")
    part = output.with_name(output.name + ".part")
    try:
        part.write_bytes(data)
        part.replace(output)
    except OSError as exc:
        raise InputError(f"cannot write {output}: {exc.strerror or exc}") from exc
    shots = sum(1 for a in doc["activities"] for li in a["links"] if li["screenshot"])
    result = {"path": str(output), "format": kind.lstrip("."), "bytes": len(data),
              "activities": len(doc["activities"]), "screenshots": shots}
    if json_out:
        emit_json(result)
    else:
        console().print(f"wrote {output}: {result['activities']} activities, {shots} screenshots, {len(data)} bytes",
                        markup=False, highlight=False, soft_wrap=True)
