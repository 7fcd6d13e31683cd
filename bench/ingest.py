"""Ingestion speed and memory, each beside its baseline (issue 10).

    python bench/ingest.py [--pdf-activities 5200] [--docx-activities 10000] [--links 20000,40000]
                           [--pg URL | --no-pg] [--only pdf,docx,db] [--keep DIR]

* ``pdf``:  a ~1,050-page PDF (5,200 bulleted activities, 2 links each, drawn by reportlab with
  link annotations): archiver's ingest (pages read by one process per core, and in one process:
  ``ingest.pdf_processes: 1``) against bare pypdf text extraction of every page.
  Target: under 10 s and 200 MB peak RSS (the page readers' peak is printed beside).
* ``docx``: a 10,000-activity DOCX (python-docx, hyperlinks): archiver's ingest against bare
  python-docx (open, then every paragraph's and table cell's text).
* ``db``:   a text report of 20 k and 40 k links (one per activity), ingested into SQLite and
  into PostgreSQL (a fresh schema). Target: PostgreSQL within 1.5x of SQLite.

Each figure is measured in a child process of its own, so that peak RSS is its own
(interpreter and libraries included); seconds are wall time of parse + store (or of the
bare library's work), median of ``--repeat`` runs.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

FILLER = ("Representatives of state agencies, members of parliament and non-governmental organisations took part "
          "in the discussion of the draft law and of the recommendations prepared by the Platform's experts, "
          "who presented the results of their monitoring of the National Action Plan and answered questions from "
          "journalists and from the public; the proposals were submitted to the government on behalf of the "
          "Platform and the discussion was broadcast on the Public Radio and on Internet TV so that citizens in "
          "the regions could follow it. The Platform will publish the minutes of the meeting together with "
          "the list of participants and the recommendations adopted, and will follow up on each of them. ")
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]


def items(n: int):
    from tests.data.make_reports import Item

    out = []
    for i in range(n):
        text = (f"On {1 + i % 28} {MONTHS[i % 12]} {2016 + i % 4}, round-table number {i} was held in the "
                f"conference hall of the Platform with the participation of its members. " + FILLER)
        urls = [f"https://goo.gl/b{i:05d}x", f"https://example.org/reports/{2016 + i % 4}/item-{i}.pdf"]
        out.append(Item(text, urls, split_url=(i % 7 == 0)))
    return out


def links_report(n: int) -> bytes:
    lines = ["Links report", ""]
    lines += [f"- On {1 + i % 28} {MONTHS[i % 12]} 2018 meeting number {i} with deputies. "
              f"https://example.org/evidence/{i}/page.html" for i in range(n)]
    return ("\n".join(lines) + "\n").encode()


# ---- child side --------------------------------------------------------------------------------

@contextmanager
def scratch_store(db_url: str | None, pdf_processes: str = "auto") -> Iterator[tuple]:
    """(settings, Session) of a fresh migrated store in a temporary folder (SQLite there, or ``db_url``)."""
    from archiver.config import load_settings
    from archiver.db import migrate
    from archiver.db.session import make_engine, make_sessionmaker

    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(None, env={}, overrides={"database": {"url": db_url or f"sqlite:///{tmp}/b.db"},
                                                          "storage": {"root": tmp},
                                                          "ingest": {"pdf_processes": pdf_processes}})
        engine = make_engine(settings)
        migrate.upgrade(engine)
        try:
            yield settings, make_sessionmaker(engine)
        finally:
            engine.dispose()


def child_ingest(path: str, db_url: str | None, pdf_processes: str = "auto") -> dict:
    from archiver.ingest import ingest_source

    with scratch_store(db_url, pdf_processes) as (settings, Session):
        t0 = time.perf_counter()
        result = ingest_source(Session, path, settings)
        seconds = time.perf_counter() - t0
    return {"seconds": seconds, "activities": result.activities, "links": result.links, "status": result.status}


def child_bare(path: str) -> dict:
    t0 = time.perf_counter()
    if path.endswith(".pdf"):
        import pypdf

        reader = pypdf.PdfReader(path)
        chars = sum(len(p.extract_text() or "") for p in reader.pages)
    else:
        import docx
        from docx.table import Table

        chars = 0
        for item in docx.Document(path).iter_inner_content():
            if isinstance(item, Table):
                chars += sum(len(c.text) for row in item.rows for c in row.cells)
            else:
                chars += len(item.text)
    return {"seconds": time.perf_counter() - t0, "chars": chars}


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM: unlike ru_maxrss, not inherited from the parent across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(args) -> None:
    out = child_bare(args.child) if args.bare else child_ingest(args.child, args.db, args.pdf_processes)
    out["rss_mb"] = peak_rss_mb()
    # a big PDF's page readers (ingest.pdf_processes): the largest one's peak, shared pages included
    out["helper_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps(out))


# ---- parent side -------------------------------------------------------------------------------

def run_child(path: Path, *, bare: bool = False, db: str | None = None, pdf_processes: str = "auto") -> dict:
    """One measurement in a child process of its own (callers interleave and take medians: _median)."""
    cmd = [sys.executable, __file__, "--child", str(path), "--pdf-processes", pdf_processes] + \
          (["--bare"] if bare else []) + (["--db", db] if db else [])
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    if out.returncode:
        raise SystemExit(f"child failed: {out.stderr.strip().splitlines()[-1:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def pg_schema(url: str):
    """A scratch schema on the server (dropped after), or None when the server cannot be reached."""
    from sqlalchemy import create_engine, text

    name = "bench_" + uuid.uuid4().hex[:10]
    try:
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{name}"'))
    except Exception as exc:  # noqa: BLE001 - a bench without PostgreSQL still runs the rest
        print(f"  (PostgreSQL not reachable: {type(exc).__name__}; skipped)")
        return None, None
    sep = "&" if "?" in url else "?"

    def drop():
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()

    return f"{url}{sep}options=-csearch_path%3D{name}", drop


def bench_format(path: Path, repeat: int) -> bool:
    import pypdf

    # interleaved: this machine's speed changes from minute to minute
    ours, one, bare = [], [], []
    for _ in range(repeat):
        ours.append(run_child(path))
        if path.suffix == ".pdf":
            one.append(run_child(path, pdf_processes="1"))
        bare.append(run_child(path, bare=True))
    ours, bare = _median(ours), _median(bare)
    shape = f"{ours['activities']} activities, {ours['links']} links"
    if path.suffix == ".pdf":
        shape = f"{len(pypdf.PdfReader(str(path)).pages)} pages, " + shape
    good = ours["seconds"] < 10 and ours["rss_mb"] < 200
    lib = "pypdf" if path.suffix == ".pdf" else "python-docx"
    print(f"{path.name:10} {shape}, {path.stat().st_size / 2**20:.1f} MB  (median of {repeat})")
    helpers = f", largest page reader {ours['helper_rss_mb']:.0f} MB" if ours.get("helper_rss_mb", 0) > 1 else ""
    print(f"  archiver ingest   {ours['seconds']:6.2f} s  peak RSS {ours['rss_mb']:6.1f} MB{helpers}"
          f"  {'OK' if good else 'OVER TARGET (10 s / 200 MB)'}")
    if one:
        one = _median(one)
        print(f"    in one process  {one['seconds']:6.2f} s  peak RSS {one['rss_mb']:6.1f} MB"
              f"  (ingest.pdf_processes: 1)")
    print(f"  bare {lib:12} {bare['seconds']:6.2f} s  peak RSS {bare['rss_mb']:6.1f} MB"
          f"  -> archiver is {ours['seconds'] / bare['seconds']:.2f}x")
    return good


def _median(runs: list[dict]) -> dict:
    out = dict(runs[0])
    for key in ("seconds", "rss_mb", "helper_rss_mb"):
        out[key] = statistics.median(r.get(key, 0) for r in runs)
    return out


def bench_db(folder: Path, sizes: list[int], pg_url: str | None, repeat: int) -> bool:
    """SQLite and PostgreSQL runs interleaved (this machine's speed changes from minute to minute), medians."""
    ok = True
    for n in sizes:
        path = folder / f"links-{n}.txt"
        path.write_bytes(links_report(n))
        lite, pg = [], []
        for _ in range(repeat):
            lite.append(run_child(path))
            if pg_url:
                url, drop = pg_schema(pg_url)
                if url is None:
                    pg_url = None
                    continue
                try:
                    pg.append(run_child(path, db=url)["seconds"])
                finally:
                    drop()
        lite_s = statistics.median(r["seconds"] for r in lite)
        line = f"{n:6d} links  SQLite {lite_s:6.2f} s ({statistics.median(r['rss_mb'] for r in lite):.0f} MB)"
        if pg:
            pg_s = statistics.median(pg)
            good = pg_s <= 1.5 * lite_s
            ok &= good
            line += (f"  PostgreSQL {pg_s:6.2f} s  ratio {pg_s / lite_s:.2f}x"
                     f"  {'OK' if good else 'OVER TARGET (1.5x)'}")
            if repeat > 1:
                line += "  (runs: SQLite " + ", ".join(f"{r['seconds']:.2f}" for r in lite) + "; PostgreSQL " + \
                        ", ".join(f"{x:.2f}" for x in pg) + ")"
        print(line)
    return ok


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pdf-activities", type=int, default=5200)
    ap.add_argument("--docx-activities", type=int, default=10000)
    ap.add_argument("--links", default="20000,40000")
    ap.add_argument("--pg", default=os.environ.get("ARCHIVER_TEST_DATABASE_URL", PG_DEFAULT))
    ap.add_argument("--no-pg", action="store_true")
    ap.add_argument("--only", default="pdf,docx,db")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--keep", type=Path)
    ap.add_argument("--child")
    ap.add_argument("--bare", action="store_true")
    ap.add_argument("--db")
    ap.add_argument("--pdf-processes", default="auto")
    args = ap.parse_args()
    if args.child:
        child(args)
        return
    only = set(args.only.split(","))
    folder = args.keep or Path(tempfile.mkdtemp(prefix="archiver-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    ok = True
    from tests.data.make_reports import make_docx, make_pdf

    intro = "This benchmark report describes the activities of the Platform. " * 3
    for fmt, n, make in (("pdf", args.pdf_activities, make_pdf), ("docx", args.docx_activities, make_docx)):
        if fmt not in only:
            continue
        path = folder / f"bench.{fmt}"
        if not path.exists():
            t0 = time.perf_counter()
            path.write_bytes(make("Benchmark report", intro, items(n)))
            print(f"(generated {path.name} in {time.perf_counter() - t0:.1f} s)")
        ok &= bench_format(path, args.repeat)
    if "db" in only:
        ok &= bench_db(folder, [int(x) for x in args.links.split(",")], None if args.no_pg else args.pg,
                       args.repeat)
    if not args.keep:
        for f in folder.iterdir():
            f.unlink()
        folder.rmdir()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
