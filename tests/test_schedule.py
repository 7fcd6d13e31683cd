"""`archiver schedule` in a real subprocess with a short interval."""
import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

from archiver.db.base import utcnow
from archiver.db.tables import Lock, Run
from tests.conftest import write_config


def _start(config_file, *extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVER")}
    return subprocess.Popen([sys.executable, "-m", "archiver", "--config", str(config_file), "schedule", "--json",
                             *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _read_lines(proc, n, timeout=30):
    lines, deadline = [], time.monotonic() + timeout
    while len(lines) < n and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line:
            lines.append(json.loads(line))
    return lines


def test_schedule_runs_repeatedly_and_stops_cleanly_on_sigterm(cli, config_file, Session):
    proc = _start(config_file, "--interval", "1")
    try:
        docs = _read_lines(proc, 2)
        assert len(docs) == 2, proc.stderr.read() if proc.poll() is not None else "no output"
        assert all(d["ok"] for d in docs)
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
    assert code == 0
    with Session() as s:
        runs = s.query(Run).filter(Run.kind == "schedule").all()
        assert len(runs) >= 2 and all(r.status in ("ok", "interrupted") for r in runs)
        assert s.query(Lock).count() == 0


def test_schedule_skips_while_another_process_holds_the_lock(cli, config_file, Session):
    with Session() as s:  # another machine's pass, still heartbeating
        s.add(Lock(name="pipeline", owner="other-host:42", expires_at=utcnow() + timedelta(hours=1)))
        s.commit()
    proc = _start(config_file, "--interval", "1")
    try:
        docs = _read_lines(proc, 1)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert docs and "other-host:42" in docs[0]["skipped"]
    with Session() as s:
        assert s.query(Run).count() == 0


def test_run_refuses_while_locked(cli, Session):
    with Session() as s:
        s.add(Lock(name="pipeline", owner="other-host:42", expires_at=utcnow() + timedelta(hours=1)))
        s.commit()
    r = cli("run", "--json")
    assert r.code == 1 and "another run is in progress" in r.err


def test_bad_cron_is_a_config_error(cli):
    r = cli("schedule", "--cron", "61 * * * *")
    assert r.code == 2 and "schedule.cron" in r.err


def test_scheduler_coalesces_misfires_and_never_overlaps(settings, Session):
    import threading
    from datetime import datetime, timezone

    from archiver.schedule import make_scheduler

    sched = make_scheduler(settings, Session, threading.Event(), cron="30 2 * * *")
    [job] = sched.get_jobs()  # pending (not started): the job as it will run
    # missed runs (machine off, a long pass) are coalesced into one; one pass at a time in a process
    assert job.coalesce is True and job.max_instances == 1 and job.misfire_grace_time == 3600
    # cron and timezone from config: the next run after 01:00 UTC is 02:30 UTC the same day
    nxt = job.trigger.get_next_fire_time(None, datetime(2026, 1, 3, 1, 0, tzinfo=timezone.utc))
    assert nxt == datetime(2026, 1, 3, 2, 30, tzinfo=timezone.utc)


def test_schedule_timezone_from_config(tmp_path, db_url):
    from archiver.config import load_settings
    from archiver.schedule import make_trigger

    cfg = write_config(tmp_path, db_url, schedule={"cron": "0 2 * * *", "timezone": "Asia/Baku"})
    trig = make_trigger(load_settings(cfg, env={}))
    assert str(trig.timezone) == "Asia/Baku"
