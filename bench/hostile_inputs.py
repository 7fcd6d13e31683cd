"""Bombs against the CLI: does each hold, and the peak memory of each command (issue 9).

    python bench/hostile_inputs.py [--tree PATH] [--cap-gb 3] [--only NAME]

Each attack runs the real command (`python -m archiver ...`) in a fresh process under an
address-space limit (RLIMIT_AS, ``--cap-gb``; a process that tries to inflate a bomb dies with
a MemoryError instead of taking the machine), and prints: held (the expected outcome, no MemoryError, peak RSS under BUDGET_MB) or broke, the exit code, the
last line it printed, its peak RSS (VmHWM, read in the process itself at exit) and its time.
``--tree`` runs another checkout's code (e.g. an export of main) to get "before" figures.

The bombs (tests/hostile_bombs.py) inflate to 3-4 GiB from 1-4 MB; targets are served by the
raw-socket WireServer (tests/servers/wire.py) with the Content-Encoding the attack names.
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

from tests.hostile_bombs import (brotli_bomb_bytes, gzip_bomb_bytes, long_line_dump,  # noqa: E402
                                 wacz_bomb)
from tests.servers.wire import Reply, WireServer, response_head  # noqa: E402

GIB = 1 << 30
BUDGET_MB = 500  # issue 9's memory target for any accepted input: over it, an attack is not held
# the CLI, reporting its own peak RSS at exit (ru_maxrss would carry this parent's high-water mark)
WRAPPER = ("import atexit, runpy, sys\n"
           "def _peak():\n"
           "    for line in open('/proc/self/status'):\n"
           "        if line.startswith('VmHWM:'):\n"
           "            sys.stderr.write('PEAK_RSS_KB=' + line.split()[1] + '\\n')\n"
           "atexit.register(_peak)\n"
           "sys.argv = ['archiver'] + sys.argv[1:]\n"
           "runpy.run_module('archiver', run_name='__main__')\n")


def cli(tree: Path, cap: int, config: Path, *args: str, env: dict | None = None, timeout: float = 600):
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", WRAPPER, "--config", str(config), *args],
                          env={**os.environ, "PYTHONPATH": str(tree), **(env or {})}, capture_output=True,
                          text=True, timeout=timeout, preexec_fn=limit, cwd=str(tree))  # -c puts the cwd first
    took = time.monotonic() - started
    peak = next((int(line.split("=")[1]) / 1024 for line in proc.stderr.splitlines()
                 if line.startswith("PEAK_RSS_KB=")), float("nan"))
    err = "\n".join(line for line in proc.stderr.splitlines() if not line.startswith("PEAK_RSS_KB="))
    return proc, err, peak, took


def config(root: Path, **fetch) -> Path:
    import yaml

    path = root / "config.yaml"
    path.write_text(yaml.safe_dump({
        "database": {"url": f"sqlite:///{root / 'archiver.db'}"}, "storage": {"root": str(root / "storage")},
        "fetch": {"allow_private_addresses": True, "politeness_delay_s": 0, "soft404_probe": False,
                  "requisites": {"enabled": False}, **fetch},
        "resolver": {"archives": []}}))  # (the default asks the Internet Archive; a bench reaches nothing outside)
    return path


def _served_run(tree, cap, root, coding, ctype, body):
    """init, ingest a report citing one bomb target, then `run` (the measured command)."""
    cfg = config(root)
    with WireServer() as srv:
        head = response_head("200 OK", [("Content-Type", ctype), ("Content-Encoding", coding),
                                        ("Content-Length", str(len(body)))])
        url = srv.route("/doc", Reply([head, body]))
        (root / "r.txt").write_text(f"- On 1 May 2018 the plan was published.\n  {url}\n")
        cli(tree, cap, cfg, "init")
        cli(tree, cap, cfg, "ingest", str(root / "r.txt"))
        return cli(tree, cap, cfg, "run", "--json")


def attacks(bombs):
    """name -> (what, run(tree, cap, root) -> (proc, err, peak, took), held(proc, err) -> bool)."""
    def run_ok(proc, err):
        return proc.returncode == 0 and "MemoryError" not in err and "Traceback" not in err \
            and json.loads(proc.stdout or "{}").get("captured") == 1

    out = {}
    for coding, ctype in [("gzip", "application/pdf"), ("br", "application/pdf"), ("gzip, gzip", "application/pdf"),
                          ("gzip", "text/html"), ("br", "text/plain")]:
        name = f"run: {ctype} served {coding!r}, inflating to 4 GiB"
        out[name] = (lambda tree, cap, root, c=coding, t=ctype: _served_run(tree, cap, root, c, t, bombs[c]), run_ok)

    def wacz(lie):
        def go(tree, cap, root):
            pkg = wacz_bomb(root / "bomb.wacz", 3 * GIB, lie=lie)
            return cli(tree, cap, config(root), "verify-export", str(pkg))
        return go

    def wacz_ok(proc, err):  # a one-line problem about datapackage.json and exit 1
        return proc.returncode == 1 and proc.stdout.startswith("problem: datapackage_invalid: datapackage.json") \
            and "Traceback" not in err

    out["verify-export: datapackage.json inflating to 3 GiB (sizes declared)"] = (wacz(False), wacz_ok)
    out["verify-export: datapackage.json inflating to 3 GiB (sizes say 200 B)"] = (wacz(True), wacz_ok)

    def dump(tree, cap, root):
        cfg = config(root)
        cli(tree, cap, cfg, "init")
        return cli(tree, cap, cfg, "dumps", "import", str(long_line_dump(root / "goo.gl.txt.gz", 4 * GIB)), "--json")

    out["dumps import: one 4 GiB line in a 4 MB gzip"] = (
        dump, lambda p, e: p.returncode == 0 and json.loads(p.stdout or "{}").get("entries") == 4)

    def get(tree, cap, root):
        _served_run(tree, cap, root, "gzip, gzip", "application/octet-stream", bombs["gzip, gzip"])
        cfg = root / "config.yaml"
        url = (root / "r.txt").read_text().split()[-1]
        return cli(tree, cap, cfg, "get", url, "-o", str(root / "body"), env={"ARCHIVER__FETCH__MAX_BYTES": "50000000"})

    out["get: a stored 'gzip, gzip' bomb, fetch.max_bytes 50 MB"] = (
        get, lambda p, e: p.returncode == 0 and "Traceback" not in e)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tree", type=Path, default=REPO, help="checkout whose archiver package runs")
    ap.add_argument("--cap-gb", type=float, default=3.0, help="address-space limit per command (GB)")
    ap.add_argument("--only", default="", help="run the attacks whose name contains this")
    args = ap.parse_args()
    cap = int(args.cap_gb * GIB)
    t = time.monotonic()
    gz = gzip_bomb_bytes(4 * GIB, prefix=b"%PDF-1.4\n")
    bombs = {"gzip": gz, "br": brotli_bomb_bytes(4 * GIB, prefix=b"%PDF-1.4\n"),
             "gzip, gzip": gzip_bomb_bytes(0, prefix=gz)}
    print(f"bombs generated in {time.monotonic() - t:.1f} s: " + ", ".join(f"{k} {len(v) / 1e6:.2f} MB"
                                                                           for k, v in bombs.items()))
    print(f"code: {args.tree}; address-space limit {args.cap_gb} GB per command\n")
    held = 0
    worst = (0.0, "")
    rows = [(n, a) for n, a in attacks(bombs).items() if args.only in n]
    for name, (go, ok) in rows:
        with tempfile.TemporaryDirectory(prefix="hostile-") as tmp:
            try:
                proc, err, peak, took = go(args.tree, cap, Path(tmp))
            except subprocess.TimeoutExpired:
                print(f"BROKE  {name}: timed out")
                continue
            good = ok(proc, err) and "MemoryError" not in err and peak < BUDGET_MB
            held += good
            if good and peak > worst[0]:
                worst = (peak, name)
            last = (err.strip().splitlines() or proc.stdout.strip().splitlines() or [""])[-1][:110]
            print(f"{'held ' if good else 'BROKE'}  {name}\n       exit {proc.returncode}, peak RSS {peak:.0f} MB, "
                  f"{took:.1f} s; {last}")
    print(f"\n{held} of {len(rows)} held; worst accepted input: {worst[1] or '-'} at {worst[0]:.0f} MB peak RSS")


if __name__ == "__main__":
    main()
