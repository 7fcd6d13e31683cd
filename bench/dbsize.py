"""Database bytes per captured page, with the extracted text stored twice (schema 0001) and once (head).

    python bench/dbsize.py [--pages 300] [--kb 30]

The same pages (bench/sites.py: distinct ~30 KB prose pages on 10 loopback hosts) are
ingested, resolved, captured and extracted by ``archiver run`` into two fresh SQLite
databases: one created at migration 0001 (the FTS5 table keeps its own copy of every text)
and one at head (0003_search_once: FTS5 reads the text from the tables). Then the first is
upgraded with ``archiver init`` (the migration converts it) and VACUUMed. Sizes are of the
database file after a WAL checkpoint and VACUUM, beside the WARC bytes of the same pages.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.capture import warc_bytes, write_setup  # noqa: E402
from bench.sites import start_sites  # noqa: E402


def cli(cfg: Path, *args: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-m", "archiver", "--config", str(cfg), *args], capture_output=True,
                         text=True, env=env)
    if out.returncode != 0:
        raise SystemExit(f"archiver {' '.join(args)}: exit {out.returncode}\n{out.stderr[-2000:]}")


def db_file_bytes(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        conn.execute("VACUUM")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # after: in WAL mode VACUUM writes the WAL
    return sum(p.stat().st_size for p in db.parent.glob(db.name + "*"))


def build(work: Path, urls: list[str], revision: str) -> Path:
    """A database at ``revision`` holding the pages, run through every stage."""
    from archiver.config import load_settings
    from archiver.db import migrate
    from archiver.db.session import make_engine

    args = argparse.Namespace(concurrency=20, per_host=2, database=None)
    cfg = write_setup(work, urls, args)
    engine = make_engine(load_settings(cfg, env={}))
    migrate.upgrade(engine, revision)
    engine.dispose()
    cli(cfg, "ingest", "--json", str(work / "report.txt"))
    cli(cfg, "run", "--json")
    return cfg


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=300)
    ap.add_argument("--kb", type=int, default=30)
    args = ap.parse_args()
    bases, stop = start_sites(10, 0.0, args.kb)
    urls = [f"{bases[i % len(bases)]}/p/{i}" for i in range(args.pages)]
    root = Path(tempfile.mkdtemp(prefix="bench-dbsize-"))
    try:
        rows = []
        for label, revision in (("text twice (0001)", "0001"), ("text once (head)", "head")):
            work = root / revision
            work.mkdir()
            cfg = build(work, urls, revision)
            db = work / "storage" / "archiver.db"
            rows.append((label, db_file_bytes(db), warc_bytes(work)))
            if revision == "0001":
                cli(cfg, "init", "--json")  # the migration converts the database
                rows.append(("0001 upgraded to head", db_file_bytes(db), warc_bytes(work)))
        print(f"{args.pages} distinct ~{args.kb} KB pages captured and extracted (SQLite, after VACUUM):")
        for label, dbb, wb in rows:
            print(f"  {label:<24} database {dbb / 1e6:7.2f} MB = {dbb / args.pages / 1024:6.1f} KB per page   "
                  f"(WARCs {wb / args.pages / 1024:5.1f} KB per page)")
        print(f"  saved: {(1 - rows[1][1] / rows[0][1]) * 100:.0f}% of the database")
    finally:
        stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
