"""A pass at high concurrency on the default connection pool: no pool errors, one connection per worker."""
from __future__ import annotations

import threading
from contextlib import ExitStack
from collections import Counter

from sqlalchemy import update, event, func, select

from archiver import pipeline
from archiver.config import load_settings
from archiver.db.session import make_engine, make_sessionmaker, pool_limits
from archiver.db.tables import Capture, Target
from tests.conftest import run_cli, write_config
from tests.servers.targets import serve


def test_capture_pass_at_concurrency_32_uses_one_connection_per_worker(tmp_path, db_url, engine, monkeypatch):
    import archiver.capture.known_urls as ku

    real = ku.KnownUrls.__init__  # as on a big database: every worker's revisit look-up asks it
    monkeypatch.setattr(ku.KnownUrls, "__init__", lambda self, load, count, **kw: real(self, load, count, small=-1))
    cfg = write_config(tmp_path, db_url, name="c32.yaml",
                       fetch={"concurrency": 32, "per_host_concurrency": 8, "timeout_s": 10})
    settings = load_settings(cfg, env={})
    with ExitStack() as stack:
        sites = [stack.enter_context(serve(f"127.0.0.{i}", latency=0.15)) for i in range(2, 6)]
        urls = [sites[i % 4].url(f"/n/{i}") for i in range(128)]
        report = tmp_path / "many.txt"
        report.write_text("".join(f"- On {1 + i % 28} May 2018 meeting {i}, see {u}\n" for i, u in enumerate(urls)))
        assert run_cli(["ingest", str(report), "--json"], cfg).code == 0

        eng = make_engine(settings)  # the default pool, as `archiver run` builds it
        held, peak, lock = Counter(), Counter(), threading.Lock()

        @event.listens_for(eng, "checkout")
        def _out(*_):
            with lock:
                me = threading.current_thread().name
                held[me] += 1
                peak[me] = max(peak[me], held[me])

        @event.listens_for(eng, "checkin")
        def _in(*_):
            with lock:
                held[threading.current_thread().name] -= 1

        Session = make_sessionmaker(eng)
        pipeline.run(settings, Session, stage="resolve")
        summary = pipeline.run(settings, Session, stage="capture")
        eng.dispose()

    assert summary.errors == [] and summary.failed == 0 and summary.captured == 128, summary.errors[:3]
    workers = {name: n for name, n in peak.items() if name.startswith("capture-")}
    assert len(workers) > 16  # the threads really ran side by side
    assert max(workers.values()) == 1, workers  # never a second connection while holding one
    assert pool_limits(settings)[0] >= 32
    with make_sessionmaker(engine)() as s:
        assert s.scalar(select(func.count()).select_from(Target).where(Target.status == "captured")) == 128
        assert s.scalar(select(func.count()).select_from(Capture).where(Capture.role == "target")) == 128


def test_a_worker_broken_beyond_one_item_stops_the_pass_instead_of_hanging(tmp_path, db_url, engine, monkeypatch):
    import pytest

    cfg = write_config(tmp_path, db_url, name="crash.yaml")
    report = tmp_path / "r.txt"
    report.write_text("".join(f"- On {i + 1} May 2018 meeting {i}, see http://127.0.0.1:9/{i}\n" for i in range(6)))
    assert run_cli(["ingest", str(report)], cfg).code == 0

    def broken(*a, **k):
        raise ConnectionError("the database went away")

    settings = load_settings(cfg, env={})
    pipeline.run(settings, make_sessionmaker(engine), stage="resolve")  # plain links: on to capture
    # the network half runs in the workers, the rows in the pass's one writer: its database gone
    from archiver.batchwriter import BatchWriter

    monkeypatch.setattr(BatchWriter, "_apply_batch", broken)
    with pytest.raises(ConnectionError, match="went away"):
        pipeline.run(settings, make_sessionmaker(engine), stage="capture")
    monkeypatch.undo()
    # a stage run whole in the workers (extract): a worker's database gone
    monkeypatch.setattr(pipeline, "_process", broken)
    with make_sessionmaker(engine)() as s:
        s.execute(update(Target).values(stage="extract", lease_owner=None, lease_until=None))
        s.commit()
    with pytest.raises(ConnectionError, match="went away"):
        pipeline.run(settings, make_sessionmaker(engine), stage="extract")
