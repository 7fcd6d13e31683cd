"""Prometheus /metrics on the interface, read back with prometheus_client's own text parser (not ours).

The pass runs in another process (the CLI, in a subprocess): the figures come from the database."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from archiver.config import load_settings
from archiver.db import migrate
from archiver.db.base import utcnow
from archiver.db.session import make_engine, make_sessionmaker
from archiver.db.tables import Target
from archiver.web.app import create_app
from tests.browser.servers import serve_app
from tests.conftest import run_cli, write_config
from tests.test_watch import Site

READER = "r-Vq8Lk2Tz9Xw4Np7Hs3Fj6Gd"


def samples(text: str) -> dict:
    """{(sample name, frozenset of labels): value} as prometheus_client parses the exposition."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(got: dict, name: str, **labels) -> float:
    return got[(name, frozenset(labels.items()))]


@pytest.fixture
def site():
    s = Site()
    yield s
    s.close()


def _cli_subprocess(cfg, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVER")}
    return subprocess.run([sys.executable, "-m", "archiver", "--config", str(cfg), *args], capture_output=True,
                          text=True, env=env, timeout=120)


def test_metrics_show_throughput_failures_lag_and_the_last_pass(tmp_path, db_url, site):
    site.page("/a", "page a")
    site.page("/b", "page b")
    report = tmp_path / "r.txt"
    report.write_text("Report\n\n1. One (see {}).\n2. Two (see {}).\n3. Three (see {}).\n".format(
        site.url("/a"), site.url("/b"), site.url("/missing")), encoding="utf-8")
    cfg = write_config(tmp_path, db_url, web={"tokens": [{"token": READER, "role": "reader"}]})
    assert run_cli(["init"], cfg).code == 0
    assert run_cli(["ingest", report], cfg).code == 0
    before = time.time()
    done = _cli_subprocess(cfg, "run", "--json")  # another process did the work
    assert done.returncode == 0, done.stderr

    settings = load_settings(cfg, env={})
    engine = make_engine(settings)
    migrate.upgrade(engine)
    Session = make_sessionmaker(engine)
    try:
        with serve_app(create_app(settings, Session, replay_origin_url="http://127.0.0.1:9")) as base:
            # the JSON API's access rules: a token (any role), else 401
            assert requests.get(base + "/metrics").status_code == 401
            r = requests.get(base + "/metrics", headers={"Authorization": f"Bearer {READER}"})
            assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain; version=")
            got = samples(r.text)
            assert value(got, "archiver_items_total", stage="capture", outcome="captured") == 2
            assert value(got, "archiver_items_total", stage="capture", outcome="dead") == 1
            assert value(got, "archiver_items_total", stage="extract", outcome="extracted") >= 2
            assert value(got, "archiver_captured_bytes_total") > 100
            assert value(got, "archiver_passes_total", kind="run", status="ok") == 1
            assert value(got, "archiver_passes_running") == 0
            assert before <= value(got, "archiver_last_pass_end_timestamp_seconds", kind="run") <= time.time()
            assert value(got, "archiver_last_pass_success", kind="run") == 1
            assert value(got, "archiver_last_pass_duration_seconds", kind="run") > 0
            assert value(got, "archiver_targets", status="captured") == 2
            assert value(got, "archiver_targets", status="dead") == 1
            for stage in ("resolve", "capture", "extract", "watch"):
                assert value(got, "archiver_due_items", stage=stage) == 0
                assert value(got, "archiver_oldest_due_age_seconds", stage=stage) == 0

            # lag: a link waiting an hour for capture, one failed for good, a re-check overdue by a day
            with Session() as s:
                s.add(Target(url="http://127.0.0.1:9/late", url_hash="late", stage="capture",
                             created_at=utcnow() - timedelta(hours=1)))
                s.add(Target(url="http://127.0.0.1:9/given-up", url_hash="given-up", stage="capture",
                             status="failed", given_up=True))
                a = s.query(Target).filter(Target.url == site.url("/a")).one()
                a.next_check_at = utcnow() - timedelta(days=1)
                s.commit()
            got = samples(requests.get(base + "/metrics", headers={"Authorization": f"Bearer {READER}"}).text)
            assert value(got, "archiver_due_items", stage="capture") == 1
            assert 3600 <= value(got, "archiver_oldest_due_age_seconds", stage="capture") < 3700
            assert value(got, "archiver_due_items", stage="watch") == 1
            assert 86400 <= value(got, "archiver_oldest_due_age_seconds", stage="watch") < 86500
            assert value(got, "archiver_given_up_items") == 1
    finally:
        engine.dispose()


def test_metrics_count_notify_results(tmp_path, db_url):
    from archiver.db.tables import Run

    cfg = write_config(tmp_path, db_url)
    settings = load_settings(cfg, env={})
    engine = make_engine(settings)
    migrate.upgrade(engine)
    Session = make_sessionmaker(engine)
    try:
        with Session() as s:
            for ok in (True, False, False):
                s.add(Run(kind="schedule", status="ok", finished_at=utcnow(),
                          counts={"notify": {"webhook": {"ok": ok, "tries": 1}}}))
            s.add(Run(kind="schedule", status="ok", finished_at=utcnow(), counts={"notify": {"skipped": "quiet"}}))
            s.commit()
        with serve_app(create_app(settings, Session, replay_origin_url="http://127.0.0.1:9")) as base:
            got = samples(requests.get(base + "/metrics").text)  # no tokens: open, as the JSON API is
        assert value(got, "archiver_notify_total", target="webhook", result="ok") == 1
        assert value(got, "archiver_notify_total", target="webhook", result="failed") == 2
        assert value(got, "archiver_passes_total", kind="schedule", status="ok") == 4
    finally:
        engine.dispose()
