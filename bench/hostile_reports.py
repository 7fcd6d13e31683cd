"""Peak memory and time of hostile and largest-accepted reports, with the default `ingest:` limits.

    python bench/hostile_reports.py [--only NAME,...] [--db URL]

Each report is ingested by a child process of its own into a fresh SQLite database (or
``--db``); printed: accepted/refused (with the one-line error), wall seconds, peak RSS of
the process (interpreter and libraries included). Target: every accepted report under
500 MB, every refused one refused before it costs more than the largest accepted one.
Shapes (issue 9): the DOCX zip bomb (3 GiB document.xml), a 200 k-page PDF, an 80 MB HTML
report of 1 M links, and the largest reports the limits accept: 100 k links as HTML and as
text, 100 k activities, and a 50 MB text report of long paragraphs.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.ingest import peak_rss_mb, scratch_store  # noqa: E402


def html_links(n: int) -> bytes:
    rows = "".join(f'<li>On 3 May 2017 activity number {i} was held with members. '
                   f'<a href="https://example.org/p/{i}">minutes</a></li>\n' for i in range(n))
    return f"<html><head><title>Big</title></head><body><h1>Big</h1><ul>{rows}</ul></body></html>".encode()


def text_links(n: int) -> bytes:
    return ("Big report\n\n" + "".join(f"- On 3 May 2017 activity number {i} was held with participants. "
                                       f"https://example.org/t/{i}\n" for i in range(n))).encode()


def text_paragraphs(total: int, size: int = 2500) -> bytes:
    para = ("The Platform met members of parliament and discussed the draft law in detail. " * 40)[:size - 1] + "."
    n = total // (size + 2)
    return ("Long report\n\n" + "".join(f"{i} {para}\n\n" for i in range(n))).encode()


def shapes() -> dict:
    from tests import hostile_files as hostile

    return {
        "bomb.docx": lambda: hostile.zip_bomb_docx(3 << 30),
        "pages-200k.pdf": lambda: hostile.many_pages_pdf(200_000),
        "links-1M.html": lambda: html_links(1_000_000),              # ~90 MB: over max_report_bytes
        "links-380k.html": lambda: html_links(380_000),             # ~43 MB: over max_links
        "accepted-links-100k.html": lambda: html_links(100_000),
        "accepted-links-100k.txt": lambda: text_links(100_000),
        "accepted-50MB-paragraphs.txt": lambda: text_paragraphs(49_000_000),
    }


def child(path: str, db: str | None) -> None:
    from archiver.errors import ArchiverError
    from archiver.ingest import ingest_source

    with scratch_store(db) as (settings, Session):
        t0 = time.perf_counter()
        try:
            r = ingest_source(Session, path, settings)
            out = {"result": f"accepted: {r.activities} activities, {r.links} links"}
        except ArchiverError as exc:
            out = {"result": f"refused: {exc}"}
        out["seconds"] = time.perf_counter() - t0
    out["rss_mb"] = peak_rss_mb()
    print(json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only")
    ap.add_argument("--db")
    ap.add_argument("--child")
    args = ap.parse_args()
    if args.child:
        child(args.child, args.db)
        return
    all_shapes = shapes()
    names = args.only.split(",") if args.only else list(all_shapes)
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            path = Path(tmp) / name
            path.write_bytes(all_shapes[name]())
            cmd = [sys.executable, __file__, "--child", str(path)] + (["--db", args.db] if args.db else [])
            done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
            if done.returncode:
                print(f"{name:30} CRASHED: {done.stderr.strip().splitlines()[-1:]}")
                continue
            out = json.loads(done.stdout.strip().splitlines()[-1])
            if out["result"].startswith("accepted"):
                worst = max(worst, out["rss_mb"])
            print(f"{name:30} {path.stat().st_size / 2**20:7.1f} MB  {out['seconds']:6.1f} s  "
                  f"peak RSS {out['rss_mb']:6.0f} MB  {out['result'][:110]}")
            path.unlink()
    print(f"worst accepted input: peak RSS {worst:.0f} MB (target < 500 MB)")
    sys.exit(0 if worst < 500 else 1)


if __name__ == "__main__":
    main()
