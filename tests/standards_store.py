"""A store written by the pipeline itself, for the tests that read it with tools we did not write.

The whole job as `archiver demo` runs it against the simulated web (archiver/simweb.py): short links
resolved hop by hop, pages captured with their requisites, identical payloads recorded as revisits, a
dead code resolved and a gone page recovered from the simulated Wayback archive (which sends its own
Memento-Datetime and Link, as the Internet Archive does). Then, with the same settings, what the demo
does not reach: an HTTPS capture (its certificate chain in a metadata record), a chunked response, a
gzip-encoded one, and one cut at fetch.max_bytes (WARC-Truncated: length).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml


@dataclass
class Store:
    root: Path  # storage.root
    config: Path
    recovered_url: str  # the page recovered from the archive
    memento_ts: str  # the archive's 14-digit timestamp of it
    page_url: str  # a live page with requisites, captured twice (the second time a revisit)

    @property
    def warcs(self) -> list[Path]:
        return sorted((self.root / "warcs").glob("*.warc.gz"))


def build_store(folder: Path) -> Store:
    from archiver import pipeline
    from archiver.cli.demo import demo_config
    from archiver.config import load_settings
    from archiver.db import migrate
    from archiver.db.session import make_engine, make_sessionmaker
    from archiver.ingest import ingest_source
    from archiver.simweb import SimWeb
    from tests.servers.targets import recorder_for, self_signed_cert, serve

    root = (folder / "storage").resolve()
    root.mkdir(parents=True)
    with SimWeb() as sim:
        cfg = demo_config(root, sim)
        config = root / "config.yaml"
        config.write_text(yaml.safe_dump(cfg), encoding="utf-8")
        settings = load_settings(config, env={})
        engine = make_engine(settings)
        migrate.upgrade(engine)
        Session = make_sessionmaker(engine)
        report = root / "report.txt"
        report.write_text(sim.report_text(), encoding="utf-8")
        ingest_source(Session, str(report), settings)
        pipeline.run(settings, Session, kind="test")
        recovered = sim.site_url + "/gone"
        page = sim.site_url + "/reports/open-budget.html"
    cert, key, _ = self_signed_cert(str(folder))
    extra = load_settings(config, env={}, overrides={"fetch": {"verify_tls": False, "max_bytes": 50_000}})
    # with the sessionmaker: the file is registered and in the manifest, so `archiver verify` knows it
    with serve(tls=(cert, key)) as tls_site, serve() as site, recorder_for(extra, Session) as (rec, _sink):
        rec.fetch(tls_site.url("/final"))
        rec.fetch(site.url("/chunked.html"))
        rec.fetch(site.url("/gzip.html"))
        rec.fetch(site.url("/big?bytes=200000"))
    engine.dispose()
    return Store(root, config, recovered, "20170705120000", page)
