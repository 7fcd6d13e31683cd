"""Persist a ParsedReport: report, activities, links and their targets, in ONE transaction.

The caller owns the session and commits; nothing is half-written because every
row of a report is added before that single commit. Rows go to the database in
batches of `BATCH` activities (their targets, activities, links), so that the
row dictionaries of a 100 k-link report are never all built at once. Targets are
shared between reports: one row per normalized URL (``url_hash`` unique), created
with an ``INSERT ... ON CONFLICT DO NOTHING`` so that two ingests running at once
do not fail on each other's new targets.

Looking targets up: on PostgreSQL one ``url_hash = ANY(%s)`` with the batch as one
array parameter. The ``IN (500 parameters)`` form, once psycopg prepared it on the
server (its fifth run), took 0.56 s a chunk: 45 of the 47 s of a 40 k-link ingest.
SQLite keeps ``IN`` (no arrays), in chunks under its bound-parameter limit.
"""
from __future__ import annotations

from typing import Iterable, Sequence

from sqlalchemy import Boolean, String, Text, any_, bindparam, func, insert, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ..db.tables import Activity, Link, Report, Target
from ..model import ParsedReport
from ..persist import url_hash
from . import links as linkmod

_CHUNK = 500  # bind-parameter friendly batch size for IN (...) on SQLite
BATCH = 2000  # activities stored per round of inserts


def find_by_sha256(session: Session, sha256: str) -> Report | None:
    return session.scalar(select(Report).where(Report.sha256 == sha256))


def latest_for_source(session: Session, source: str) -> Report | None:
    return session.scalar(select(Report).where(Report.source == source).order_by(Report.id.desc()).limit(1))


def ensure_targets(session: Session, normalized: Iterable[str], shorteners: Sequence[str]) -> dict[str, int]:
    """Target ids for normalized URLs, creating the missing ones (race-safe)."""
    by_hash = {url_hash(u): u for u in dict.fromkeys(normalized)}
    ids = _existing(session, list(by_hash))
    missing = [h for h in by_hash if h not in ids]
    if missing:
        urls = [by_hash[h] for h in missing]
        shorts = [linkmod.is_short(u, shorteners) for u in urls]
        if session.get_bind().dialect.name == "postgresql":
            # one statement over three arrays (the columns' defaults filled in by SQLAlchemy), not a
            # multi-row INSERT whose placeholders psycopg rewrites one by one
            rows = select(func.unnest(bindparam("u", urls, type_=ARRAY(Text))),
                          func.unnest(bindparam("h", missing, type_=ARRAY(String))),
                          func.unnest(bindparam("s", shorts, type_=ARRAY(Boolean))))
            session.execute(pg_insert(Target).from_select(["url", "url_hash", "is_short"], rows)
                            .on_conflict_do_nothing(index_elements=["url_hash"]))
        else:
            session.execute(sqlite_insert(Target).on_conflict_do_nothing(index_elements=["url_hash"]),
                            [{"url": u, "url_hash": h, "is_short": short} for u, h, short in zip(urls, missing, shorts)])
        ids.update(_existing(session, missing))
    return {by_hash[h]: i for h, i in ids.items()}


def _existing(session: Session, hashes: list[str]) -> dict[str, int]:
    if not hashes:
        return {}
    if session.get_bind().dialect.name == "postgresql":
        wanted = bindparam("hashes", hashes, type_=ARRAY(String))
        return dict(session.execute(select(Target.url_hash, Target.id).where(Target.url_hash == any_(wanted))).all())
    out: dict[str, int] = {}
    for i in range(0, len(hashes), _CHUNK):
        chunk = hashes[i:i + _CHUNK]
        out.update(session.execute(select(Target.url_hash, Target.id).where(Target.url_hash.in_(chunk))).all())
    return out


def save_report(session: Session, parsed: ParsedReport, source: str, source_kind: str, sha256: str,
                size: int, *, shorteners: Sequence[str] = (), previous_id: int | None = None) -> Report:
    """Add the report and everything under it to ``session`` (flushed, not committed)."""
    report = Report(source=source, source_kind=source_kind, sha256=sha256, format=parsed.format,
                    title=parsed.title, meta=parsed.meta, size_bytes=size, previous_id=previous_id)
    session.add(report)
    session.flush()
    acts = parsed.activities
    for i in range(0, len(acts), BATCH):
        _save_batch(session, report.id, acts[i:i + BATCH], shorteners)
    return report


def _save_batch(session: Session, report_id: int, acts: Sequence, shorteners: Sequence[str]) -> None:
    targets = ensure_targets(session, (cl.url_normalized for a in acts for cl in a.links), shorteners)
    # Core bulk inserts (executemany with RETURNING): the ORM unit of work is 5x slower for
    # the thousands of rows of a long report, and nothing here needs the identity map.
    act_rows = [{"report_id": report_id, "ordinal": pa.ordinal, "text": pa.text, "date_start": pa.date.start,
                 "date_end": pa.date.end, "date_text": pa.date.text, "date_precision": pa.date.precision,
                 "date_inferred": pa.date.inferred} for pa in acts]
    if session.get_bind().dialect.name == "postgresql":
        _copy_batch(session, act_rows, acts, targets)
        return
    # RETURNING the ordinal, in no particular order: asked in the parameters' order, SQLite inserted one
    # row per statement (a fifth of a 5,000-activity report's store); ordinals are unique in a report
    by_ordinal = dict((o, i) for i, o in session.execute(insert(Activity).returning(Activity.id, Activity.ordinal),
                                                         act_rows))
    act_ids = [by_ordinal[pa.ordinal] for pa in acts]
    link_rows = [{"activity_id": act_id, "position": pos, "url_raw": cl.url_raw, "text_raw": cl.text_raw,
                  "url_normalized": cl.url_normalized, "target_id": targets[cl.url_normalized]}
                 for act_id, pa in zip(act_ids, acts) for pos, cl in enumerate(pa.links)]
    if link_rows:
        session.execute(insert(Link), link_rows)


_ACTIVITY_COLUMNS = ("id", "report_id", "ordinal", "text", "date_start", "date_end", "date_text", "date_precision",
                     "date_inferred")
_LINK_COLUMNS = ("activity_id", "position", "url_raw", "text_raw", "url_normalized", "target_id")


def _copy_batch(session: Session, act_rows: list[dict], acts: Sequence, targets: dict[str, int]) -> None:
    """PostgreSQL: the batch's activities and links with COPY, in the session's transaction, the activities'
    ids taken from their sequence first. As multi-row INSERTs psycopg turned every row's placeholders into
    its own (~50 µs a row): PostgreSQL took 1.8x SQLite's time on a 40 k-link report (issue 10)."""
    ids = sorted(session.scalars(text("SELECT nextval(pg_get_serial_sequence('activities', 'id')) "
                                      "FROM generate_series(1, :n)"), {"n": len(act_rows)}))
    with session.connection().connection.driver_connection.cursor() as cursor:
        with cursor.copy(f"COPY activities ({', '.join(_ACTIVITY_COLUMNS)}) FROM STDIN") as copy:
            for act_id, row in zip(ids, act_rows):
                copy.write_row((act_id, *(row[c] for c in _ACTIVITY_COLUMNS[1:])))
        with cursor.copy(f"COPY links ({', '.join(_LINK_COLUMNS)}) FROM STDIN") as copy:
            for act_id, pa in zip(ids, acts):
                for pos, cl in enumerate(pa.links):
                    copy.write_row((act_id, pos, cl.url_raw, cl.text_raw, cl.url_normalized,
                                    targets[cl.url_normalized]))
