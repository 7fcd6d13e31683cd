"""Memory of a capture pass as it grows: peak RSS at two pass sizes and the bytes held per link.

    python bench/pass_memory.py [--sizes 12000,24000] [--hosts 10] [--kb 5] [--concurrency 20]
                                [--baseline REV | --baseline ""]

Issue 10 found ~3.8 KB per link held until a pass ended (``Tools._once``: one entry per fetched URL;
``Recorder._seen``: one per full capture, for revisits), so a 1 M-link pass would have held ~4 GB.
Each size is captured on a fresh SQLite store (distinct ~``kb`` KB pages on loopback hosts, no
latency, ``politeness_delay_s: 0``): ``init``, ``ingest``, ``run --stage resolve``, then
``run --stage capture`` in one process (``fetch.processes: 1`` where the code knows it) under
``/usr/bin/time``, whose maximum resident set is the figure. The slope between the two sizes is what
each further link costs; a bounded pass shows a slope near 0 (the database's and the WARC writer's
buffers aside). The default sizes are past the bounds (Tools.once keeps 8,192 results, the recorder
4,096 recent captures, KnownUrls loads up to 10,000 URLs at once): below them memory does grow. ``--baseline REV`` (default: the branch point) runs the same with that revision's code.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.capture import machine, write_setup  # noqa: E402
from bench.sites import start_sites  # noqa: E402


def peak_kb(argv: list[str], cwd: Path, env: dict) -> int:
    """Run ``argv`` under /usr/bin/time and return its maximum resident set (KB)."""
    out = subprocess.run(["/usr/bin/time", "-f", "%M", *argv], cwd=cwd, env=env, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"{' '.join(argv[3:])}: exit {out.returncode}\n{out.stderr[-2000:]}")
    return int(out.stderr.strip().splitlines()[-1])


def one_pass(code: Path, urls: list[str], args, current: bool) -> int:
    work = Path(tempfile.mkdtemp(prefix="bench-pass-memory-"))
    try:
        setup = SimpleNamespace(concurrency=args.concurrency, per_host=2, processes="1" if current else None)
        cfg = write_setup(work, urls, setup)
        if not current:  # the branch point has no `capture` section (nor a browser to keep off)
            import yaml

            data = yaml.safe_load(cfg.read_text())
            data.pop("capture", None)
            cfg.write_text(yaml.safe_dump(data))
        env = {**os.environ, "PYTHONPATH": str(code)}
        cli = [sys.executable, "-m", "archiver", "--config", str(cfg)]
        for step in (["init"], ["ingest", str(work / "report.txt")], ["run", "--stage", "resolve"]):
            done = subprocess.run(cli + step, cwd=work, env=env, capture_output=True, text=True)
            if done.returncode:
                raise SystemExit(f"{step[0]}: exit {done.returncode}\n{done.stderr[-2000:]}")
        return peak_kb(cli + ["run", "--stage", "capture", "--json"], work, env)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    from bench.baseline import BRANCH_POINT, baseline_code

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="12000,24000")
    ap.add_argument("--hosts", type=int, default=10)
    ap.add_argument("--kb", type=int, default=5)
    ap.add_argument("--concurrency", type=int, default=20)
    ap.add_argument("--baseline", default=BRANCH_POINT)
    args = ap.parse_args()
    if not shutil.which("/usr/bin/time"):
        raise SystemExit("needs /usr/bin/time (Debian: apt-get install time)")
    sizes = [int(s) for s in args.sizes.split(",")]
    if len(sizes) != 2 or sizes[0] >= sizes[1]:
        raise SystemExit("--sizes: two sizes, the smaller first (e.g. 12000,24000)")
    print(f"machine: {machine()}")
    codes = [("current", REPO, True)] + ([("baseline", baseline_code(args.baseline), False)] if args.baseline else [])
    bases, stop = start_sites(args.hosts, 0.0, args.kb, warm=sizes[1] + args.hosts)
    try:
        print(f"shape: distinct ~{args.kb} KB pages on {args.hosts} loopback hosts, no latency, "
              f"fetch.concurrency {args.concurrency}; peak RSS of `run --stage capture`")
        for name, code, current in codes:
            peaks = []
            for n in sizes:
                urls = [f"{bases[i % args.hosts]}/p/{i}" for i in range(n)]
                peaks.append(one_pass(code, urls, args, current))
            slope = (peaks[1] - peaks[0]) * 1024 / (sizes[1] - sizes[0])
            print(f"  {name:9} " + "  ".join(f"{n} links {p / 1024:6.1f} MB" for n, p in zip(sizes, peaks))
                  + f"  -> {slope / 1024:5.2f} KB per further link"
                  + f" (a 1,000,000-link pass: ~{peaks[0] / 1024 + slope * (1_000_000 - sizes[0]) / 2**20:,.0f} MB)")
    finally:
        stop()


if __name__ == "__main__":
    main()
