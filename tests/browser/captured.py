"""A store whose pages were captured through the browser (capture.browser: always), by the pipeline itself:
the replay tests read what `archiver run` really writes, not records made by hand."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from archiver.config import Settings, load_settings
from archiver.db.session import make_engine, make_sessionmaker
from archiver.db.tables import Capture
from archiver.resolve.cdx import datetime_to_ts
from tests.conftest import run_cli, write_config


@dataclass
class Captured:
    cfg: Path
    settings: Settings
    stamps: dict[str, str]  # page URL -> its capture's 14-digit timestamp
    err: str = ""  # what `run` said on stderr


def capture_pages(tmp: Path, urls: list[str], capture: dict | None = None, **sections) -> Captured:
    """init, ingest one activity per URL, run with the browser (unless ``capture`` says otherwise); every page
    captured."""
    cfg = write_config(tmp, f"sqlite:///{(tmp / 'archiver.db').as_posix()}",
                       capture={"browser": "always", "idle_timeout_s": 2, "page_timeout_s": 30, **(capture or {})},
                       **sections)
    assert run_cli(["init"], cfg).code == 0
    report = tmp / "report.txt"
    report.write_text("".join(f"- On {n + 1} May 2018 the council met.\n  {u}\n" for n, u in enumerate(urls)),
                      encoding="utf-8")
    assert run_cli(["ingest", str(report)], cfg).code == 0
    r = run_cli(["run", "--json"], cfg)
    assert r.code == 0 and r.json()["captured"] == len(urls), (r.out, r.err)
    settings = load_settings(cfg, env={})
    engine = make_engine(settings)
    try:
        with make_sessionmaker(engine)() as s:
            rows = s.execute(select(Capture.url, Capture.captured_at).where(Capture.role == "target")).all()
    finally:
        engine.dispose()
    stamps = {u: datetime_to_ts(at) for u, at in rows if isinstance(at, datetime)}
    assert set(urls) <= set(stamps), stamps
    return Captured(cfg, settings, stamps, r.err)
