"""Nightly re-check speed: the watch step against capturing the same number of new links.

    python bench/watch.py [--pages 300] [--hosts 10] [--latency 0.2] [--kb 30] [--concurrency 8]
                          [--per-host 2] [--order interleaved|grouped]

The shape of issue 10: 300 links at 200 ms latency (bench/sites.py, 10 loopback hosts), the
shipped fetch settings but ``politeness_delay_s: 0``. archiver runs as whole processes:
``init``, ``ingest``, ``run --stage resolve``, ``run --stage capture`` (timed), then every
target is made due (``next_check_at`` in the past) and ``run --stage watch`` re-checks
them all (timed). Before issue 10 the watch step took one link at a time: 63 s against
11.5 s for the capture of the same 300 links.
"""
from __future__ import annotations

import argparse
import shutil
import sqlite3
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.capture import Timed, machine, write_setup  # noqa: E402
from bench.sites import start_sites  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=300)
    ap.add_argument("--hosts", type=int, default=10)
    ap.add_argument("--latency", type=float, default=0.2)
    ap.add_argument("--kb", type=int, default=30)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--per-host", type=int, default=2)
    ap.add_argument("--order", choices=("interleaved", "grouped"), default="interleaved")
    args = ap.parse_args()
    args.database = None
    print(f"machine: {machine()}")
    bases, stop = start_sites(args.hosts, args.latency, args.kb)
    per = [[f"{b}/p/{h + args.hosts * i}" for i in range(-(-args.pages // args.hosts))] for h, b in enumerate(bases)]
    urls = ([u for row in zip(*per) for u in row] if args.order == "interleaved"
            else [u for row in per for u in row])[: args.pages]
    work = Path(tempfile.mkdtemp(prefix="bench-watch-"))
    try:
        cfg = write_setup(work, urls, args)
        import os
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        cli = [sys.executable, "-m", "archiver", "--config", str(cfg)]
        for step in (["init", "--json"], ["ingest", "--json", str(work / "report.txt")],
                     ["run", "--stage", "resolve", "--json"]):
            Timed(step[0], cli + step, cwd=work, env=env)
        cap = Timed("run --stage capture", cli + ["run", "--stage", "capture", "--json"], cwd=work, env=env)
        if cap.doc.get("captured") != args.pages:
            raise SystemExit(f"captured {cap.doc.get('captured')} of {args.pages}")
        with sqlite3.connect(work / "storage" / "archiver.db") as db:
            db.execute("UPDATE targets SET next_check_at = '2000-01-01 00:00:00.000000'")
        watch = Timed("run --stage watch", cli + ["run", "--stage", "watch", "--json"], cwd=work, env=env)
        checked = (watch.doc.get("watch") or {}).get("checked")
        print(f"shape: {args.pages} links ({args.order}) on {args.hosts} loopback hosts, {args.latency * 1000:.0f} ms "
              f"latency; fetch.concurrency {args.concurrency}, per_host_concurrency {args.per_host}, "
              f"politeness_delay_s 0, SQLite")
        print(cap.line())
        print(watch.line() + f"   ({checked} re-checked)")
        print(f"re-check / capture wall: {watch.wall / cap.wall:.2f} (before issue 10: 63 s / 11.5 s = 5.5)")
    finally:
        stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
