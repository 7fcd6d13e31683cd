"""`archiver search QUERY`: ranked full-text hits over activity text and captured pages."""
from __future__ import annotations

import html
import re

from typing import TYPE_CHECKING

import typer

from .output import console, emit_json

if TYPE_CHECKING:
    from rich.text import Text

_MARK = re.compile(r"<mark>(.*?)</mark>", re.S)


def register(app: typer.Typer) -> None:
    app.command("search", help='Full-text search: words, "phrases", OR, -excluded. '
                'Hits from activity text and from captured pages, best first.')(search)


def _highlighted(snippet_html: str | None) -> Text:
    """Rich text from the escaped snippet: matches in bold, everything else literal."""
    from rich.text import Text

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
    from ..db.search import full_text_search  # with SQLAlchemy: after the arguments are checked

    with ctx.obj.connection() as connection:  # Core: a search needs no ORM session
        hits = full_text_search(connection, query, limit=limit)
    if json_out:
        emit_json({"query": query, "hits": hits})
        return
    out = console()
    if not hits:
        out.print(f"no hits for {query!r}")
        return
    from rich.table import Table

    t = Table(title=f"{len(hits)} hit(s) for {query!r}", header_style="bold", expand=True)
    for name in ("score", "kind", "report/activity", "captured"):
        t.add_column(name, no_wrap=True)
    t.add_column("url", overflow="fold", ratio=1, min_width=12)
    t.add_column("snippet", overflow="fold", ratio=3, min_width=30)
    for h in hits:
        where = f"{h['report_id']}/{h['activity_id']}" if h["activity_id"] is not None else "-"
        t.add_row(f"{h['score']:.3f}", h["kind"], where, (h["captured_at"] or "")[:10], h["url"] or "",
                  _highlighted(h["snippet_html"]))
    out.print(t)
