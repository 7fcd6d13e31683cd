"""Ingestion speed: a 300-page PDF and a DOCX of the same size (~1,500 activities, ~3,000 links).

    python bench/ingest.py [--activities 1500] [--keep DIR]

Each report is ingested into a fresh temporary SQLite database in a child process,
so that the figures are its own: wall seconds (parse + store), peak RSS of the
process (interpreter and libraries included) and the peak of Python allocations
(tracemalloc, measured in a second run because tracing slows the code down).
Target: each under 10 s and 200 MB.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

FILLER = ("Representatives of state agencies, members of parliament and non-governmental organisations took part "
          "in the discussion of the draft law and of the recommendations prepared by the Platform's experts, "
          "who presented the results of their monitoring of the National Action Plan and answered questions from "
          "journalists and from the public; the proposals were submitted to the government on behalf of the "
          "Platform and the discussion was broadcast on the Public Radio and on Internet TV so that citizens in "
          "the regions could follow it. The Platform will publish the minutes of the meeting together with "
          "the list of participants and the recommendations adopted, and will follow up on each of them. ")


def items(n: int):
    from tests.data.make_reports import Item

    months = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
              "November", "December"]
    out = []
    for i in range(n):
        text = (f"On {1 + i % 28} {months[i % 12]} {2016 + i % 4}, round-table number {i} was held in the "
                f"conference hall of the Platform with the participation of its members. " + FILLER)
        urls = [f"https://goo.gl/b{i:05d}x", f"https://example.org/reports/{2016 + i % 4}/item-{i}.pdf"]
        out.append(Item(text, urls, split_url=(i % 7 == 0)))
    return out


def generate(n: int, folder: Path) -> list[Path]:
    from tests.data.make_reports import make_docx, make_pdf

    its = items(n)
    intro = "This benchmark report describes the activities of the Platform. " * 3
    pdf = folder / "bench.pdf"
    pdf.write_bytes(make_pdf("Benchmark report", intro, its))
    docx = folder / "bench.docx"
    docx.write_bytes(make_docx("Benchmark report", intro, its))
    return [pdf, docx]


def child(path: str, trace: bool) -> None:
    """Ingest one file into a fresh SQLite database and print figures as JSON."""
    import tracemalloc

    from archiver.config import load_settings
    from archiver.db import migrate
    from archiver.db.session import make_engine, make_sessionmaker
    from archiver.ingest import ingest_source

    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(None, env={}, overrides={"database": {"url": f"sqlite:///{tmp}/bench.db"},
                                                          "storage": {"root": tmp}})
        engine = make_engine(settings)
        migrate.upgrade(engine)
        factory = make_sessionmaker(engine)
        if trace:
            tracemalloc.start()
        t0 = time.perf_counter()
        result = ingest_source(factory, path, settings)
        seconds = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1] if trace else None
        engine.dispose()
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": seconds, "rss_mb": rss_kb / 1024, "traced_mb": peak / 2**20 if peak else None,
                      "activities": result.activities, "links": result.links, "status": result.status}))


def run_child(path: Path, trace: bool) -> dict:
    cmd = [sys.executable, __file__, "--child", str(path)] + (["--trace"] if trace else [])
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=REPO)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--activities", type=int, default=1500)
    ap.add_argument("--keep", type=Path)
    ap.add_argument("--child")
    ap.add_argument("--trace", action="store_true")
    args = ap.parse_args()
    if args.child:
        child(args.child, args.trace)
        return
    folder = args.keep or Path(tempfile.mkdtemp(prefix="archiver-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    files = generate(args.activities, folder)
    print(f"generated in {time.perf_counter() - t0:.1f}s: " + ", ".join(f"{f.name} {f.stat().st_size / 2**20:.1f} MB"
                                                                        for f in files))
    if files[0].suffix == ".pdf":
        import pypdf
        print(f"  {files[0].name}: {len(pypdf.PdfReader(str(files[0])).pages)} pages")
    ok = True
    for f in files:
        plain = run_child(f, trace=False)
        traced = run_child(f, trace=True)
        good = plain["seconds"] < 10 and plain["rss_mb"] < 200
        ok &= good
        print(f"{f.name:12} {plain['activities']:5d} activities {plain['links']:5d} links  "
              f"{plain['seconds']:6.2f} s  peak RSS {plain['rss_mb']:6.1f} MB  "
              f"peak Python allocations {traced['traced_mb']:6.1f} MB  {'OK' if good else 'OVER TARGET'}")
    if not args.keep:
        for f in files:
            os.unlink(f)
        os.rmdir(folder)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
