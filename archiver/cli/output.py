"""Terminal rendering vs --json: tables and progress for people, one JSON document for scripts."""
from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping

if TYPE_CHECKING:  # rich is imported where it draws: `--json` answers never load it (start-up time)
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text


def _default(o: Any):
    if isinstance(o, datetime):
        from ..db.types import iso_utc  # here: `--help` of a command must not import SQLAlchemy

        return iso_utc(o)
    if isinstance(o, date):
        return o.isoformat()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def emit_json(doc: Any) -> None:
    """Exactly one JSON document on stdout."""
    sys.stdout.write(json.dumps(doc, default=_default, ensure_ascii=False, indent=2))
    sys.stdout.write("\n")
    sys.stdout.flush()


def emit_json_stream(doc: Mapping[str, Any], out=None) -> None:
    """Exactly one JSON document on stdout, written as it is produced (archiver/jsonstream.py): an iterator
    in ``doc`` is written as an array one element at a time, each element compact on a line of its own."""
    from ..jsonstream import write

    out = out or sys.stdout
    write(doc, out.write, default=_default)
    out.flush()


def emit_json_line(doc: Any) -> None:
    """One compact JSON document on one line (streams of results, e.g. one per scheduled run)."""
    sys.stdout.write(json.dumps(doc, default=_default, ensure_ascii=False))
    sys.stdout.write("\n")
    sys.stdout.flush()


def console() -> Console:
    """The terminal console. Markup, emoji codes and highlighting are off: what we print is mostly
    user text (report titles, file names, URLs, page text), where ``[/]`` or ``:smile:`` must come
    out as written, never be read as styling (rich raises on ``[/]``). Style with Text objects."""
    from rich.console import Console

    return Console(markup=False, emoji=False, highlight=False, soft_wrap=False)


def literal(value: Any) -> "Text":
    """Any value as rich Text, printed literally whatever the console's settings."""
    from rich.text import Text

    return value if isinstance(value, Text) else Text("" if value is None else str(value))


def terminal_rows(per_row: int = 1, least: int = 5) -> int:
    """How many rows of ``per_row`` lines fit the terminal under a table's header and a footer line."""
    import shutil

    return max(least, (shutil.get_terminal_size().lines - 6) // per_row)


def table(title: str | None, columns: Iterable[str], rows: Iterable[Iterable[Any]]) -> Table:
    from rich.table import Table

    t = Table(title=None if title is None else literal(title), show_lines=False, header_style="bold")
    for c in columns:
        t.add_column(literal(c), overflow="fold")
    for r in rows:
        t.add_row(*[literal(v) for v in r])
    return t


class _NullProgress:
    def add_task(self, *a, **k):
        return 0

    def update(self, *a, **k):
        pass

    def advance(self, *a, **k):
        pass


@contextmanager
def progress(enabled: bool) -> Iterator[Any]:
    """A rich progress display on a terminal; silent when --json or not a TTY."""
    if not enabled or not sys.stderr.isatty():
        yield _NullProgress()
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}", style="bold", markup=False), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=Console(stderr=True, markup=False, emoji=False),
                  transient=False) as p:
        yield p


def stage_bars(bar) -> Callable[[str, int, int], None]:
    """A pipeline progress callback (stage, done, total) drawing one bar per stage."""
    tasks: dict[str, int] = {}

    def on_progress(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = bar.add_task(stage, total=total)
        bar.update(tasks[stage], completed=done, total=total)

    return on_progress
