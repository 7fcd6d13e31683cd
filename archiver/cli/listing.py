"""`archiver reports`, `archiver activities [--report ID]`, `archiver show ACTIVITY_ID`.

Thin callers of archiver.db.queries (which the web UI shares): tables on a
terminal, exactly one JSON document with --json.
"""
from __future__ import annotations

import typer
from rich.panel import Panel

from ..db import pages, queries
from .output import console, emit_json, emit_json_stream, literal, table, terminal_rows

JSON_PAGE = 100  # activities in one --json answer unless --limit says otherwise
TABLE_CHUNK = 50  # rows per printed table: rich lays out a whole table at once, so long listings come in parts
LINKS_SHOWN = 5  # of each activity in the table (`show` has them all)

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
               limit: int = typer.Option(None, "--limit", "-n", min=0,
                                         help=f"At most this many (0: all). Default: {JSON_PAGE} with --json, "
                                              "what fits the terminal otherwise."),
               offset: int = typer.Option(0, "--offset", min=0, help="Skip this many first."),
               json_out: bool = _JSON):
    with ctx.obj.sessionmaker()() as session:
        total = pages.count_activities(session, report)
        if json_out:
            limit = JSON_PAGE if limit is None else (limit or None)
            shown = max(0, min(total - offset, limit if limit is not None else total))
            # streamed: one document, the activities written as they are read (a batch in memory at a time)
            emit_json_stream({"total": total, "offset": offset, "limit": limit,
                              "next_offset": offset + shown if offset + shown < total else None,
                              "activities": pages.iter_activities(session, report, offset=offset, limit=limit)})
            return
        limit = terminal_rows(per_row=4) if limit is None else (limit or max(total - offset, 0))
        out = console()
        if offset >= total:
            out.print(table("Activities", ["id", "report", "#", "date", "links", "text"], []))
        for start in range(offset, min(offset + limit, total), TABLE_CHUNK):  # bounded layout work per table
            rows = pages.activity_lines(session, report, offset=start, limit=min(TABLE_CHUNK, offset + limit - start),
                                        links_shown=LINKS_SHOWN)
            out.print(table("Activities", ["id", "report", "#", "date", "links", "text"], [
                (a["id"], a["report_id"], a["ordinal"], _date(a), _links(a), _cut(a["text"], 160)) for a in rows]))
    shown = max(0, min(limit, total - offset))
    if offset + shown < total or offset:
        where = f"--report {report} " if report is not None else ""
        more = f"; next: {where}--offset {offset + shown}" if offset + shown < total else ""
        out.print(f"activities {offset + 1 if shown else offset}-{offset + shown} of {total}{more} "
                  "(--limit N for more at once, --json for every field)", markup=False)


def _links(a: dict) -> str:
    lines = [f"{l['url']} [{l['status']}]" for l in a["links"]]
    if a["links_total"] > len(lines):
        lines.append(f"... and {a['links_total'] - len(lines)} more (archiver show {a['id']})")
    return "\n".join(lines)


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
