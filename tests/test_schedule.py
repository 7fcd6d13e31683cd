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
from tests.conftest import run_cli


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
