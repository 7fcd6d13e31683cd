"""`archiver serve` as a real process: both origins start, answer under the same rules when bound to every address
with tokens, and SIGTERM stops everything promptly and cleanly, even with requests still running."""
from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time

import pytest
import requests

from archiver.cli.serve import GRACEFUL_S
from tests.conftest import run_cli, write_config

TOKEN = "serve-Kq4Zx8Lm2Rv7Tn5Wb3Yc"


def _start(tmp_path, host="127.0.0.1", **web):
    db = tmp_path / "archiver.db"
    cfg = write_config(tmp_path, f"sqlite:///{db.as_posix()}", web=web) if web else write_config(
        tmp_path, f"sqlite:///{db.as_posix()}")
    assert run_cli(["init"], cfg).code == 0
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    proc = subprocess.Popen([sys.executable, "-m", "archiver", "--config", str(cfg), "serve", "--host", host,
                             "--port", "0", "--replay-port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, text=True)
    lines = [proc.stdout.readline() for _ in range(2)]
    ports = [re.search(r"http://[^/]+:(\d+)", line).group(1) for line in lines]
    return proc, db, f"http://127.0.0.1:{ports[0]}", f"http://127.0.0.1:{ports[1]}"


def _stop(proc):
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def test_serve_starts_both_servers_and_stops_on_sigterm(tmp_path):
    proc, _, ui, replay = _start(tmp_path)
    try:
        assert ui != replay
        r = requests.get(ui + "/", timeout=10)
        assert r.status_code == 200 and f"frame-src {replay}" in r.headers["Content-Security-Policy"]
        assert requests.get(replay + "/cdx/search/cdx?url=example.org&output=json", timeout=10).json() == []
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        with pytest.raises(requests.ConnectionError):
            requests.get(replay + "/cdx/search/cdx?url=x", timeout=2)
    finally:
        _stop(proc)


def test_sigterm_stops_promptly_during_slow_requests(tmp_path):
    """Issue 9: `serve` ignored SIGTERM while a heavy request ran. Two kinds in flight at once: an upload whose
    ingest waits on a database another process is writing (up to the 60 s busy timeout), and an upload whose
    client sends its body a byte now and then."""
    proc, db, ui, replay = _start(tmp_path)
    holder = sqlite3.connect(db, timeout=1)
    trickle = None
    try:
        replay_pid = _children(proc.pid)
        assert replay_pid
        holder.execute("BEGIN IMMEDIATE")  # as a long write elsewhere would: the ingest waits for it
        report = b"1. Published the plan (http://example.org/plan).\n"
        body = (b"--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"r.txt\"\r\n"
                b"Content-Type: text/plain\r\n\r\n" + report + b"\r\n--x--\r\n")
        slow = socket.create_connection(("127.0.0.1", int(ui.rsplit(":", 1)[1])))
        slow.sendall(b"POST /api/uploads HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; "
                     b"boundary=x\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        trickle = socket.create_connection(("127.0.0.1", int(ui.rsplit(":", 1)[1])))
        trickle.sendall(b"POST /api/uploads HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; "
                        b"boundary=x\r\nContent-Length: 100000\r\n\r\n--x\r\n")
        time.sleep(1.5)  # both are in the server now
        assert proc.poll() is None
        slow.settimeout(0.2)
        with pytest.raises(socket.timeout):
            slow.recv(1)  # the ingest is still waiting
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=GRACEFUL_S + 15)
        took = time.monotonic() - started
        assert code == 0, proc.stderr.read()
        assert took < GRACEFUL_S + 5, took
        print(f"stopped {took:.2f} s after SIGTERM with two requests in flight")
        for pid in replay_pid:  # the replay process went with it
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
        err = proc.stderr.read()
        assert "Traceback" not in err, err
        slow.close()
    finally:
        holder.rollback()
        holder.close()
        if trickle:
            trickle.close()
        _stop(proc)


def test_bound_to_every_address_with_tokens_both_origins_need_a_token(tmp_path):
    """Issue 9: bound to 0.0.0.0 with tokens, the replay port served the archive and its index to anyone."""
    proc, _, ui, replay = _start(tmp_path, host="0.0.0.0", tokens=[{"token": TOKEN, "role": "reader"}])
    try:
        for url in (ui + "/", ui + "/api/reports", replay + "/cdx/search/cdx?url=example.org",
                    replay + "/web/timemap/link/http://example.org/", replay + "/web/2020id_/http://example.org/"):
            assert requests.get(url, timeout=10, allow_redirects=False).status_code == 401, url
        auth = {"Authorization": f"Bearer {TOKEN}"}
        assert requests.get(ui + "/api/reports", headers=auth, timeout=10).status_code == 200
        assert requests.get(replay + "/cdx/search/cdx?url=example.org", headers=auth, timeout=10).status_code == 200
        # an address literal is fine on a wildcard bind, a name nobody configured is not (DNS rebinding)
        evil = {**auth, "Host": "rebind.evil.example"}
        assert requests.get(ui + "/api/reports", headers=evil, timeout=10).status_code == 400
        assert requests.get(replay + "/cdx/search/cdx?url=x", headers=evil, timeout=10).status_code == 400
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        _stop(proc)
