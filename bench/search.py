"""Full-text search latency over 100 k and 1 M documents, SQLite and PostgreSQL, beside the branch point.

    python bench/search.py [--sizes 100000,1000000] [--postgres URL] [--runs 20] [--baseline REV] [--keep]

Documents: ``size`` texts of 40-80 words drawn from a 20 000-word vocabulary with Zipf frequencies (the
commonest word is in nearly every document, as "the" would be), 90 % activities and 10 % extracted pages
(each with its capture row), written straight with SQL: executemany on SQLite (the FTS5 index kept by the
triggers), COPY on PostgreSQL (the tsvector generated). Queries: the commonest word, a word in ~10 % and
one in ~0.1 % of the documents, two common words, a phrase, an OR and an exclusion. Each query runs
``--runs`` times through ``full_text_search`` (limit 20) in a child process per code version; printed: p50
and p95 milliseconds per query and over all of them, and beside them the same query as grep over the same
texts in a file (case-insensitive whole words, median of 3: no index, every match counted). Target (issue 10): p95 under 50 ms at 1 M documents
on both databases. PostgreSQL: ``--postgres`` names a server database to create bench databases beside
(created and dropped here, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VOCAB = 20_000
LETTERS = "abcdefghijklmnopqrstuvwxyz"


def word(rank: int) -> str:
    """A letters-only word for a vocabulary rank (no digits: the text parsers treat those differently)."""
    out, n = "", rank + 26 * 27
    while n:
        n, r = divmod(n, 26)
        out = LETTERS[r] + out
    return out


def texts(n: int, seed: int = 7):
    rng = random.Random(seed)
    weights = [1 / (r + 1) for r in range(VOCAB)]
    cum, total = [], 0.0
    for w in weights:
        total += w
        cum.append(total)
    vocab = [word(r) for r in range(VOCAB)]
    for i in range(n):
        k = rng.randint(40, 80)
        words = rng.choices(vocab, cum_weights=cum, k=k)
        words[0] = vocab[0]  # the commonest word in every document
        yield " ".join(words) + f". Document {i}."


QUERIES = {"commonest word": word(0), "word in ~10%": word(8), "word in ~0.1%": word(1500),
           "two common words": f"{word(1)} {word(2)}", "phrase": f'"{word(0)} {word(1)}"',
           "OR": f"{word(3000)} OR {word(3001)}", "exclusion": f"{word(5)} -{word(6)}"}


# The same queries as grep over the same texts, one document a line (case-insensitive whole words): a scan
# of every document with no index, counting every match where archiver ranks and returns the best 20.
GREP = {"commonest word": f"grep -ciw {word(0)} F",
        "word in ~10%": f"grep -ciw {word(8)} F",
        "word in ~0.1%": f"grep -ciw {word(1500)} F",
        "two common words": f"grep -iw {word(1)} F | grep -ciw {word(2)}",
        "phrase": f"grep -ciwF '{word(0)} {word(1)}' F",
        "OR": f"grep -ciw -e {word(3000)} -e {word(3001)} F",
        "exclusion": f"grep -iw {word(5)} F | grep -civw {word(6)}"}


def grep_baseline(n: int, runs: int = 3) -> dict[str, float]:
    """Median milliseconds of each GREP command over a file of the ``n`` documents (written first, not timed)."""
    folder = Path(tempfile.mkdtemp(prefix="bench-search-grep-"))
    docs = folder / "docs.txt"
    with docs.open("w") as f:
        for t in texts(n):
            f.write(t + "\n")
    out = {}
    for name, cmd in GREP.items():
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            # (stdout to a pipe: GNU grep writing to /dev/null stops at the first match, as -q would)
            subprocess.run(cmd.replace(" F", f" {docs}"), shell=True, stdout=subprocess.PIPE, check=False)
            times.append((time.perf_counter() - t0) * 1000)
        out[name] = sorted(times)[len(times) // 2]
    docs.unlink()
    folder.rmdir()
    return out


def build(url: str, n: int) -> None:
    sys.path.insert(0, str(REPO))
    from sqlalchemy import create_engine, text

    from archiver.db import migrate

    engine = create_engine(url)
    migrate.upgrade(engine)
    n_ext = n // 10
    with engine.begin() as conn:
        rid = conn.execute(text("INSERT INTO reports (source, source_kind, sha256, format, title, meta, size_bytes, "
                                "ingested_at) VALUES ('/bench', 'file', :h, 'txt', 'bench', '{}', 1, "
                                "CURRENT_TIMESTAMP) RETURNING id"), {"h": "c" * 64}).scalar_one()
    docs = texts(n)
    started = time.monotonic()
    if engine.dialect.name == "postgresql":
        raw = engine.raw_connection()
        try:
            cur = raw.cursor()
            with cur.copy("COPY activities (report_id, ordinal, text, date_inferred) FROM STDIN") as copy:
                for i in range(n - n_ext):
                    copy.write_row((rid, i + 1, next(docs), False))
            with cur.copy("COPY captures (id, role, url, url_hash, captured_at, record_id, warc_file, \"offset\", "
                          "length, truncated, is_revisit, source, fetched_at, not_evidence) FROM STDIN") as copy:
                for i in range(n_ext):
                    copy.write_row((i + 1, "target", f"http://bench.example/{i}", "0" * 64, "2020-01-01", f"<urn:{i}>",
                                    "none.warc.gz", 0, 1, False, False, "live", "2020-01-01", False))
            with cur.copy("COPY extractions (capture_id, title, text, method, extracted_at) FROM STDIN") as copy:
                for i in range(n_ext):
                    copy.write_row((i + 1, f"Page {i}", next(docs), "bench", "2020-01-01"))
            cur.execute("SELECT setval(pg_get_serial_sequence('captures', 'id'), (SELECT max(id) FROM captures))")
            raw.commit()
        finally:
            raw.close()
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE activities, extractions, captures"))
    else:
        with engine.begin() as conn:
            c = conn.connection.dbapi_connection.cursor()
            batch = 20_000
            for start in range(0, n - n_ext, batch):
                c.executemany("INSERT INTO activities (report_id, ordinal, text, date_inferred) VALUES (?, ?, ?, 0)",
                              [(rid, i + 1, next(docs)) for i in range(start, min(start + batch, n - n_ext))])
            c.executemany("INSERT INTO captures (id, role, url, url_hash, captured_at, record_id, warc_file, "
                          "\"offset\", length, truncated, is_revisit, source, fetched_at, not_evidence) VALUES "
                          "(?, 'target', ?, ?, '2020-01-01 00:00:00', ?, 'none.warc.gz', 0, 1, 0, 0, 'live', "
                          "'2020-01-01 00:00:00', 0)",
                          [(i + 1, f"http://bench.example/{i}", "0" * 64, f"<urn:{i}>") for i in range(n_ext)])
            c.executemany("INSERT INTO extractions (capture_id, title, text, method, extracted_at) VALUES "
                          "(?, ?, ?, 'bench', '2020-01-01 00:00:00')",
                          [(i + 1, f"Page {i}", next(docs)) for i in range(n_ext)])
        with engine.connect() as conn:
            conn.exec_driver_sql("INSERT INTO search_index(search_index) VALUES ('optimize')")
            conn.commit()
    print(f"  built {n} documents on {engine.dialect.name} in {time.monotonic() - started:.0f} s", flush=True)
    engine.dispose()


def measure(url: str, runs: int) -> None:
    """In the child process (the code under test first on sys.path): per query, sorted latencies in ms."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from archiver.db.search import full_text_search

    engine = create_engine(url)
    out = {}
    with Session(engine) as s:
        for name, q in QUERIES.items():
            full_text_search(s, q, 20)  # warm the caches once
            times = []
            for _ in range(runs):
                t0 = time.perf_counter()
                hits = full_text_search(s, q, 20)
                times.append((time.perf_counter() - t0) * 1000)
            out[name] = {"ms": sorted(times), "hits": len(hits)}
    print(json.dumps(out))


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def run_measure(code: Path, url: str, runs: int, timeout: float) -> dict | str:
    env = {**os.environ, "PYTHONPATH": str(code)}
    try:
        p = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--measure", url, "--runs", str(runs)],
                           env=env, capture_output=True, text=True, cwd=code, timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"more than {timeout:.0f} s"
    if p.returncode:
        return "FAILED: " + p.stderr.strip()[-300:]
    return json.loads(p.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", default="100000,1000000")
    p.add_argument("--postgres")
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--baseline", default="4942920")
    p.add_argument("--timeout", type=float, default=1800)
    p.add_argument("--measure")
    p.add_argument("--only", choices=["sqlite", "postgresql"])
    args = p.parse_args(argv)
    if args.measure:
        return measure(args.measure, args.runs)
    sys.path.insert(0, str(REPO))
    from bench.baseline import baseline_code

    codes = [("current", REPO)] + ([("baseline", baseline_code(args.baseline))] if args.baseline else [])
    for size in [int(s) for s in args.sizes.split(",")]:
        grep_ms = grep_baseline(size)
        targets = []
        if args.only in (None, "sqlite"):
            targets.append(("sqlite", f"sqlite:///{Path(tempfile.mkdtemp(prefix='bench-search-')) / 'a.db'}", None))
        if args.postgres and args.only in (None, "postgresql"):
            name = f"bench_search_{size}"
            targets.append(("postgresql", args.postgres.rsplit("/", 1)[0] + "/" + name, name))
        for kind, url, dbname in targets:
            if dbname:
                _admin(args.postgres, f"DROP DATABASE IF EXISTS {dbname}")
                _admin(args.postgres, f"CREATE DATABASE {dbname}")
            try:
                print(f"\n{size} documents, {kind}", flush=True)
                build(url, size)
                results = {name: run_measure(code, url, args.runs, args.timeout) for name, code in codes}
                print(f"  {'query':20} " + " ".join(f"{n + ' p50':>14} {n + ' p95':>14}" for n, _ in codes)
                      + f" {'hits':>5} {'grep ms':>9}")
                for q in QUERIES:
                    cells = []
                    for n, _ in codes:
                        r = results[n]
                        cells.append(f"{pct(r[q]['ms'], 50):14.1f} {pct(r[q]['ms'], 95):14.1f}" if isinstance(r, dict)
                                     else f"{r[:29]:>29}")
                    hits = next((r[q]["hits"] for r in results.values() if isinstance(r, dict)), "-")
                    print(f"  {q:20} " + " ".join(cells) + f" {hits:>5} {grep_ms[q]:9.1f}")
                cells = []
                for n, _ in codes:
                    r = results[n]
                    every = [t for v in r.values() for t in v["ms"]] if isinstance(r, dict) else None
                    cells.append(f"{pct(every, 50):14.1f} {pct(every, 95):14.1f}" if every else f"{'-':>29}")
                print(f"  {'all queries':20} " + " ".join(cells) + f" {'':>5} {sorted(grep_ms.values())[len(grep_ms) // 2]:9.1f}"
                      " (grep: the median query)", flush=True)
            finally:
                if dbname:
                    _admin(args.postgres, f"DROP DATABASE IF EXISTS {dbname}")


def _admin(url: str, sql: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(sql))
    engine.dispose()


if __name__ == "__main__":
    main()
