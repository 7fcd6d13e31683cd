"""Start-up time of the CLI beside `python -c pass`: `archiver --help`, `archiver search --help` and a
search on a small database (the query itself is a few milliseconds of it).

    python bench/startup.py [--runs 9] [--baseline REV]

Each command runs ``--runs`` times in a fresh process; printed: the fastest wall time (the least
disturbed by other work on the machine), the median, and the fastest CPU time (user + system, which
other processes disturb less). ``--baseline REV`` (default: the branch point, 4942920) runs the same
commands with that revision's code beside. Target (issue 10): `--help` and `search` under 0.3 s.
Then the start-up of `search` alone: from launching the process until the search's first query is about to
be sent (interpreter, CLI, arguments, the config, SQLAlchemy, the engine and its schema check), the rest
being the query and the output. Finally the slowest imports of `search` (``python -X importtime``), to see
what is left to cut.
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def timed(cmd: list[str], env: dict, runs: int, cwd: Path) -> tuple[float, float, float]:
    """(fastest wall, median wall, fastest CPU) seconds of ``runs`` runs of ``cmd``."""
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        p = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=cwd)
        walls.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if p.returncode:
            raise SystemExit(f"{' '.join(cmd)} failed: {p.stderr.decode()[-500:]}")
    return min(walls), statistics.median(walls), min(cpus)


# Runs `archiver ...` and prints, on stderr, the wall clock when archiver.db.search.full_text_search is
# entered: a meta-path hook wraps the function when its module is first imported (importing it up front
# would move SQLAlchemy's import out of what is measured).
_PROBE = """
import importlib.abc, importlib.machinery, runpy, sys, time

class Wrap(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != "archiver.db.search":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            inner = module.full_text_search

            def full_text_search(*a, **k):
                sys.stderr.write(f"QUERY-AT {time.time()!r}\\n")
                return inner(*a, **k)
            module.full_text_search = full_text_search
        spec.loader.exec_module = exec_module
        return spec

sys.meta_path.insert(0, Wrap())
sys.argv = ["archiver"] + sys.argv[1:]
runpy.run_module("archiver", run_name="__main__", alter_sys=True)
"""


def until_query(cmd_args: list[str], env: dict, runs: int, cwd: Path) -> tuple[float, float, float]:
    """(fastest, median) seconds from launch until the search's query, and the fastest whole run."""
    starts, wholes = [], []
    for _ in range(runs):
        t0 = time.time()
        p = subprocess.run([sys.executable, "-c", _PROBE, *cmd_args], env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True, cwd=cwd)
        wholes.append(time.time() - t0)
        marks = [line.split()[1] for line in p.stderr.splitlines() if line.startswith("QUERY-AT ")]
        if p.returncode or not marks:
            raise SystemExit(f"probe of {cmd_args} failed: {p.stderr[-500:]}")
        starts.append(float(marks[0]) - t0)
    return min(starts), statistics.median(starts), min(wholes)


def small_database(folder: Path) -> Path:
    import yaml

    from archiver.config import Settings
    from archiver.db import migrate
    from archiver.db.session import make_engine
    from tests.bigdb import build

    url = f"sqlite:///{(folder / 'archiver.db').as_posix()}"
    config = folder / "config.yaml"
    config.write_text(yaml.safe_dump({"database": {"url": url}, "storage": {"root": str(folder / "storage")}}))
    engine = make_engine(Settings(database={"url": url}, storage={"root": str(folder / "storage")}))
    migrate.upgrade(engine)
    build(engine, links=1000, activities=99)
    engine.dispose()
    return config


def main(argv=None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=9)
    p.add_argument("--baseline", default="4942920")
    args = p.parse_args(argv)
    from bench.baseline import baseline_code

    config = small_database(Path(tempfile.mkdtemp(prefix="bench-startup-")))
    codes = [("current", REPO)] + ([("baseline", baseline_code(args.baseline))] if args.baseline else [])
    commands = [("python -c pass", [sys.executable, "-c", "pass"]),
                ("archiver --help", [sys.executable, "-m", "archiver", "--help"]),
                ("archiver search --help", [sys.executable, "-m", "archiver", "search", "--help"]),
                ("archiver search report", [sys.executable, "-m", "archiver", "--config", str(config), "search",
                                            "report"]),
                ("archiver search report --json", [sys.executable, "-m", "archiver", "--config", str(config),
                                                   "search", "report", "--json"])]
    print(f"{'command':32} {'code':9} {'best s':>7} {'median s':>9} {'best CPU s':>11}")
    for label, cmd in commands:
        for name, code in codes:
            env = {**os.environ, "PYTHONPATH": str(code)}
            best, med, cpu = timed(cmd, env, args.runs, code)  # `-m` looks in the working folder first
            print(f"{label:32} {name:9} {best:7.3f} {med:9.3f} {cpu:11.3f}", flush=True)
            if label.startswith("python"):
                break
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for label, extra in (("search report", []), ("search report --json", ["--json"])):
        best, med, whole = until_query(["--config", str(config), "search", "report", *extra], env, args.runs, REPO)
        print(f"start-up of `{label}` (launch until its query): fastest {best:.3f} s, median {med:.3f} s; "
              f"the whole command (through the probe) {whole:.3f} s", flush=True)
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "archiver", "--config", str(config), "search",
                          "report"], env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, cwd=REPO)
    rows = []
    for line in out.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[0].startswith("import time:") and parts[1].strip().isdigit():
            rows.append((int(parts[1]), parts[2].rstrip()))
    print("\nslowest top-level imports of `search` (cumulative ms):")
    for us, name in sorted((r for r in rows if not r[1].startswith("    ")), reverse=True)[:12]:
        print(f"  {us / 1000:7.1f}  {name.strip()}")


if __name__ == "__main__":
    main()
