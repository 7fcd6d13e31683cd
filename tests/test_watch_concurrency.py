"""The watch step re-checks with the capture stage's concurrency and per-host limits (issue 10)."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update

from archiver import pipeline
from archiver.config import load_settings
from archiver.db.base import utcnow
from archiver.db.session import make_engine, make_sessionmaker
from archiver.db.tables import LinkCheck, Target
from archiver.watch import by_host_turns
from tests.conftest import run_cli, write_config
from tests.servers.counting import counting_sites


def test_due_targets_are_taken_host_after_host():
    rows = [(1, "http://a.test/1", None), (2, "http://a.test/2", None), (3, "http://a.test/3", None),
            (4, "http://b.test/1", None), (5, "http://x.test/", "http://c.test/moved")]
    assert by_host_turns(rows) == [1, 4, 5, 2, 3]
    assert by_host_turns([]) == []


def test_rechecks_run_side_by_side_within_each_hosts_limit(tmp_path, db_url, engine):
    with counting_sites(3, latency=0.25) as servers:
        urls = [f"http://{s.server_address[0]}:{s.server_address[1]}/p/{h}-{i}"
                for h, s in enumerate(servers) for i in range(4)]  # grouped by host, as reports cite
        report = tmp_path / "w.txt"
        report.write_text("".join(f"- On {i + 1} May 2018 meeting {i}, see {u}\n" for i, u in enumerate(urls)))
        cfg = write_config(tmp_path, db_url, name="watch.yaml",
                           fetch={"concurrency": 6, "per_host_concurrency": 2, "soft404_probe": False})
        assert run_cli(["ingest", str(report), "--json"], cfg).code == 0
        settings = load_settings(cfg, env={})
        eng = make_engine(settings)
        Session = make_sessionmaker(eng)
        pipeline.run(settings, Session, stage="resolve")
        assert pipeline.run(settings, Session, stage="capture").captured == 12
        with Session() as s:
            s.execute(update(Target).values(next_check_at=utcnow() - timedelta(minutes=1)))
            s.commit()
        for srv in servers:
            srv.peak = 0
        summary = pipeline.run(settings, Session, stage="watch")
        assert summary.watch["checked"] == 12 and summary.watch["alive"] == 12, summary.watch
        assert all(srv.peak == 2 for srv in servers), [srv.peak for srv in servers]  # side by side, within limits
        with Session() as s:
            assert s.scalar(select(func.count()).select_from(LinkCheck)) == 12
        eng.dispose()
