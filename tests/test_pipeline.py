"""The whole pipeline against the simulated web: ingest → run → states, WARCs, re-runs, crashes."""
import glob
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select

from archiver.db.tables import Capture, Extraction, Hop, Run, Target
from archiver.simweb import SimWeb
from tests.conftest import run_cli, write_config


@pytest.fixture
def sim():
    with SimWeb() as web:
        yield web


@pytest.fixture
def sim_config(tmp_path, db_url, sim):
    return write_config(tmp_path, db_url, name="sim.yaml",
                        resolver={"shorteners": sim.shortener_hosts, **sim.resolver_extra()},
                        fetch={"politeness_delay_s": 0, "retry_base_s": 0.01, "max_attempts": 3})


def _ingest_report(tmp_path, config, sim):
    report = tmp_path / "report.txt"
    report.write_text(sim.report_text(), encoding="utf-8")
    assert run_cli(["init"], config).code == 0
    r = run_cli(["ingest", str(report), "--json"], config)
    assert r.code == 0, r.err
    return report


def _ingest_slow_links(tmp_path, config, sim, *, n, slow_s):
    """A report citing n short links whose shortener takes slow_s seconds to answer each."""
    sim.slow_s = slow_s
    codes = [sim.set_code(f"Slow{i}", "slow", sim.site_url + f"/reports/open-budget.html?v={i}") for i in range(n)]
    report = tmp_path / "slow.txt"
    report.write_text("".join(f"- On {i + 1} May 2018 meeting {i}.\n  {u}\n" for i, u in enumerate(codes)),
                      encoding="utf-8")
    assert run_cli(["init"], config).code == 0
    assert run_cli(["ingest", str(report)], config).code == 0


