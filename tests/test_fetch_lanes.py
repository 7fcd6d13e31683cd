"""Fetch lanes (fetchlanes.py): the network half of a stage in child processes, rows in the pass's
one writer (batchwriter.py). The same evidence as one process, per-host limits held across
processes, a killed child costing only its items in flight."""
from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections import Counter

import pytest
from sqlalchemy import func, select

from archiver import pipeline
from archiver.batchwriter import BatchWriter, Broken
from archiver.config import load_settings
from archiver.db.session import make_engine, make_sessionmaker
from archiver.db.tables import Attempt, Capture, Target
from archiver.fetchlanes import AUTO_MIN_ITEMS, lanes_for
from archiver.hostqueue import Item
from archiver.stages import Tools
from tests.conftest import run_cli, write_config
from tests.servers.counting import body as page_body, counting_sites as _sites


def _report(tmp_path, servers, per_host: int):
    urls = [f"http://{s.server_address[0]}:{s.server_address[1]}/p/{h}-{i}"
            for i in range(per_host) for h, s in enumerate(servers)]
    report = tmp_path / "lanes.txt"
    report.write_text("".join(f"- On {1 + i % 28} May 2018 meeting {i}, see {u}\n" for i, u in enumerate(urls)))
    return report, urls


def _setup(tmp_path, db_url, servers, per_host, **fetch):
    cfg = write_config(tmp_path, db_url, name="lanes.yaml",
                       fetch={"concurrency": 8, "per_host_concurrency": 2, "politeness_delay_s": 0,
                              "timeout_s": 10, **fetch})
    report, urls = _report(tmp_path, servers, per_host)
    assert run_cli(["ingest", str(report), "--json"], cfg).code == 0
    settings = load_settings(cfg, env={})
    eng = make_engine(settings)
    return cfg, settings, eng, make_sessionmaker(eng), urls


def test_lanes_are_forked_only_from_a_process_running_no_other_thread():
    import subprocess
    import sys

    code = "from archiver.fetchlanes import _context; print(_context().get_start_method())"
    alone = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert alone.stdout.strip() == "fork", alone.stderr
    busy = subprocess.run([sys.executable, "-c", "import threading, time; "
                           "threading.Thread(target=time.sleep, args=(5,), daemon=True).start(); " + code],
                          capture_output=True, text=True, timeout=60)
    assert busy.stdout.strip() == "forkserver", busy.stderr


def test_how_many_lanes_a_stage_gets(tmp_path, db_url):
    cfg = write_config(tmp_path, db_url)
    auto = load_settings(cfg, env={})  # the default
    assert auto.fetch.processes == "auto"
    assert lanes_for(load_settings(cfg, env={"ARCHIVER__FETCH__PROCESSES": "1"}), 10_000, cores=8) == 1  # off
    assert lanes_for(auto, AUTO_MIN_ITEMS - 1, cores=2) == 1  # a small pass: not worth a process
    assert lanes_for(auto, AUTO_MIN_ITEMS, cores=2) == 2
    assert lanes_for(auto, 10_000, cores=1) == 1
    forced = load_settings(cfg, env={"ARCHIVER__FETCH__PROCESSES": "3"})
    assert lanes_for(forced, 5, cores=2) == 3
    assert lanes_for(load_settings(cfg, env={"ARCHIVER__FETCH__PROCESSES": "64"}), 5) == 8  # concurrency caps it


@pytest.mark.parametrize("started", ["forkserver", "fork"])
def test_two_processes_capture_what_one_does_and_keep_per_host_limits(tmp_path, db_url, engine, started):
    """forkserver: a pass in a process running other threads (this one: the test sites, xdist);
    fork: `archiver run` in a process of its own, whose lanes are forked from it (fetchlanes._context)."""
    import hashlib
    import json
    import subprocess
    import sys
    from urllib.parse import urlsplit

    with _sites(4, latency=0.05) as servers:
        cfg, settings, eng, Session, urls = _setup(tmp_path, db_url, servers, 8, processes=2)
        pipeline.run(settings, Session, stage="resolve")
        if started == "forkserver":
            assert threading.active_count() > 1
            summary = pipeline.run(settings, Session, stage="capture")
            assert summary.captured == 32 and summary.failed == 0, summary.errors
        else:
            out = subprocess.run([sys.executable, "-m", "archiver", "--config", str(cfg), "--verbose", "run",
                                  "--stage", "capture", "--json"], capture_output=True, text=True, timeout=120)
            assert out.returncode == 0, out.stderr[-3000:]
            assert "2 fetch processes started (fork)" in out.stderr, out.stderr[-3000:]
            doc = json.loads(out.stdout)
            assert doc["captured"] == 32 and doc["failed"] == 0, doc
        with Session() as s:
            caps = s.execute(select(Capture.url, Capture.sha256, Capture.warc_file)
                             .where(Capture.role == "target")).all()
            assert s.scalar(select(func.count()).select_from(Target).where(Target.lease_owner.is_not(None))) == 0
        eng.dispose()
        assert all(s.peak <= 2 for s in servers), [s.peak for s in servers]  # per host, across processes
        pages = Counter(p for s in servers for p, n in s.paths.items() for _ in range(n) if p.startswith("/p/"))
        assert sorted(pages) == sorted(urlsplit(u).path for u in urls) and set(pages.values()) == {1}
    # the same evidence one process records: each page's exact body, once
    assert sorted((u, h) for u, h, _ in caps) == sorted(
        (u, hashlib.sha256(page_body(urlsplit(u).path)).hexdigest()) for u in urls)
    assert len({w for _, _, w in caps}) == 2  # each process wrote its own WARC file
    verified = run_cli(["verify", "--json"], cfg)
    assert verified.code == 0, verified.out


