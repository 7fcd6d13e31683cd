"""`archiver worker`: a Celery worker running the pipeline's tasks (queue.url), in this process."""
from __future__ import annotations

import os
import socket

import typer

from .output import console

KINDS = ("resolve", "capture", "browser", "extract", "watch")


def register(app: typer.Typer) -> None:
    app.command("worker", help="Run pipeline tasks from the queue (queue.url): a Celery worker in the "
                "foreground.")(worker)


def parse_queues(value: str | None, names) -> list[str]:
    """Queue names from ``resolve,capture,...`` (the kinds of task); raises ValueError naming a bad one."""
    kinds = KINDS if not value else tuple(dict.fromkeys(p.strip() for p in value.split(",")))
    bad = [k for k in kinds if k not in KINDS]
    if bad or not kinds:
        raise ValueError(f"--queues takes {', '.join(KINDS)} or several separated by commas (got {value!r})")
    return [getattr(names, k) for k in kinds]


def worker(
    ctx: typer.Context,
    concurrency: int = typer.Option(None, "--concurrency", "-c", min=1,
                                    help="Tasks at once, each on a thread (default: fetch.concurrency)."),
    queues: str = typer.Option(None, "--queues", "-Q", help="Take tasks of these kinds only: resolve, capture, "
                               "browser, extract, watch, separated by commas (default: all)."),
    name: str = typer.Option(None, "--name", help="Worker name as `status` lists it "
                             "(default: archiver.<pid>@<host>)."),
):
    from ..distributed.app import make_app

    settings = ctx.obj.settings
    try:
        names = parse_queues(queues, settings.queue.names)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    ctx.obj.sessionmaker()  # an uninitialised database is refused here, with one line, not in every task
    app = make_app(settings, worker=True)
    hostname = name or f"archiver.{os.getpid()}@{socket.gethostname()}"
    console().print(f"archiver worker {hostname}: queues {', '.join(names)}; "
                    f"{concurrency or settings.fetch.concurrency} at once; Ctrl-C or SIGTERM stops", markup=False)
    app.archiver_state.warm()  # imports, HTTP client, recorder now: the first tasks do not wait on them
    # threads, not prefork: one process's tasks share one HTTP client, host gate and WARC file, as the
    # in-process pass's workers do; start a worker per core (or machine) to use more cores
    w = app.Worker(queues=names, concurrency=concurrency or settings.fetch.concurrency, pool="threads",
                   hostname=hostname, loglevel="WARNING", quiet=True, redirect_stdouts=False,
                   without_mingle=True, without_gossip=True)  # no revokes to sync: start at once
    w.start()
    raise typer.Exit(w.exitcode or 0)
