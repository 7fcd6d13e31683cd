"""How this package starts helper processes (fetch lanes, a big PDF's page readers).

Forked from this process when it runs no other thread: no lock can be held by another thread at
that instant, and the code is already imported, so a helper starts in milliseconds (a fork server
first spends ~0.6 s importing it). Otherwise (the web UI's threads, a progress bar's) from a fork
server where there is one, which imports ``preload`` once and forks each helper from that clean,
single-threaded process; a fresh interpreter per helper elsewhere.
"""
from __future__ import annotations

import multiprocessing as mp
import sys
import threading


def start_context(preload: list[str]):
    """The multiprocessing context to start helpers with (see the module's docstring)."""
    methods = mp.get_all_start_methods()
    if sys.platform.startswith("linux") and "fork" in methods and threading.active_count() == 1:
        return mp.get_context("fork")
    if "forkserver" in methods:
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(preload)
        return ctx
    return mp.get_context("spawn")
