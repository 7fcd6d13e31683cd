"""`archiver run`: one pass over all pending work."""
from __future__ import annotations

import signal
import threading

import typer
from rich.text import Text

from .. import pipeline
from .output import console, emit_json, progress, stage_bars, table


def register(app: typer.Typer) -> None:
    app.command("run", help="One pass: resolve, capture and extract every pending link, "
                "then re-check the captured links that are due.")(run)


def run(
    ctx: typer.Context,
    stage: str = typer.Option(None, "--stage", help="Run only these steps: resolve, capture, extract, watch (re-check captured links); "
                        "several separated by commas, e.g. resolve,capture."),
    limit: int = typer.Option(None, "--limit", min=1, help="At most N items per stage."),
    worker: bool = typer.Option(False, "--worker", help="Join a pass as an extra worker (no run lock)."),
    distributed: bool = typer.Option(False, "--distributed", help="Enqueue the due work for `archiver worker` "
                                     "processes (queue.url) instead of running it here, and wait for it."),
    no_wait: bool = typer.Option(False, "--no-wait", help="With --distributed: return once the work is enqueued."),
    notify_out: bool = typer.Option(False, "--notify", help="Send the pass's summary to the notify: targets "
                                    "(webhook, email), as a scheduled pass does."),
    json_out: bool = typer.Option(False, "--json", help="Machine-readable summary only."),
):
    try:
        pipeline.parse_steps(stage)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    settings = ctx.obj.settings
    if notify_out:
        from .. import notify
        from ..errors import ConfigError

        if not notify.configured(settings):
            raise ConfigError("--notify: no notify target is configured (set notify.webhook.url or "
                              "notify.email.host)")
    if (distributed or no_wait) and (stage or limit or worker or not settings.queue.url or not distributed):
        from ..errors import InputError

        raise InputError(_distributed_misuse(distributed, stage, limit, worker, bool(settings.queue.url)))
    Session = ctx.obj.sessionmaker()
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set()) if threading.current_thread() is threading.main_thread() else None
    enqueued = None
    try:
        with progress(not json_out) as bar:
            if distributed:
                from ..distributed.enqueue import run_distributed

                summary, enqueued = run_distributed(settings, Session, wait=not no_wait, progress=stage_bars(bar),
                                                    stop=stop)
            else:
                summary = pipeline.run(settings, Session, stage=stage, limit=limit, progress=stage_bars(bar),
                                       stop=stop, worker=worker)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    doc = pipeline.summary_dict(summary)
    if enqueued is not None:
        doc["enqueued"] = enqueued
        if no_wait:
            if json_out:
                emit_json(doc)
            else:
                console().print("enqueued: " + ", ".join(f"{k} {v}" for k, v in enqueued.items())
                                + " (`archiver status` shows the queues)", markup=False)
            raise typer.Exit(0)
    if notify_out:  # never changes the exit code: a failed target is one warning line and recorded on the run
        doc["notify"] = notify.send_pass(settings, Session, summary.run_id)
    if json_out:
        emit_json(doc)
    else:
        mb = summary.bytes / 1e6
        console().print(table(f"run {summary.run_id}", ["resolved", "captured", "extracted", "dead", "refused",
                                                         "failed", "MB", "seconds"],
                              [[summary.resolved, summary.captured, summary.extracted, summary.dead,
                                summary.refused, summary.failed, f"{mb:.2f}", summary.seconds]]))
        if summary.watch.get("checked"):
            w = summary.watch
            console().print(f"re-checked {w.get('checked', 0)} captured link(s): " + ", ".join(
                f"{k} {v}" for k, v in w.items() if k not in ("checked", "live") and v))
        live = summary.watch.get("live") or {}
        if any(live.values()):
            console().print("asked the shortener again about links an archive resolved: " + ", ".join(
                f"{k} {v}" for k, v in live.items() if v))
        for err in summary.errors[:10]:
            console().print(Text.assemble(("error", "red"), f": {err}"))
        if "notify" in doc:
            sent = doc["notify"]
            console().print("notify: " + (sent["skipped"] if "skipped" in sent else ", ".join(
                f"{name} {'sent' if r['ok'] else 'failed'}" for name, r in sent.items())), markup=False)
        if summary.failed:
            console().print(f"{summary.failed} item(s) failed; they are retried on later runs "
                            "(see `archiver status`).")
    raise typer.Exit(0 if summary.ok else 1)


def _distributed_misuse(distributed: bool, stage, limit, worker: bool, has_queue: bool) -> str:
    if not distributed:
        return "--no-wait goes with --distributed"
    if not has_queue:
        return "--distributed needs a broker: set queue.url (e.g. amqp://guest@127.0.0.1//)"
    return "--distributed runs every stage of every due item: it takes no --stage, --limit or --worker"
