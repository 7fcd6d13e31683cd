"""Capture throughput and memory, against wget on the same list.

    python bench/capture.py [--pages 300] [--hosts 10] [--latency 0.1] [--big-mb 2048] [--no-wget]

Starts one target server per loopback host (127.0.0.2, 127.0.0.3, …) in a child
process, each adding ``--latency`` to every response, then:

1. captures ``--pages`` small pages spread over the hosts with capture_many
   (concurrency = 2 × hosts, per-host concurrency 2) and prints pages/s, MB/s;
2. runs ``wget --warc-file=… -i LIST`` on the same list (if wget is installed) and
   prints the ratio of pages/s;
3. captures one generated ``--big-mb`` MB response (streamed by the server) in a
   fresh process and prints its peak memory (RSS).
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _servers(hosts: list[str], latency: float, ready, stop) -> None:
    from contextlib import ExitStack

    from tests.servers.targets import serve

    with ExitStack() as stack:
        sites = [stack.enter_context(serve(h, latency=latency)) for h in hosts]
        ready.put([s.base for s in sites])
        stop.wait()


def _settings(root: Path, concurrency: int, per_host: int):
    from archiver.config import load_settings

    return load_settings(None, env={}, overrides={
        "storage": {"root": str(root)},
        "fetch": {"allow_private_addresses": True, "concurrency": concurrency, "per_host_concurrency": per_host,
                  "politeness_delay_s": 0, "timeout_s": 30, "total_timeout_s": 3600, "max_bytes": 10**12,
                  "requisites": {"enabled": False}}})


def capture_pages(urls: list[str], root: Path, concurrency: int, per_host: int) -> tuple[float, int]:
    from archiver.capture import capture_many
    from archiver.capture.recorder import Recorder
    from archiver.capture.warcfile import WarcSink
    from archiver.model import Outcome
    from archiver.net.http import HttpClient

    s = _settings(root, concurrency, per_host)
    client, sink = HttpClient(s.fetch), WarcSink(s)
    rec = Recorder(s, client, sink)
    start = time.perf_counter()
    out = capture_many(urls, recorder=rec, settings=s)
    elapsed = time.perf_counter() - start
    sink.close()
    bad = [u for u, r in out.items() if r.outcome is not Outcome.CAPTURED]
    if bad:
        raise SystemExit(f"{len(bad)} pages not captured, e.g. {bad[0]}: {out[bad[0]].reason}")
    return elapsed, sum(r.response.payload_length for r in out.values())


def run_wget(urls: list[str], work: Path) -> float | None:
    wget = shutil.which("wget")
    if not wget:
        return None
    lst = work / "urls.txt"
    lst.write_text("\n".join(urls) + "\n")
    start = time.perf_counter()
    subprocess.run([wget, "--no-config", "-q", "--tries=1", "--warc-file", str(work / "wget"), "-i", str(lst),
                    "-O", str(work / "wget.out")], cwd=work, check=False)
    return time.perf_counter() - start


def _peak_rss_mb() -> float:
    """This process's own peak RSS. Not getrusage's ru_maxrss: Linux carries the parent's
    high-water mark across fork+exec into it, so a big parent would be counted here."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux


def big_child(url: str, root: str) -> None:
    """Runs in a fresh process: capture one big response, print bytes, seconds and peak RSS (MB)."""
    from archiver.capture.recorder import Recorder
    from archiver.capture.warcfile import WarcSink
    from archiver.net.http import HttpClient

    s = _settings(Path(root), 1, 1)
    client, sink = HttpClient(s.fetch), WarcSink(s)
    start = time.perf_counter()
    ex = Recorder(s, client, sink).fetch(url)
    sink.close()
    elapsed = time.perf_counter() - start
    peak_mb = _peak_rss_mb()
    print(f"{ex.payload_length} {elapsed:.2f} {peak_mb:.1f} {int(ex.truncated)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=300)
    ap.add_argument("--hosts", type=int, default=10)
    ap.add_argument("--per-host", type=int, default=2)
    ap.add_argument("--latency", type=float, default=0.1)
    ap.add_argument("--big-mb", type=int, default=2048, help="size of the big response (0: skip)")
    ap.add_argument("--no-wget", action="store_true")
    ap.add_argument("--_big", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._big:
        return big_child(*args._big)

    hosts = [f"127.0.0.{i}" for i in range(2, 2 + args.hosts)]
    ctx = mp.get_context("spawn")
    ready, stop = ctx.Queue(), ctx.Event()
    proc = ctx.Process(target=_servers, args=(hosts, args.latency, ready, stop), daemon=True)
    proc.start()
    bases = ready.get(timeout=30)
    urls = [f"{bases[i % len(bases)]}/n/{i}" for i in range(args.pages)]
    work = Path(tempfile.mkdtemp(prefix="bench-capture-"))
    try:
        conc = args.hosts * args.per_host
        elapsed, nbytes = capture_pages(urls, work / "ours", conc, args.per_host)
        ours = args.pages / elapsed
        print(f"archiver: {args.pages} pages on {args.hosts} hosts ({args.latency * 1000:.0f} ms latency), "
              f"concurrency {conc}, per host {args.per_host}: {elapsed:.2f} s, {ours:.1f} pages/s, "
              f"{nbytes / elapsed / 1e6:.2f} MB/s")
        if not args.no_wget:
            wtime = run_wget(urls, work)
            if wtime is None:
                print("wget: not installed (apt-get install -y wget)")
            else:
                theirs = args.pages / wtime
                print(f"wget:     {wtime:.2f} s, {theirs:.1f} pages/s; archiver/wget = {ours / theirs:.1f}x")
        if args.big_mb:
            size = args.big_mb * 1024 * 1024
            out = subprocess.run([sys.executable, __file__, "--_big", f"{bases[0]}/big?bytes={size}",
                                  str(work / "big")], capture_output=True, text=True, check=True)
            got, secs, peak, trunc = out.stdout.split()
            print(f"big: {int(got) / 1e6:.0f} MB in {float(secs):.1f} s ({int(got) / float(secs) / 1e6:.0f} MB/s), "
                  f"peak RSS {float(peak):.0f} MB, truncated={bool(int(trunc))}")
    finally:
        stop.set()
        proc.join(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