def test_a_killed_fetch_process_costs_only_its_items(tmp_path, db_url, engine):
    stall = threading.Event()
    with _sites(2, latency=0.0, stall=stall) as servers:
        cfg, settings, eng, Session, urls = _setup(tmp_path, db_url, servers, 4, processes=2)
        pipeline.run(settings, Session, stage="resolve")
        out = {}
        runner = threading.Thread(target=lambda: out.update(s=pipeline.run(settings, Session, stage="capture")))
        runner.start()
        deadline = time.monotonic() + 30
        while sum(s.inflight for s in servers) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)  # both lanes hold requests that stall
        children = multiprocessing.active_children()
        assert len(children) == 2
        os.kill(children[0].pid, signal.SIGKILL)
        time.sleep(0.5)
        stall.set()
        runner.join(60)
        assert not runner.is_alive()
        summary = out["s"]
        assert summary.captured + summary.failed == 8
        assert 0 < summary.failed <= 4 and any("fetch process ended" in e or "ended" in e for e in summary.errors)
        # the next pass captures the rest, once each
        again = pipeline.run(settings, Session, stage="capture")
        assert again.captured == summary.failed
        with Session() as s:
            per_target = Counter(s.scalars(select(Capture.target_id).where(Capture.role == "target")))
            assert len(per_target) == 8 and set(per_target.values()) == {1}
        eng.dispose()
    assert run_cli(["verify", "--json"], cfg).code == 0


def test_a_batch_that_cannot_be_written_fails_only_the_bad_item(tmp_path, db_url, settings, Session):
    """Rows are written many targets per transaction; one that breaks is rolled back and the batch is
    written item by item, so the others are recorded and only the bad one is failed."""
    from archiver.db.tables import Activity, Link, Report
    from archiver.model import CaptureResult, Outcome
    from archiver.stages import Captured
    from archiver.db.base import utcnow

    with Session() as s:
        rep = Report(source="x", source_kind="file", sha256="0" * 64, format="txt", size_bytes=1)
        s.add(rep)
        s.flush()
        targets = [Target(url=f"http://127.0.0.1:9/{i}", url_hash=f"{i:064d}", is_short=False, stage="capture",
                          lease_owner="me") for i in range(3)]
        s.add_all(targets)
        s.flush()
        act = Activity(report_id=rep.id, ordinal=1, text="a")
        s.add(act)
        s.flush()
        s.add_all([Link(activity_id=act.id, target_id=t.id, position=i, url_raw=t.url, url_normalized=t.url)
                   for i, t in enumerate(targets)])
        s.commit()
        ids = [t.id for t in targets]
    tools = Tools(settings=settings, Session=Session, client=None, sink=None, recorder=None)
    failed = CaptureResult(Outcome.FAILED, final_url="http://127.0.0.1:9/", reason="connection refused",
                           error_type="FetchError")
    good = Captured(utcnow(), failed, True, None, "no web archive configured")
    bad = Captured(utcnow(), failed, True, None, "")
    results = []
    writer = BatchWriter(Session, "capture", tools, "me", lambda item, o, e: results.append((item.target_id, o, e)))
    import archiver.stages as stages

    real = stages.capture_apply

    def apply(session, target, found, tools_, attempt):
        if target.id == ids[1]:
            raise ValueError("this item's rows cannot be written")
        return real(session, target, found, tools_, attempt)

    writer._apply = apply
    writer.put(Item(ids[0], None), good)
    writer.put(Item(ids[1], None), bad)
    writer.put(Item(ids[2], None), Broken(RuntimeError("a bug in the network half")))
    writer.close()
    by_id = {i: (o, e) for i, o, e in results}
    assert by_id[ids[0]] == ("failed", None)  # written: a failed fetch is data
    assert by_id[ids[1]][0] == "failed" and "cannot be written" in by_id[ids[1]][1]
    assert by_id[ids[2]][0] == "failed" and "a bug in the network half" in by_id[ids[2]][1]
    with Session() as s:
        rows = {t.id: t for t in s.scalars(select(Target).where(Target.id.in_(ids)))}
        assert all(t.lease_owner is None for t in rows.values())  # every lease handed back
        assert "connection refused" in rows[ids[0]].status_reason
        assert "cannot be written" in rows[ids[1]].status_reason
        assert s.scalar(select(func.count()).select_from(Attempt).where(Attempt.target_id == ids[0])) == 1
