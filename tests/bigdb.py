"""A large database built fast with bulk inserts, for the web's page-size tests and bench/web_pages.py.

One report of ``links`` links: ``activities`` activities of ``per_activity`` links each, and one more
activity citing all the remaining links (a hostile report can put everything in one paragraph). Targets
cycle through the states a page shows (captured, dead, failed and given up, refused, pending; every
seventh changed since capture); no captures, no WARC files (nothing for `verify` to read).
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone

from sqlalchemy import func, insert, select, text

from archiver.db.tables import Activity, Link, Report, Target

CHUNK = 20_000
STATES = [("captured", "done", False), ("dead", "done", False), ("failed", "capture", True),
          ("refused", "done", False), ("pending", "resolve", False)]


def _chunks(rows, n=CHUNK):
    for i in range(0, len(rows), n):
        yield rows[i:i + n]


def build(engine, links: int = 300_000, activities: int = 20_000, per_activity: int = 10) -> dict:
    """Insert the report; return its id, the big activity's id, a small activity's id and a target URL."""
    now = datetime(2020, 1, 1, tzinfo=timezone.utc)
    with engine.begin() as conn:
        report_id = conn.execute(insert(Report).returning(Report.id), {
            "source": "/tmp/huge-report.txt", "source_kind": "file", "sha256": "b" * 64, "format": "txt",
            "title": "A very long report", "meta": {}, "size_bytes": 80_000_000, "ingested_at": now}).scalar_one()
        # explicit ids (RETURNING with a kept order inserts one row per statement on SQLite), and targets and
        # links straight through the driver: SQLAlchemy's per-value work is most of the time otherwise
        t0 = (conn.scalar(select(func.max(Target.id))) or 0) + 1
        a0 = (conn.scalar(select(func.max(Activity.id))) or 0) + 1
        target_rows = []
        for i in range(links):
            url = f"http://site{i % 997}.example/page/{i}"
            status, stage, given_up = STATES[i % len(STATES)]
            target_rows.append({"id": t0 + i, "url": url, "url_hash": hashlib.sha256(url.encode()).hexdigest(), "status": status,
                                "stage": stage, "given_up": given_up, "is_short": False,
                                "status_reason": None if status in ("captured", "pending") else f"{status} for a test",
                                "watch_state": "changed" if i % 7 == 0 else None,
                                "last_checked_at": now if i % 7 == 0 else None, "attempts": 1, "live_retries": 0,
                                "created_at": now, "updated_at": now})
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        cols = list(target_rows[0])
        when = Target.__table__.c.created_at.type.bind_processor(conn.dialect)
        when = when(now) if when else now  # the driver's form of the one date used, made once
        sql = f"INSERT INTO targets ({', '.join(cols)}) VALUES ({', '.join([mark] * len(cols))})"
        for part in _chunks(target_rows):
            conn.exec_driver_sql(sql, [tuple(when if isinstance(r[c], datetime) else r[c] for c in cols)
                                       for r in part])
        target_ids = [r["id"] for r in target_rows]
        act_rows = [{"id": a0 + n, "report_id": report_id, "ordinal": n + 1, "date_inferred": False,
                     "text": f"Activity {n + 1} of a very long report."} for n in range(activities + 1)]
        for part in _chunks(act_rows):
            conn.execute(insert(Activity), part)
        act_ids = [r["id"] for r in act_rows]
        link_rows = []
        for i, (url_row, tid) in enumerate(zip(target_rows, target_ids)):
            small = i // per_activity
            act, pos = (act_ids[small], i % per_activity) if small < activities else (
                act_ids[-1], i - activities * per_activity)
            link_rows.append({"activity_id": act, "position": pos, "url_raw": url_row["url"], "text_raw": None,
                              "url_normalized": url_row["url"], "target_id": tid})
        sql = (f"INSERT INTO links (activity_id, position, url_raw, text_raw, url_normalized, target_id) "
               f"VALUES ({', '.join([mark] * 6)})")
        for part in _chunks(link_rows):
            conn.exec_driver_sql(sql, [(r["activity_id"], r["position"], r["url_raw"], r["text_raw"],
                                        r["url_normalized"], r["target_id"]) for r in part])
        if conn.dialect.name == "postgresql":  # the sequences go on after the ids we chose
            for table in ("targets", "activities"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
    if engine.dialect.name == "postgresql":  # the statistics autovacuum gathers after a bulk load (SQLite has none)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE targets, activities, links, captures, reports"))
    return {"report": report_id, "big_activity": act_ids[-1], "small_activity": act_ids[0],
            "url": target_rows[0]["url"], "links": links}
