"""`archiver reports`, `archiver activities [--report ID]`, `archiver show ACTIVITY_ID`.

Thin callers of archiver.db.queries (which the web UI shares): tables on a
terminal, exactly one JSON document with --json.
"""
from __future__ import annotations

import typer
from rich.panel import Panel

from ..db import queries
from .output import console, emit_json, literal, table

_JSON = typer.Option(False, "--json", help="Machine-readable output.")


def register(app: typer.Typer) -> None:
    app.command("reports", help="List ingested reports.")(reports)
    app.command("activities", help="List activities with their dates and links.")(activities)
    app.command("show", help="One activity: its text, date, links and what became of them.")(show)


def reports(ctx: typer.Context, json_out: bool = _JSON):
    with ctx.obj.sessionmaker()() as session:
        rows = queries.list_reports(session)
    if json_out:
        emit_json({"reports": rows})
        return
    console().print(table("Reports", ["id", "format", "activities", "links", "previous", "ingested", "title", "source"],
                          [(r["id"], r["format"], r["activities"], r["links"], r["previous_id"],
                            (r["ingested_at"] or "")[:16].replace("T", " "), _cut(r["title"] or "", 60), r["source"])
                           for r in rows]))


def _cut(text: str, n: int) -> str:
    return text if len(text) <= n else text[:n - 3] + "..."


def _date(a: dict) -> str:
    if not a["date"]:
        return ""
    d = a["date"] if a["date_end"] in (None, a["date"]) else f"{a['date']}..{a['date_end']}"
    return d + (" (inferred)" if a["date_inferred"] else "")


def activities(ctx: typer.Context, report: int = typer.Option(None, "--report", help="Only this report's activities."),
               json_out: bool = _JSON):
    with ctx.obj.sessionmaker()() as session:
        rows = queries.list_activities(session, report_id=report)
    if json_out:
        emit_json({"activities": rows})
        return
    console().print(table("Activities", ["id", "report", "#", "date", "links", "text"],
                          [(a["id"], a["report_id"], a["ordinal"], _date(a),
                            "\n".join(f"{l['url']} [{l['status']}]" for l in a["links"]),
                            _cut(a["text"], 160)) for a in rows]))


def show(ctx: typer.Context, activity_id: int = typer.Argument(..., metavar="ACTIVITY_ID"), json_out: bool = _JSON):
    with ctx.obj.sessionmaker()() as session:
        a = queries.activity_detail(session, activity_id)
    if json_out:
        emit_json(a)
        return
    out = console()
    when = _date(a) or "no date"
    if a["date_text"]:
        when += f'  ("{a["date_text"]}", {a["date_precision"]})'
    # Panel reads a str title as markup whatever the console says: Text objects throughout
    out.print(Panel(literal(a["text"]), title=literal(f"activity {a['id']} - report {a['report_id']} #{a['ordinal']}"),
                    subtitle=literal(when), expand=False))
    for link in a["links"]:
        out.print(table(f"link {link['position'] + 1}: {link['url']}", ["field", "value"], [
            ("normalized", link["url_normalized"]), ("status", link["status"]),
            ("reason", link["status_reason"]), ("final url", link["final_url"]),
            ("resolved by", link["resolution_method"]), *_answer_rows(link),
            ("hops", "\n".join(_hop_line(h) for h in link["hops"])),
            ("captures", "\n".join(("* " if c["id"] == link["chosen_capture_id"] else "  ")
                                   + f"{c['timestamp']} {c['http_status'] or ''} {c['source']} {c['warc_file']}@{c['offset']}"
                                   + (" NOT EVIDENCE" if c["not_evidence"] else "") for c in link["captures"])),
            ("evidence", f"* {link['chosen_because']}" if link["chosen_capture_id"] else link["chosen_because"]),
        ]))


def _hop_line(h: dict) -> str:
    line = f"{h['seq']}. {h['status_code'] or ''} {h['url']} ({h['kind']}"
    line += (f", attempt {h['attempt']}" if h.get("attempt", 1) > 1 else "") + ")"
    if h["kind"] == "error" and h.get("note"):  # why the live request failed
        line += ": " + _cut(h["note"], 200)
    return line


def _answer_rows(link: dict) -> list[tuple[str, str | None]]:
    """Both answers for a short link an archive resolved, and whether they agree."""
    if not (link.get("archived_target") or link.get("live_retry_at") or link.get("live_note")):
        return []
    rows = [("archive said", link["archived_target"]), ("shortener said", link["live_target"] or "no answer yet")]
    if link["answers"] == "agree":
        rows.append(("answers", "AGREE: the shortener and the archive name the same target"))
    elif link["answers"] == "disagree":
        rows.append(("answers", f"DISAGREE: the shortener says {link['live_target']}, "
                                f"the archive {link['archived_target']}"))
    if link.get("live_note"):
        rows.append(("live re-try", link["live_note"]))
    if link.get("live_retry_at"):
        rows.append(("next live try", link["live_retry_at"]))
    return rows
