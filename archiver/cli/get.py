"""`archiver get URL [--at TIMESTAMP | --latest] [--list] [--json] [-o FILE]`: the evidence, as served.

URL may be a link as written in a report (Link.url_raw), a target (Target.url),
or a captured URL (Capture.url). By default the newest capture that is evidence
(2xx, not marked not-evidence) is served, else the newest capture; ``--latest``
serves the newest whatever it is, ``--at`` the one closest to a time
(:func:`archiver.db.queries.choose_capture`, the rule the web UI and the export
summary use too). Which capture and why goes to stderr (``--json``: the capture's
fields and ``chosen_because`` on stdout; the body then only with ``-o``).
``--list`` lists every capture. The record is read at its stored offset;
chunking and Content-Encoding are undone, the bytes are otherwise exactly as served.
``--screenshot`` writes the chosen capture's full-page screenshot (PNG) instead, when the
page was loaded in the browser (``capture.browser``).
"""
from __future__ import annotations

import re
import shutil
import sys
from datetime import datetime, timezone
from pathlib import Path

import typer
from ..errors import InputError
from .output import console, emit_json, table


def register(app: typer.Typer) -> None:
    app.command("get", help="Write the evidence captured for URL: the newest capture that is evidence "
                            "(or --latest, or closest to --at); --list lists them all.")(get)


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


def _list(doc: dict, json_out: bool) -> None:
    if json_out:
        emit_json(doc)
        return
    out = console()
    out.print(table(f"captures of {doc['url']}", ["", "id", "captured", "HTTP", "source", "evidence", "sha256"], [
        ("*" if c["id"] == doc["chosen_capture_id"] else "", c["id"], c["timestamp"], c["http_status"],
         c["source"] + (f": {c['archive_name']}" if c.get("archive_name") else ""),
         "yes" if c["evidence"] else ("no: " + c["not_evidence_reason"] if c["not_evidence_reason"] else "no"),
         (c["sha256"] or "")[:16]) for c in doc["captures"]]))
    out.print(f"* served by `archiver get`: {doc['chosen_because']}")


def _write(payload, output: Path | None) -> None:
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


def get(ctx: typer.Context,
        url: str = typer.Argument(..., help="A link as written in a report, a target URL or a captured URL."),
        at: str = typer.Option(None, "--at", help="ISO 8601 date/time or 14-digit timestamp: the capture closest to it."),
        latest: bool = typer.Option(False, "--latest", help="The newest capture, whether it is evidence or not."),
        list_all: bool = typer.Option(False, "--list", help="List every capture of URL (which one get serves, and why)."),
        json_out: bool = typer.Option(False, "--json", help="The chosen capture's fields and chosen_because "
                                                            "(the body only with -o)."),
        output: Path = typer.Option(None, "-o", "--output", help="Write to FILE instead of stdout."),
        screenshot: bool = typer.Option(False, "--screenshot", help="The capture's full-page screenshot (PNG) "
                                                                  "instead of its body.")):
    from ..capture.read import db_locator, open_payload
    from ..db import queries
    from ..db.tables import Capture
    from ..errors import NotFound

    if at and latest:
        raise InputError("--at and --latest choose differently: give one of them")
    when = parse_when(at) if at else None
    Session = ctx.obj.sessionmaker()
    settings = ctx.obj.settings
    with Session() as session:
        doc = queries.capture_list(session, url, at=when, latest=latest)
        if list_all:
            _list(doc, json_out)
            return
        chosen = next(c for c in doc["captures"] if c["id"] == doc["chosen_capture_id"])
        cap = session.get(Capture, chosen["id"])
        if screenshot:
            from sqlalchemy import select

            shot = session.scalar(select(Capture).where(Capture.parent_id == cap.id, Capture.role == "screenshot")
                                  .order_by(Capture.id.desc()).limit(1))
            if shot is None:
                raise NotFound(f"capture {cap.id} of {cap.url} has no screenshot (the page was not loaded in "
                               "the browser: see capture.browser)")
            chosen = {**queries.capture_dict(shot, full=True), "page_capture_id": cap.id}
            cap = shot
        source = session.get(Capture, cap.revisit_of_id) if cap.is_revisit and cap.revisit_of_id else cap
        warc_file, offset = source.warc_file, source.offset
    if json_out and output is None:
        emit_json({**chosen, "chosen_because": doc["chosen_because"]})
        return
    from ..store import open_store

    _headers, payload = open_payload(open_store(settings.storage), warc_file, offset, locate=db_locator(Session),
                                     max_bytes=settings.fetch.max_bytes)
    with payload:
        _write(payload, output)
    if payload.truncated:
        sys.stderr.write(f"warning: the body decodes to more than fetch.max_bytes ({settings.fetch.max_bytes} "
                         "bytes): cut there (the WARC record holds it whole, encoded)\n")
    if json_out:
        emit_json({**chosen, "chosen_because": doc["chosen_because"], "output": str(output)})
    else:
        sys.stderr.write(f"capture {chosen['id']}: {doc['chosen_because']}\n")
