"""`archiver demo`: the whole job offline, against a small simulated web on 127.0.0.1."""
from __future__ import annotations

import shutil

import typer
import yaml

from .. import pipeline
from ..config import load_settings
from ..db import migrate
from ..db.session import make_engine, make_sessionmaker
from .output import console, emit_json, progress, stage_bars, table


def register(app: typer.Typer) -> None:
    app.command("demo", help="Run the whole pipeline offline against a simulated web (under a minute).")(demo)


def demo_config(root, sim) -> dict:
    """Settings for the demo: its own folder and SQLite file, loopback allowed (the simulated web)."""
    return {
        "storage": {"root": str(root)},
        "database": {"url": f"sqlite:///{(root / 'archiver.db').as_posix()}"},
        "fetch": {"allow_private_addresses": True, "politeness_delay_s": 0, "timeout_s": 5, "retry_base_s": 60},
        "resolver": {"shorteners": sim.shortener_hosts, **sim.resolver_extra()},
    }


def demo(ctx: typer.Context, json_out: bool = typer.Option(False, "--json", help="Machine-readable result.")):
    from ..ingest import ingest_source
    from ..db import queries
    from ..simweb import SimWeb

    base = ctx.obj.settings
    root = (base.storage.root / "demo").resolve()
    if root.exists():
        shutil.rmtree(root)  # the demo's own folder only: each demo starts afresh
    root.mkdir(parents=True)
    c = console()
    with SimWeb() as sim:
        cfg = demo_config(root, sim)
        (root / "config.yaml").write_text(yaml.safe_dump(cfg), encoding="utf-8")
        settings = load_settings(root / "config.yaml", env={})
        engine = make_engine(settings)
        migrate.upgrade(engine)
        Session = make_sessionmaker(engine)
        report = root / "demo-report.txt"
        report.write_text(sim.report_text(), encoding="utf-8")
        if not json_out:
            c.print(f"simulated web: shortener {sim.shortener_url}, site {sim.site_url}")
        ingested = ingest_source(Session, str(report), settings)
        with progress(not json_out) as bar:
            summary = pipeline.run(settings, Session, progress=stage_bars(bar), kind="demo")
        with Session() as s:
            acts = [queries.activity_detail(s, a["id"]) for a in queries.list_activities(s)]
    engine.dispose()
    doc = {"report": ingested.report_id, "summary": pipeline.summary_dict(summary),
           "activities": acts, "storage_root": str(root)}
    if json_out:
        emit_json(doc)
        return
    rows = []
    for a in acts:
        for link in a["links"] or [{}]:
            rows.append([a["ordinal"], a["date"] or "", link.get("url", ""), link.get("status", ""),
                         _evidence(link)])
    c.print(table("evidence", ["#", "date", "link as written", "status", "evidence"], rows))
    s = doc["summary"]
    c.print(f"resolved {s['resolved']}, captured {s['captured']}, dead {s['dead']}, failed {s['failed']} "
            f"in {s['seconds']} s")
    c.print(f"\nDemo data is in {root}. Explore it with:\n"
            f"  archiver --config {root / 'config.yaml'} activities\n"
            f"  archiver --config {root / 'config.yaml'} serve   (the simulated web is gone by then; "
            "the captures are not)")


def _evidence(link: dict) -> str:
    """The capture `archiver get` serves (queries.choose_capture) in a few words, or why there is none."""
    cap = next((c for c in link.get("captures") or [] if c["id"] == link.get("chosen_capture_id")), None)
    if cap is None:
        return link.get("status_reason") or ""
    where = "live" if cap["source"] == "live" else f"from {cap.get('archive_name') or 'archive'}"
    note = "" if cap.get("evidence") else " (not evidence)"
    return f"{cap['http_status']} {where} {cap['timestamp'][:10]} sha256:{(cap.get('sha256') or '')[:10]}…{note}"
