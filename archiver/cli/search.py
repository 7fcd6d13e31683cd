"""`archiver search QUERY`: ranked full-text hits over activity text and captured pages."""
from __future__ import annotations

import html
import re

import typer
from rich.table import Table
from rich.text import Text

from ..db.search import full_text_search
from .output import console, emit_json

_MARK = re.compile(r"<mark>(.*?)</mark>", re.S)


def register(app: typer.Typer) -> None:
    app.command("search", help='Full-text search: words, "phrases", OR, -excluded. '
                'Hits from activity text and from captured pages, best first.')(search)


def _highlighted(snippet_html: str | None) -> Text:
    """Rich text from the escaped snippet: matches in bold, everything else literal."""
    out = Text()
    if not snippet_html:
        return out
    pos = 0
    for m in _MARK.finditer(snippet_html):
        out.append(html.unescape(snippet_html[pos:m.start()]))
        out.append(html.unescape(m.group(1)), style="bold yellow")
        pos = m.end()
    out.append(html.unescape(snippet_html[pos:]))
    return out


def search(
    ctx: typer.Context,
    query: str = typer.Argument(..., help='What to look for, e.g. \'Qarabağ "açıq hökumət" -test\'.'),
    limit: int = typer.Option(20, "--limit", "-n", min=1, max=1000, help="At most this many hits."),
    json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
):
    Session = ctx.obj.sessionmaker()
    with Session() as session:
        hits = full_text_search(session, query, limit=limit)
    if json_out:
        emit_json({"query": query, "hits": hits})
        return
    out = console()
    if not hits:
        out.print(f"no hits for {query!r}")
        return
    t = Table(title=f"{len(hits)} hit(s) for {query!r}", header_style="bold")
    for name in ("score", "kind", "activity", "report", "captured", "url", "snippet"):
        t.add_column(name, overflow="fold")
    for h in hits:
        t.add_row(f"{h['score']:.3f}", h["kind"], str(h["activity_id"] or ""), str(h["report_id"] or ""),
                  (h["captured_at"] or "")[:19].replace("T", " "), h["url"] or "", _highlighted(h["snippet_html"]))
    out.print(t)
