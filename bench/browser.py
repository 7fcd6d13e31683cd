"""Browser capture speed and memory: script-built pages through headless Chromium, beside plain capture.

    python bench/browser.py [--pages 200] [--hosts 4] [--contexts 1,2,4]

The shape of issue 11: ``--pages`` distinct script-built pages (an empty shell whose script
fetches a JSON answer and an image and writes a paragraph) on ``--hosts`` loopback hosts
(127.0.0.2 …), served by one asyncio thread. First the plain capture of every page
(``capture_url`` with requisites, 4 threads, no politeness delay), then the browser visit of every
page (``Browser.visit``, the page's document served from its plain record as in a pass) with 1, 2
and 4 contexts at once (``capture.concurrency``). Both write real WARC records (Recorder, WarcSink);
no database rows. Peak memory is the proportional set size (PSS) of this process plus every process it started
(Playwright's driver, Chromium's), sampled every 0.2 s from /proc.

Measured on the project's 2-core machine, 2026-11-30, while other sessions ran (load 11-20),
200 pages on 4 hosts: plain capture 530 pages/s (peak 37 MB); browser 0.74 pages/s with one
context (peak 610 MB), 1.22 with two (731 MB), 1.17 with four (842 MB). Each visit waits at
least ~0.6 s by design (a scroll step, then Playwright's "network idle": 500 ms with no
request), so two contexts roughly double the rate and four add nothing on two busy cores.
Again on 2026-12-01, after the browser's own requests went through the pass's per-host gate
(``per_host_concurrency`` 2 here) and under heavier load (16.9 at the end, the whole test suite
running beside it): plain 113 pages/s (38 MB); browser 0.60 pages/s with one context (636 MB),
0.76 with two (691 MB), 0.68 with four (849 MB).
Again on 2026-12-01 with nothing else running (load 0-3 before the start; Chromium's own threads
take it to 13.7 by the end): plain 281 pages/s (51 MB); browser 1.06 pages/s with one context
(682 MB), 1.47 with two (759 MB), 1.51 with four (864 MB); the script-built text in 200 of 200.
A page killed with the pass (kill -9) leaves no Chromium behind: Playwright's driver ends
with its pipe and takes the browser with it.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from archiver.capture import capture_url  # noqa: E402
from archiver.capture.browse import read_document  # noqa: E402
from archiver.capture.browser import Browser  # noqa: E402
from archiver.capture.recorder import Recorder  # noqa: E402
from archiver.capture.warcfile import WarcSink  # noqa: E402
from archiver.config import load_settings  # noqa: E402
from archiver.net.http import HttpClient  # noqa: E402

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000")  # (a stand-in image)


def shell(n: int) -> bytes:
    return (f"<!doctype html><html><head><title>Page {n}</title></head><body><div id=root></div>"
            f"<img src='/i/{n % 7}.png' width=10 height=10><script>fetch('/j/{n}').then(r => r.json()).then(j => "
            f"{{ document.getElementById('root').innerHTML = '<p>' + j.text + '</p>'; }});</script>"
            f"</body></html>").encode()


async def _handle(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ", 2)[1].decode()
            if path.startswith("/s/"):
                body, ctype = shell(int(path[3:])), "text/html"
            elif path.startswith("/j/"):
                body, ctype = b'{"text": "script-built paragraph %s"}' % path[3:].encode(), "application/json"
            elif path.startswith("/i/"):
                body, ctype = PNG, "image/png"
            else:
                body, ctype = b"no", "text/plain"
            writer.write(f"HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n\r\n"
                         .encode() + body)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, ValueError, IndexError):
        pass
    finally:
        writer.close()


def start_sites(hosts: int) -> list[str]:
    loop = asyncio.new_event_loop()
    bases: list[str] = []
    ready = threading.Event()

    async def main():
        for i in range(hosts):
            srv = await asyncio.start_server(_handle, f"127.0.0.{i + 2}", 0)
            bases.append(f"http://127.0.0.{i + 2}:{srv.sockets[0].getsockname()[1]}")
        ready.set()

    threading.Thread(target=lambda: (loop.run_until_complete(main()), loop.run_forever()), daemon=True).start()
    ready.wait(10)
    return bases


def _descendants(pid: int) -> list[int]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
                kids.setdefault(ppid, []).append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += kids.get(p, [])
    return out


def _rss_mb() -> float:
    """Proportional set size (shared pages split between the processes sharing them) of us and our children:
    summing RSS would count Chromium's shared libraries once per process."""
    total = 0
    for p in _descendants(os.getpid()):
        try:
            with open(f"/proc/{p}/smaps_rollup") as fh:
                total += next(int(line.split()[1]) for line in fh if line.startswith("Pss:")) * 1024
        except (OSError, ValueError, StopIteration):
            pass
    return total / 1e6


class Peak:
    def __init__(self):
        self.mb, self._stop = 0.0, threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while not self._stop.is_set():
            self.mb = max(self.mb, _rss_mb())
            time.sleep(0.2)

    def stop(self) -> float:
        self._stop.set()
        return max(self.mb, _rss_mb())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=200)
    ap.add_argument("--hosts", type=int, default=4)
    ap.add_argument("--contexts", default="1,2,4")
    args = ap.parse_args()
    bases = start_sites(args.hosts)
    urls = [f"{bases[n % len(bases)]}/s/{n}" for n in range(args.pages)]
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(None, env={}, overrides={
            "storage": {"root": tmp}, "fetch": {"allow_private_addresses": True, "politeness_delay_s": 0,
                                                "soft404_probe": False},
            "capture": {"idle_timeout_s": 5}})
        with WarcSink(settings) as sink, HttpClient(settings.fetch) as client:
            rec = Recorder(settings, client, sink)
            peak, t = Peak(), time.monotonic()
            with ThreadPoolExecutor(4) as pool:
                results = list(pool.map(lambda u: capture_url(u, recorder=rec, settings=settings), urls))
            plain_s, plain_mb = time.monotonic() - t, peak.stop()
            print(f"plain capture: {len(urls)} pages in {plain_s:.1f} s = {len(urls) / plain_s:.1f} pages/s, "
                  f"peak {plain_mb:.0f} MB (4 threads)")
            docs = [read_document(r, settings, None) for r in results]
            for n in (int(x) for x in args.contexts.split(",")):
                s = settings.model_copy(update={"capture": settings.capture.model_copy(update={"concurrency": n})})
                browser = Browser(s, rec.fetch)
                browser.visit(urls[0], docs[0])  # launched before the clock starts
                peak, t = Peak(), time.monotonic()
                with ThreadPoolExecutor(n) as pool:
                    visits = list(pool.map(lambda i: browser.visit(urls[i], docs[i]), range(len(urls))))
                took, mb = time.monotonic() - t, peak.stop()
                browser.close()
                bad = [v.error for v in visits if v.error]
                ok = sum(1 for v in visits if v.dom and b"script-built paragraph" in v.dom)
                print(f"browser, {n} context(s): {len(urls)} pages in {took:.1f} s = {len(urls) / took:.2f} pages/s, "
                      f"peak {mb:.0f} MB PSS (this process, the driver, Chromium); script-built text in {ok}/{len(urls)}"
                      + (f"; {len(bad)} failed, first: {bad[0]}" if bad else ""))
    print(f"(machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
