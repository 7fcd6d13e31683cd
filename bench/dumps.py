"""Benchmark: import a generated URLTeam dump (BEACON, xz) and report time and peak memory.

    python bench/dumps.py [LINES] [--db URL]     (default 10_000_000 lines, a temp SQLite file)

Generation streams into an xz file (not timed). The import runs in this process;
peak RSS is ru_maxrss after generation vs after the import, so the import's own
growth is visible (it should stay flat: batches of 10k rows, no whole-file reads).
"""
from __future__ import annotations

import argparse
import lzma
import random
import resource
import string
import sys
import tempfile
import time
from pathlib import Path

ALPHABET = string.digits + string.ascii_letters


def generate(path: Path, lines: int, seed: int = 1) -> None:
    rnd = random.Random(seed)
    with lzma.open(path, "wb", preset=1) as f:
        f.write(b"#FORMAT: BEACON\n#PREFIX: https://goo.gl/\n#HOMEPAGE: http://urlte.am/\n"
                b"#TIMESTAMP: 2024-08-20T12:00:00\n\n")
        buf = []
        for i in range(lines):
            n = rnd.getrandbits(36)
            code = "".join(ALPHABET[(n >> (6 * k)) % 62] for k in range(6))
            buf.append(f"{code}|https://example{i % 997}.org/path/{i}/report.html?ref={code}\n")
            if len(buf) == 50_000:
                f.write("".join(buf).encode())
                buf = []
        f.write("".join(buf).encode())


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("lines", type=int, nargs="?", default=10_000_000)
    ap.add_argument("--db", default=None, help="SQLAlchemy URL (default: a temp SQLite file)")
    args = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from archiver.config import load_settings
    from archiver.db import migrate
    from archiver.db.session import make_engine, make_sessionmaker
    from archiver.resolve.dumps import import_dump, lookup

    with tempfile.TemporaryDirectory() as tmp:
        dump = Path(tmp) / "googl.txt.xz"
        t0 = time.perf_counter()
        generate(dump, args.lines)
        print(f"generated {args.lines:,} lines ({dump.stat().st_size / 1e6:.1f} MB xz) in "
              f"{time.perf_counter() - t0:.1f}s", flush=True)
        db = args.db or f"sqlite:///{tmp}/bench.db"
        settings = load_settings(None, env={}, overrides={"database": {"url": db}, "storage": {"root": tmp}})
        engine = make_engine(settings)
        migrate.upgrade(engine)
        Session = make_sessionmaker(engine)
        before = rss_mb()
        t0 = time.perf_counter()
        r = import_dump(Session, dump)
        took = time.perf_counter() - t0
        print(f"imported {r.entries:,} entries in {took:.1f}s ({r.entries / took:,.0f} rows/s); "
              f"peak RSS {before:.0f} MB before, {rss_mb():.0f} MB after", flush=True)
        t0 = time.perf_counter()
        with Session() as s:
            for _ in range(1000):
                lookup(s, "https://goo.gl/zzzzzz")
        print(f"lookup: {(time.perf_counter() - t0):.3f} ms per query (1000 queries)")
        engine.dispose()


if __name__ == "__main__":
    main()
