"""Links grouped by host, as reports cite a site's pages together, are captured as fast as interleaved ones:
the pass leases past a window of one or two hosts' items, so that every host is worked on at once (issue 10:
grouped links had been captured 2.9x slower, most workers idle behind the per-host limit)."""
from __future__ import annotations

import pytest

from archiver import pipeline
from archiver.config import load_settings
from archiver.db.session import make_engine, make_sessionmaker
from archiver.hostqueue import HostQueue, Item
from tests.conftest import run_cli, write_config
from tests.servers.counting import counting_sites

LATENCY = 1.0  # a pass that leases past its first window asks every host well within one answer


@pytest.mark.parametrize("processes", [1, 2])
def test_every_host_is_asked_from_the_start_when_the_report_groups_them(tmp_path, db_url, engine, processes):
    with counting_sites(6, latency=LATENCY) as servers:
        urls = [f"http://{s.server_address[0]}:{s.server_address[1]}/p/{h}-{i}"
                for h, s in enumerate(servers) for i in range(5)]  # host after host
        report = tmp_path / "grouped.txt"
        report.write_text("".join(f"- On {i % 28 + 1} May 2018 meeting {i}, see {u}\n" for i, u in enumerate(urls)))
        cfg = write_config(tmp_path, db_url, name="grouped.yaml",
                           fetch={"concurrency": 6, "per_host_concurrency": 1, "politeness_delay_s": 0,
                                  "soft404_probe": False, "processes": processes})
        r = run_cli(["ingest", str(report), "--json"], cfg)
        assert r.code == 0, r.err
        settings = load_settings(cfg, env={})
        engine = make_engine(settings)
        Session = make_sessionmaker(engine)
        try:
            pipeline.run(settings, Session, stage="resolve")
            assert pipeline.run(settings, Session, stage="capture").captured == 30
        finally:
            engine.dispose()
        firsts = [min(s.starts) for s in servers]
        assert all(s.peak == 1 for s in servers)  # the per-host limit held
    # with a window of 12 items (hosts 1-3), hosts 4-6 were first asked after two of host 1's pages (2 s)
    spread = max(firsts) - min(firsts)
    assert spread < LATENCY, [round(f - min(firsts), 2) for f in firsts]


def test_host_queue_counts_the_hosts_it_holds():
    q = HostQueue(per_host=1)
    assert q.hosts() == 0
    for i, host in enumerate(["a", "a", "b", None]):
        q.put(Item(i, host))
    assert q.hosts() == 2  # None (no request) is not a host
    first = q.take(timeout=0)
    assert q.hosts() == 2  # in flight still counts
    q.done(first)
    q.defer(q.take(timeout=0), until=1e12)
    assert q.hosts() == 2  # deferred ones too
