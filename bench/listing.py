"""Listings at size: `activities`, `status`, `health` and the front page over 20 k, 100 k and 250 k links.

    python bench/listing.py [--sizes 20000,100000,250000] [--postgres URL] [--baseline REV] [--timeout 300]

Each size is one report built straight with SQL (tests/bigdb.py: activities of 10 links; every fifth link
dead, failed and given up, refused or pending; every seventh changed since capture). Each command runs in
its own process (as a user runs it, start-up included) and prints its wall time and peak RSS
(``/usr/bin/time``); the front page and ``/health`` are fetched from the web app over HTTP (wall time).
``--baseline REV`` (default: the commit this branch started from, 4942920) runs the same commands with
that revision's code (``git archive`` into a temporary folder) beside the current code; a command that
fails or takes longer than ``--timeout`` seconds is shown as such. The database is a fresh SQLite file per
size, or with ``--postgres URL`` (a server database, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)
a database created beside it for each size and dropped after.
Targets (issues 9 and 10): every command answers in well under a few seconds at any size, in bounded
memory, and none fails.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

COMMANDS = [["activities"], ["activities", "--json"], ["activities", "--json", "--limit", "0"], ["status"],
            ["status", "--json"], ["health"], ["health", "--json"], ["health", "--json", "--limit", "0"]]
OLD_EQUIVALENT = {("activities", "--json", "--limit", "0"): ["activities", "--json"],  # old code: no paging
                  ("health", "--json", "--limit", "0"): ["health", "--json"]}


def run(code_dir: Path, config: Path, args: list[str], timeout: float) -> tuple[str, str]:
    """(seconds, peak MB) of one command in a child process, or why it has none."""
    env = {**os.environ, "PYTHONPATH": str(code_dir), "LINES": "50", "COLUMNS": "200"}
    cmd = ["/usr/bin/time", "-f", "%e %M", sys.executable, "-m", "archiver", "--config", str(config), *args]
    try:
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, cwd=code_dir)
    except subprocess.TimeoutExpired:
        return f">{timeout:.0f}", "-"
    last = p.stderr.strip().splitlines()[-1].split()
    if p.returncode:
        why = (p.stderr.strip().splitlines() or ["?"])[0][:60]
        return "FAILED", why
    return f"{float(last[0]):.2f}", f"{int(last[1]) / 1024:.0f}"


def page_times(settings, engine) -> dict[str, float]:
    import requests

    from archiver.db.session import make_sessionmaker
    from archiver.web.app import create_app
    from tests.browser.servers import serve_app

    app = create_app(settings, make_sessionmaker(engine), replay_origin_url="http://127.0.0.1:9",
                     runner=lambda *a, **k: None)
    out = {}
    with serve_app(app) as base:
        for path in ("/", "/health", "/api/health"):
            t0 = time.perf_counter()
            r = requests.get(base + path, timeout=600)
            out[path] = (time.perf_counter() - t0, r.status_code)
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", default="20000,100000,250000")
    p.add_argument("--postgres")
    p.add_argument("--baseline", default="4942920")
    p.add_argument("--timeout", type=float, default=300)
    args = p.parse_args(argv)

    import yaml
    from archiver.config import Settings
    from archiver.db import migrate
    from archiver.db.session import make_engine
    from bench.baseline import baseline_code
    from bench.search import _admin
    from tests.bigdb import build

    old = baseline_code(args.baseline) if args.baseline else None
    for size in [int(s) for s in args.sizes.split(",")]:
        tmp = Path(tempfile.mkdtemp(prefix="bench-listing-"))
        url = f"sqlite:///{(tmp / 'archiver.db').as_posix()}"
        if args.postgres:
            url = args.postgres.rsplit("/", 1)[0] + f"/bench_listing_{size}"
            _admin(args.postgres, f"DROP DATABASE IF EXISTS bench_listing_{size}")
            _admin(args.postgres, f"CREATE DATABASE bench_listing_{size}")
        config = tmp / "config.yaml"
        config.write_text(yaml.safe_dump({"database": {"url": url}, "storage": {"root": str(tmp / "storage")}}))
        settings = Settings(database={"url": url}, storage={"root": str(tmp / "storage")})
        engine = make_engine(settings)
        migrate.upgrade(engine)
        t0 = time.monotonic()
        build(engine, links=size, activities=size // 10 - 1)
        print(f"\n{size} links, {size // 10} activities, {engine.dialect.name} (built in {time.monotonic() - t0:.0f} s)")
        print(f"{'command':40} {'s':>8} {'MB':>6}" + (f"   {'baseline s':>10} {'MB':>6}" if old else ""))
        for cmd in COMMANDS:
            s, mb = run(REPO, config, cmd, args.timeout)
            line = f"{' '.join(cmd):40} {s:>8} {mb:>6}"
            if old:
                bs, bmb = run(old, config, OLD_EQUIVALENT.get(tuple(cmd), cmd), args.timeout)
                line += f"   {bs:>10} {bmb:>6}"
            print(line, flush=True)
        for path, (took, code) in page_times(settings, engine).items():
            print(f"{'GET ' + path:40} {took:8.2f} {'':>6}   (HTTP {code})")
        engine.dispose()
        if args.postgres:
            _admin(args.postgres, f"DROP DATABASE IF EXISTS bench_listing_{size}")


if __name__ == "__main__":
    main()
