"""A pass on Celery workers: links per second with 1, 2 and 4 `archiver worker` processes.

    python bench/distributed.py [--links 20000] [--hosts 50] [--workers 1,2,4] [--latency 0.02]
                                [--kb 30] [--concurrency 4] [--database URL]

The shape of issue 12: 20,000 links over 50 loopback hosts (127.0.0.2 … 127.0.0.51,
bench/sites.py, each answer delayed ``--latency``), PostgreSQL (a schema of its own per run in
the ``--database`` given; the default is the machine's test database), RabbitMQ as the broker
and Redis for the per-host slots (both on this machine), ``politeness_delay_s: 0``,
``per_host_concurrency: 2``, ``capture.browser: never``. For each worker count: a fresh schema
and store, ``init`` and ``ingest`` (set-up, not timed), N ``archiver worker -c CONCURRENCY``
processes started and seen by ``archiver status`` (not timed), then ``archiver run
--distributed --json`` timed from enqueue to the last item done (resolve, capture, extract and
the watch step); then every captured link is made due and a second pass, the nightly re-check
(the watch step's tasks on the workers), is timed. It prints links per second of each, the factor
against one worker and, from each rate, the hours 1,000,000 links would take at that rate. All processes share this
machine's cores: the factor says what more processes give on one machine, not what more
machines would.

Measured on the project's 2-core machine, 2026-12-01, idle but for this script (load 0 at the
start), 20,000 links: first pass 1 worker 838 s (23.9 links/s), 2 workers 535 s (37.4, 1.56x),
4 workers 564 s (35.4, 1.48x); re-check 305 s (65.5 links/s), 222 s (89.9, 1.37x), 192 s (104.5,
1.59x): 1,000,000 links re-checked in 4.2, 3.1 and 2.7 h. An earlier run of the first pass only
(before the re-checks were tasks) gave 25.9, 40.1 and 38.2 links/s. A worker is bound by its own
CPU (py-spy on the one-worker pass: a third of it extracting text, a quarter in the database client).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.capture import machine  # noqa: E402
from bench.sites import start_sites  # noqa: E402

AMQP = "amqp://guest:guest@127.0.0.1:5672//"
REDIS = "redis://127.0.0.1:6379/6"
KINDS = ("resolve", "capture", "browser", "extract", "watch")  # queue.names


def _config(work: Path, db_url: str, uid: str, args) -> Path:
    names = {k: f"{uid}.{k}" for k in KINDS}
    cfg = work / "config.yaml"
    cfg.write_text(json.dumps({  # JSON is YAML
        "database": {"url": db_url},
        "storage": {"root": str(work / "storage")},
        "fetch": {"concurrency": args.concurrency, "per_host_concurrency": 2, "politeness_delay_s": 0,
                  "allow_private_addresses": True},
        "capture": {"browser": "never"},
        "resolver": {"archives": []},  # (the default asks the Internet Archive; a bench reaches nothing outside)
        "queue": {"url": AMQP, "redis_url": REDIS, "key_prefix": uid, "names": names},
    }))
    return cfg


def _report(work: Path, urls: list[str]) -> Path:
    months = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
              "October", "November", "December"]
    lines = ["Benchmark report", ""] + [f"- On {1 + i % 28} {months[i % 12]} 2020 meeting {i}, see {u}"
                                        for i, u in enumerate(urls)]
    path = work / "report.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def _cleanup(db_url: str, schema: str, uid: str) -> None:
    from kombu import Connection
    import redis
    from sqlalchemy import create_engine, text

    with Connection(AMQP) as conn:
        ch = conn.channel()
        for k in KINDS:
            ch.queue_delete(f"{uid}.{k}")
            ch.exchange_delete(f"{uid}.{k}")
    r = redis.StrictRedis.from_url(REDIS)
    for key in r.keys(f"{uid}:*"):
        r.delete(key)
    engine = create_engine(db_url.split("?")[0])
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


def one_run(n_workers: int, urls: list[str], args) -> tuple[float, float]:
    from sqlalchemy import create_engine, text

    uid = "b" + uuid.uuid4().hex[:10]
    schema = f"bench_{uid}"
    engine = create_engine(args.database)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    db_url = f"{args.database}?options=-csearch_path%3D{schema}"
    work = Path(tempfile.mkdtemp(prefix=f"bench-dist-{n_workers}-"))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs: list[subprocess.Popen] = []
    try:
        cfg = _config(work, db_url, uid, args)
        cli = [sys.executable, "-m", "archiver", "--config", str(cfg)]
        subprocess.run(cli + ["init"], check=True, capture_output=True, env=env)
        subprocess.run(cli + ["ingest", str(_report(work, urls))], check=True, capture_output=True, env=env)
        procs = [subprocess.Popen(cli + ["worker", "-c", str(args.concurrency)], env=env,
                                  stdout=open(work / f"worker{i}.log", "w"), stderr=subprocess.STDOUT)
                 for i in range(n_workers)]
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:  # every worker answers a ping before the clock starts
            out = subprocess.run(cli + ["status", "--json"], capture_output=True, text=True, env=env)
            if out.returncode == 0 and len(json.loads(out.stdout)["queue"]["workers"]) == n_workers:
                break
            time.sleep(1)
        else:
            raise SystemExit(f"{n_workers} worker(s) did not all answer within 180 s (logs in {work})")
        start = time.perf_counter()
        out = subprocess.run(cli + ["run", "--distributed", "--json"], capture_output=True, text=True, env=env)
        wall = time.perf_counter() - start
        doc = json.loads(out.stdout) if out.stdout.strip() else {}
        done = doc.get("captured", 0) + doc.get("dead", 0) + doc.get("failed", 0)
        print(f"  {n_workers} worker(s): {wall:8.1f} s  captured {doc.get('captured')}  dead {doc.get('dead')}  "
              f"failed {doc.get('failed')}  ({len(urls) / wall:.1f} links/s)", flush=True)
        if out.returncode not in (0, 1) or done < len(urls):
            raise SystemExit(f"the pass did not take every link (exit {out.returncode}): {out.stderr[-2000:]}")
        # the nightly re-check: every captured link made due, then a pass (the watch step's tasks) timed
        engine = create_engine(db_url)
        with engine.begin() as conn:
            conn.execute(text("UPDATE targets SET next_check_at = now() - interval '1 minute' "
                              "WHERE status = 'captured'"))
        engine.dispose()
        start = time.perf_counter()
        out = subprocess.run(cli + ["run", "--distributed", "--json"], capture_output=True, text=True, env=env)
        rewall = time.perf_counter() - start
        watch = (json.loads(out.stdout) if out.stdout.strip() else {}).get("watch") or {}
        checked = watch.get("checked", 0)
        print(f"  {n_workers} worker(s): re-check {rewall:8.1f} s  checked {checked}  "
              f"{ {k: v for k, v in watch.items() if v and k != 'checked'} }  ({checked / rewall:.1f} links/s)",
              flush=True)
        if checked < done - doc.get("dead", 0) - doc.get("failed", 0):
            raise SystemExit(f"the re-check did not check every captured link: {out.stderr[-2000:]}")
        return len(urls) / wall, checked / rewall
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                p.kill()
        _cleanup(args.database, schema, uid)
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--links", type=int, default=20_000)
    ap.add_argument("--hosts", type=int, default=50)
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--latency", type=float, default=0.02)
    ap.add_argument("--kb", type=int, default=30)
    ap.add_argument("--concurrency", type=int, default=4, help="threads per worker process (worker -c)")
    ap.add_argument("--database", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = ap.parse_args()
    print(f"machine: {machine()}")
    bases, stop = start_sites(args.hosts, args.latency, args.kb, warm=args.links + args.hosts)
    per = [[f"{b}/p/{h + args.hosts * i}" for i in range(-(-args.links // args.hosts))] for h, b in enumerate(bases)]
    urls = [u for row in zip(*per) for u in row][: args.links]
    print(f"shape: {args.links} links on {args.hosts} loopback hosts, {args.latency * 1000:.0f} ms latency, "
          f"~{args.kb} KB pages; worker -c {args.concurrency}; PostgreSQL, RabbitMQ, Redis slots")
    rates = {}
    try:
        for n in (int(x) for x in args.workers.split(",")):
            rates[n] = one_run(n, urls, args)
    finally:
        stop()
    for i, what in enumerate(("first pass (resolve, capture, extract)", "nightly re-check (watch step)")):
        base = (rates.get(1) or next(iter(rates.values())))[i]
        print(what)
        for n, both in rates.items():
            rate = both[i]
            print(f"  {n} worker(s): {rate:.1f} links/s, {rate / base:.2f}x one worker; "
                  f"1,000,000 links would take {1e6 / rate / 3600:.1f} h at this rate")
    print(f"machine at the end: {machine()}")


if __name__ == "__main__":
    main()
