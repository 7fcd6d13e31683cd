"""`archiver schedule`: run the pipeline on a schedule, in the foreground."""
from __future__ import annotations

import typer

from .. import schedule as scheduling
from .output import console, emit_json_line


def register(app: typer.Typer) -> None:
    app.command("schedule", help="Run the pipeline nightly (cron from config) in the foreground.")(schedule)


def schedule(
    ctx: typer.Context,
    cron: str = typer.Option(None, "--cron", help="Crontab expression, overrides schedule.cron."),
    interval: float = typer.Option(None, "--interval", min=0.1, help="Run every N seconds instead (testing, tight loops)."),
    json_out: bool = typer.Option(False, "--json", help="One JSON line per run on stdout."),
):
    settings = ctx.obj.settings
    Session = ctx.obj.sessionmaker()
    trigger = scheduling.make_trigger(settings, cron, interval)  # validates before starting

    def on_result(doc: dict) -> None:
        if json_out:
            emit_json_line(doc)
        else:
            console().print(f"run finished: {doc}")

    if not json_out:
        console().print(f"archiver schedule: {trigger} ({settings.schedule.timezone}); Ctrl-C or SIGTERM stops")
    scheduling.serve_forever(settings, Session, cron=cron, interval_s=interval, on_result=on_result)
