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
    Session = ctx.obj.sessionmaker()
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set()) if threading.current_thread() is threading.main_thread() else None
    try:
        with progress(not json_out) as bar:
            summary = pipeline.run(settings, Session, stage=stage, limit=limit, progress=stage_bars(bar),
                                   stop=stop, worker=worker)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    doc = pipeline.summary_dict(summary)
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
