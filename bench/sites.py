"""Loopback sites for benchmarks: many hosts, fixed latency, distinct text pages of a set size.

One asyncio process serves every host (no thread per request, so the servers take little
of the CPU that archiver and wget are measured on). ``GET /p/<n>`` answers, after
``latency`` seconds, a distinct HTML page of about ``kb`` KB of prose (title, headings,
paragraphs: what trafilatura meets on a real page) with Content-Length and keep-alive;
any other path is a 404. ``start_sites`` runs them in a child process and returns the
base URLs and a stop function.
"""
from __future__ import annotations

import asyncio
import multiprocessing as mp
import random
from typing import Callable

WORDS = ("ministry plan water gas contract audit budget report hearing court decree minutes council committee "
         "parliament agency tender procurement region village school hospital road bridge energy pipeline "
         "environment monitoring platform citizens rights law draft amendment session testimony evidence "
         "license permit inspection fund grant oversight transparency declaration assets official").split()


def page(n: int, kb: int) -> bytes:
    """A distinct page for ``n`` of about ``kb`` KB (deterministic)."""
    rnd = random.Random(n)
    parts = [f"<!doctype html><html><head><meta charset=utf-8><title>Page {n}: "
             f"{' '.join(rnd.choices(WORDS, k=6))}</title></head><body><h1>Document {n}</h1>"]
    size = sum(map(len, parts))
    while size < kb * 1024:
        para = f"<p>{' '.join(rnd.choices(WORDS, k=rnd.randint(40, 90)))} (item {n}-{size}).</p>\n"
        if rnd.random() < 0.1:
            para = f"<h2>Section {size}</h2>" + para
        parts.append(para)
        size += len(para)
    parts.append("</body></html>")
    return "".join(parts).encode()


_made: dict[int, bytes] = {}  # pages made before the sites answer (start_sites' ``warm``), in the server process


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, latency: float, kb: int) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            line, _, rest = head.partition(b"\r\n")
            method, path, _ = line.decode("latin-1").split(" ", 2)
            close = b"connection: close" in rest.lower()
            await asyncio.sleep(latency)
            if path.startswith("/p/") and path[3:].isdigit():
                n = int(path[3:])
                status, body = "200 OK", _made.get(n) or page(n, kb)
            else:
                status, body = "404 Not Found", b"<html><body>no such page</body></html>"
            hdr = (f"HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\n"
                   f"Content-Length: {len(body)}\r\n{'Connection: close' + chr(13) + chr(10) if close else ''}\r\n")
            writer.write(hdr.encode("latin-1") + (b"" if method == "HEAD" else body))
            await writer.drain()
            if close:
                break
    except (asyncio.IncompleteReadError, asyncio.CancelledError, ConnectionError, ValueError):
        pass
    finally:
        writer.close()


def _serve(hosts: list[str], latency: float, kb: int, ready, stop, port: int = 0, warm: int = 0) -> None:
    _made.update((n, page(n, kb)) for n in range(warm))

    async def main() -> None:
        servers = [await asyncio.start_server(lambda r, w: _handle(r, w, latency, kb), h, port, backlog=512)
                   for h in hosts]
        ready.put([f"http://{h}:{s.sockets[0].getsockname()[1]}" for h, s in zip(hosts, servers)])
        while not stop.is_set():
            await asyncio.sleep(0.1)
        for s in servers:
            s.close()

    asyncio.run(main())


def start_sites(n_hosts: int, latency: float, kb: int, port: int = 0,
                warm: int = 0) -> tuple[list[str], Callable[[], None]]:
    """Serve 127.0.0.2 … 127.0.0.(n_hosts+1) from a child process; returns (base URLs, stop).
    ``port`` 0 takes a free port per host; a fixed one lets a kept store be captured again.
    ``warm``: pages /p/0 … /p/warm-1 are made before the sites answer, so that making them (~0.7 ms
    of CPU each) is not taken from the 2 cores the measured clients share with the server."""
    hosts = [f"127.0.0.{i}" for i in range(2, 2 + n_hosts)]
    ctx = mp.get_context("spawn")
    ready, stop = ctx.Queue(), ctx.Event()
    proc = ctx.Process(target=_serve, args=(hosts, latency, kb, ready, stop, port, warm), daemon=True)
    proc.start()
    bases = ready.get(timeout=60)

    def shutdown() -> None:
        stop.set()
        proc.join(timeout=10)

    return bases, shutdown