def _warc_check(storage):
    files = glob.glob(str(storage / "warcs" / "*.warc.gz"))
    assert files
    out = subprocess.run([sys.executable, "-m", "warcio.cli", "check", "-v", *files], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    return files


def test_run_takes_every_link_through_all_stages(tmp_path, sim_config, sim):
    from archiver.config import load_settings
    from archiver.db.session import make_engine, make_sessionmaker

    _ingest_report(tmp_path, sim_config, sim)
    r = run_cli(["run", "--json"], sim_config)
    assert r.code == 0, r.err
    summary = r.json()
    assert summary["captured"] >= 8 and summary["dead"] == 1 and summary["failed"] == 0
    settings = load_settings(sim_config, env={})
    Session = make_sessionmaker(make_engine(settings))
    with Session() as s:
        states = dict(s.execute(select(Target.status, func.count()).group_by(Target.status)).all())
        assert states == {"captured": summary["captured"], "dead": 1}
        # every short link's chain was recorded hop by hop, each hop with its WARC record
        short = s.scalars(select(Target).where(Target.is_short.is_(True))).all()
        assert all(t.hops and t.hops[0].capture_id for t in short if t.status == "captured")
        # a 2xx target capture for each captured link, with extracted text
        for t in s.scalars(select(Target).where(Target.status == "captured")):
            caps = [c for c in t.captures if c.role == "target" and 200 <= (c.http_status or 0) < 300]
            assert caps, t.url
            assert s.scalar(select(func.count()).select_from(Extraction)
                            .where(Extraction.capture_id.in_([c.id for c in caps]))) >= 1
        # the dead link was recovered from the archive where the archive had it
        recovered = s.scalars(select(Capture).where(Capture.source == "archive")).all()
        assert recovered and recovered[0].archive_name == "simarchive"
    _warc_check(tmp_path / "storage")
    # a second run does nothing new
    again = run_cli(["run", "--json"], sim_config).json()
    assert again["resolved"] == again["captured"] == again["extracted"] == 0
    with Session() as s:
        assert s.scalar(select(func.count()).select_from(Capture).where(Capture.role == "target")) == \
            sum(1 for c in s.scalars(select(Capture).where(Capture.role == "target")))
        assert s.scalar(select(func.count()).select_from(Run)) == 2


def test_show_fills_the_pipeline_fields(tmp_path, sim_config, sim):
    _ingest_report(tmp_path, sim_config, sim)
    assert run_cli(["run", "--json"], sim_config).code == 0
    acts = run_cli(["activities", "--json"], sim_config).json()
    acts = acts["activities"] if isinstance(acts, dict) else acts
    detail = run_cli(["show", str(acts[0]["id"]), "--json"], sim_config).json()
    link = detail["links"][0]
    assert link["status"] == "captured" and link["resolution_method"] == "live"
    assert link["final_url"].startswith(sim.site_url)
    cap = link["captures"][0]
    for key in ("timestamp", "url", "http_status", "warc_file", "offset", "length", "sha256", "source"):
        assert cap[key] is not None, key
    assert cap["timestamp"].endswith("Z") or "+00:00" in cap["timestamp"]
    # the payload is read back from the WARC at its offset and matches the digest
    got = run_cli(["get", link["url"], "-o", str(tmp_path / "payload")], sim_config)
    assert got.code == 0, got.err
    import hashlib
    assert hashlib.sha256((tmp_path / "payload").read_bytes()).hexdigest() == cap["sha256"]


def test_failures_are_retried_with_backoff_then_given_up(tmp_path, sim_config, sim):
    import yaml

    cfg = yaml.safe_load(sim_config.read_text())
    cfg["fetch"]["max_retry_wait_s"] = 0  # across passes: no 503 is waited out within one (tests/test_refusals.py)
    sim_config.write_text(yaml.safe_dump(cfg))
    sim.set_code("Down503", "503")  # always 503
    report = tmp_path / "r.txt"
    report.write_text(f"- On 5 May 2018 a meeting was held.\n  {sim.short('Down503')}\n", encoding="utf-8")
    run_cli(["init"], sim_config)
    assert run_cli(["ingest", str(report)], sim_config).code == 0
    first = run_cli(["run", "--json"], sim_config)
    assert first.code == 1 and first.json()["failed"] == 1
    st = run_cli(["status", "--json"], sim_config).json()
    assert st["retrying"] and st["retrying"][0]["attempts"] == 1
    for _ in range(5):
        time.sleep(0.05)
        run_cli(["run", "--json"], sim_config)
    st = run_cli(["status", "--json"], sim_config).json()
    assert st["given_up"] and st["given_up"][0]["attempts"] == 3
    assert "gave up" in st["given_up"][0]["reason"]


def test_offline_links_fail_cleanly_and_wait_for_the_next_run(tmp_path, db_url):
    """Real reports offline: unreachable links are failed with a reason and retried next run."""
    cfg = write_config(tmp_path, db_url, fetch={"allow_private_addresses": True, "timeout_s": 1,
                                                "retry_base_s": 3600})
    report = tmp_path / "r.txt"
    report.write_text("- On 16 June 2017 proposals were prepared.\n <https://goo.gl/D1bhWt>\n"
                      "- On 1 May 2018 a site went live.\n <http://127.0.0.1:9/closed-port>\n", encoding="utf-8")
    run_cli(["init"], cfg)
    assert run_cli(["ingest", str(report)], cfg).code == 0
    r = run_cli(["run", "--json"], cfg)
    assert r.code == 1, r.out + r.err
    assert "Traceback" not in r.err
    st = run_cli(["status", "--json"], cfg).json()
    assert len(st["retrying"]) == 2 and all(x["reason"] for x in st["retrying"])
    assert run_cli(["run", "--json"], cfg).json()["failed"] == 0  # not due yet: nothing tried


def test_kill_9_mid_run_then_a_new_run_completes_without_duplicates(tmp_path, sim_config, sim, Session):
    _ingest_slow_links(tmp_path, sim_config, sim, n=6, slow_s=0.6)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVER")}
    proc = subprocess.Popen([sys.executable, "-m", "archiver", "--config", str(sim_config), "run", "--json"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # wait until it is in the middle of the work
        with Session() as s:
            if s.scalar(select(func.count()).select_from(Hop)) >= 2:
                break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    with Session() as s:
        assert s.scalar(select(func.count()).select_from(Target).where(Target.stage == "done")) < 6
    r = run_cli(["run", "--json"], sim_config)
    assert r.code == 0, r.err
    with Session() as s:
        targets = s.scalars(select(Target)).all()
        assert all(t.status == "captured" and t.stage == "done" for t in targets)
        assert all(t.is_short and t.resolution_method == "live" for t in targets)
        for t in targets:
            assert len([c for c in t.captures if c.role == "target"]) == 1, t.url
        runs = s.scalars(select(Run).order_by(Run.id)).all()
        assert runs[0].status == "interrupted" and runs[-1].status == "ok"
    _warc_check(tmp_path / "storage")
    assert not glob.glob(str(tmp_path / "storage" / "warcs" / "*.open"))
    v = run_cli(["verify", "--json"], sim_config)
    assert v.code == 0, v.out


def test_a_bug_in_a_stage_is_one_line_not_a_traceback(tmp_path, sim_config, sim, monkeypatch):
    import archiver.stages

    def broken(*a, **k):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(archiver.stages, "capture_target", broken)
    monkeypatch.setitem(archiver.stages.HANDLERS, "capture", broken)
    monkeypatch.setitem(archiver.stages.SPLIT, "capture", (broken, archiver.stages.capture_apply))
    _ingest_report(tmp_path, sim_config, sim)
    r = run_cli(["run", "--json"], sim_config)
    assert r.code == 1
    assert "Traceback" not in r.err and "simulated bug" in r.err
    assert all(line.startswith(("error:", "warning:")) for line in r.err.splitlines() if line)
    assert r.json()["failed"] >= 8 and any("simulated bug" in e for e in r.json()["errors"])


def test_soft404_probe_runs_once_per_origin_in_a_pass(settings, Session):
    """Every page of a site would get the same random-path answer: one probe per origin and pass."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from archiver.pipeline import make_tools

    hits = []

    class H(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            hits.append(self.path)
            body = b"<html><title>Not here</title></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    tools = make_tools(settings, Session, None)
    try:
        base = f"http://127.0.0.1:{srv.server_address[1]}"
        first = tools.probe(f"{base}/p-1")
        second = tools.probe(f"{base}/p-2")
        assert first is second and first.status == 200
        assert len(hits) == 1
    finally:
        tools.sink.close()
        tools.client.close()
        srv.shutdown()
        srv.server_close()


def test_two_machines_share_a_pass_without_taking_the_same_work(tmp_path, sim_config, sim, Session):
    """`archiver run` plus `archiver run --worker` at once (two processes, as on two machines)."""
    _ingest_slow_links(tmp_path, sim_config, sim, n=10, slow_s=1.0)
    sim.slow_gate = 3  # no answer before both are asking: one process has at most 2 links in flight
    sim.slow_gate_timeout_s = 150
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVER")}
    env["ARCHIVER__FETCH__CONCURRENCY"] = "2"
    # the gate holds the first process's requests until the second asks too, however late that one
    # starts under CI's load (twice it started after the first one's requests had timed out)
    env["ARCHIVER__FETCH__TIMEOUT_S"] = "170"
    cmd = [sys.executable, "-m", "archiver", "--config", str(sim_config), "run", "--json"]
    t0 = time.monotonic()
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)]
    # the second machine joins once the first has leased its window, so each takes a share whichever
    # process the scheduler lets start first
    leased_after = None
    while leased_after is None and time.monotonic() - t0 < 150 and procs[0].poll() is None:
        with Session() as s:
            if s.scalar(select(func.count()).select_from(Target).where(Target.lease_owner.is_not(None))):
                leased_after = round(time.monotonic() - t0, 2)
        time.sleep(0.05)
    procs.append(subprocess.Popen(cmd + ["--worker"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                                  text=True))
    outs = [p.communicate(timeout=300) for p in procs]
    with Session() as s:
        runs = [(r.id, r.worker, f"{r.started_at:%H:%M:%S.%f}", f"{r.finished_at:%H:%M:%S.%f}" if r.finished_at else None)
                for r in s.scalars(select(Run))]
    why = json.dumps({"first leased after s": leased_after, "total s": round(time.monotonic() - t0, 2), "runs": runs,
                      "outs": [[json.loads(o) if o.startswith("{") else o, e[-2000:]] for o, e in outs]})
    assert [p.returncode for p in procs] == [0, 0], why
    docs = [json.loads(o) for o, _ in outs]
    assert all(d["resolved"] > 0 for d in docs), why  # both took a share
    assert sum(d["resolved"] for d in docs) == 10
    with Session() as s:
        for t in s.scalars(select(Target)):
            assert t.is_short and t.resolution_method == "live"
            assert t.status == "captured" and len([c for c in t.captures if c.role == "target"]) == 1
            assert len([h for h in t.hops if h.stage == "resolve"]) == 1  # resolved once, by one of them
        assert {r.worker for r in s.scalars(select(Run))}.__len__() == 2


def test_a_running_pass_shows_its_counts_as_it_goes(tmp_path, sim_config, sim, Session):
    _ingest_slow_links(tmp_path, sim_config, sim, n=6, slow_s=0.5)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVER")}
    env["ARCHIVER__FETCH__CONCURRENCY"] = "1"  # one link at a time, 0.5 s each: heartbeats (1 s) fall mid-stage
    proc = subprocess.Popen([sys.executable, "-m", "archiver", "--config", str(sim_config), "run", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    seen = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        with Session() as s:
            run = s.scalars(select(Run)).first()
            if run is not None and run.status == "running" and run.counts.get("progress"):
                seen = dict(run.counts)
                break
        time.sleep(0.1)
    proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert seen is not None, "no progress on the run row while it ran"
    assert seen["progress"]["stage"] == "resolve" and 1 <= seen["progress"]["done"] < 6
    assert seen["progress"]["total"] == 6 and seen["resolved"] == seen["progress"]["done"]
    status = run_cli(["status", "--json"], sim_config).json()
    assert status["runs"][0]["status"] == "ok" and status["runs"][0]["counts"]["resolved"] == 6


def test_a_pass_remembers_a_bounded_number_of_results(monkeypatch):
    """Tools.once dedupes within a pass without holding every result of a million-link pass."""
    import archiver.stages as stages
    from archiver.stages import Tools

    monkeypatch.setattr(stages, "ONCE_MAX", 64)
    tools = Tools(settings=None, Session=None, client=None, sink=None, recorder=None)
    calls = []
    for i in range(1000):
        assert tools.once(f"k{i}", lambda i=i: calls.append(i) or i) == (i, True)
    assert len(tools._once) <= 64
    assert tools.once("k999", lambda: calls.append("again")) == (999, False)  # recent: not run again
    assert tools.once("k0", lambda: "again") == ("again", True)  # long forgotten: runs again


def test_stage_takes_a_list_run_in_pipeline_order(tmp_path, sim_config, sim, Session):
    """`run --stage capture,resolve` runs resolve then capture in one process, and nothing else."""
    _ingest_report(tmp_path, sim_config, sim)
    bad = run_cli(["run", "--stage", "resolve,fetch"], sim_config)
    assert bad.code == 2 and "fetch" in bad.err and "Traceback" not in bad.err
    r = run_cli(["run", "--json", "--stage", "capture,resolve"], sim_config)
    assert r.code in (0, 1), r.err
    doc = r.json()
    assert doc["resolved"] > 0 and doc["captured"] > 0 and doc["extracted"] == 0 and not doc["watch"]
    with Session() as s:
        assert s.scalar(select(func.count()).select_from(Extraction)) == 0
        assert s.scalars(select(Run.stage).order_by(Run.id.desc())).first() == "capture,resolve"
        stages = {t.stage for t in s.scalars(select(Target))}
        assert "resolve" not in stages  # every short link went on to capture in the same process
