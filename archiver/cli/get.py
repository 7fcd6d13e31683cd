"""`archiver get URL [--at TIMESTAMP] [-o FILE]`: the captured body, as served, from its WARC record.

URL may be a link as written in a report (Link.url_raw), a target (Target.url),
or a captured URL (Capture.url). The capture closest to ``--at`` (default: the
latest) is read at its stored offset; chunking and Content-Encoding are undone,
the bytes are otherwise exactly as served.
"""
from __future__ import annotations

import re
import shutil
import sys
from datetime import datetime, timezone
from pathlib import Path

import typer
from sqlalchemy import or_, select

from ..errors import InputError, NotFound


def register(app: typer.Typer) -> None:
    app.command("get", help="Write the captured body of URL (closest to --at; default the latest).")(get)


def parse_when(text: str) -> datetime:
    """A 4–14 digit timestamp (20160131, 20160131120000) or any ISO 8601 date/time; UTC if no zone."""
    raw = text.strip()
    try:
        if re.fullmatch(r"\d{4,14}", raw):
            padded = raw + "0101000000"[len(raw) - 4:] if len(raw) < 14 else raw
            dt = datetime.strptime(padded, "%Y%m%d%H%M%S")
        else:
            dt = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise InputError(f"--at: {text!r} is not a date/time (use ISO 8601 or a 14-digit timestamp)") from exc
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)


def find_captures(session, url: str) -> list:
    """Captures for URL: the role=target captures of a link/target written so, else captures of that URL."""
    from ..db.tables import Capture, Link, Target

    target_ids = set(session.scalars(select(Link.target_id).where(
        or_(Link.url_raw == url, Link.url_normalized == url))))
    target_ids |= set(session.scalars(select(Target.id).where(Target.url == url)))
    rows = []
    if target_ids:
        rows = list(session.scalars(select(Capture).where(
            Capture.target_id.in_(target_ids), Capture.role == "target")))
    if not rows:
        from ..persist import url_hash
        rows = list(session.scalars(select(Capture).where(Capture.url_hash == url_hash(url), Capture.url == url)))
    return rows


def closest(rows: list, at: datetime | None):
    if at is None:
        return max(rows, key=lambda c: (c.captured_at, c.id))
    return min(rows, key=lambda c: (abs((c.captured_at - at).total_seconds()), -c.id))


def get(ctx: typer.Context,
        url: str = typer.Argument(..., help="A link as written in a report, a target URL or a captured URL."),
        at: str = typer.Option(None, "--at", help="ISO 8601 date/time or 14-digit timestamp (default: latest)."),
        output: Path = typer.Option(None, "-o", "--output", help="Write to FILE instead of stdout.")):
    from ..capture.read import db_locator, open_payload
    from ..db.tables import Capture

    when = parse_when(at) if at else None
    Session = ctx.obj.sessionmaker()
    settings = ctx.obj.settings
    with Session() as session:
        rows = find_captures(session, url)
        if not rows:
            raise NotFound(f"no capture of {url}")
        cap = closest(rows, when)
        source = session.get(Capture, cap.revisit_of_id) if cap.is_revisit and cap.revisit_of_id else cap
        warc_file, offset = source.warc_file, source.offset
    _headers, payload = open_payload(settings.storage.root, warc_file, offset, locate=db_locator(Session))
    with payload:
        if output is not None:
            try:
                with open(output, "wb") as fh:
                    shutil.copyfileobj(payload, fh, 1 << 20)
            except OSError as exc:
                raise InputError(f"cannot write {output}: {exc.strerror or exc}") from exc
            return
        buffer = getattr(sys.stdout, "buffer", None)
        if buffer is not None:
            sys.stdout.flush()
            shutil.copyfileobj(payload, buffer, 1 << 20)
            buffer.flush()
        else:  # a text-only stdout (captured in-process): best effort
            sys.stdout.write(payload.read().decode("utf-8", errors="replace"))
