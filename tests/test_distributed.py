"""Workers on Celery against the real RabbitMQ (broker) and Redis (host slots) on this machine:
three `archiver worker` processes make the evidence one process makes, a worker killed with
kill -9 mid-pass loses and duplicates nothing, per-host limits hold across the workers, status
shows the queues. Each test has queues and Redis keys of its own (a random prefix)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from archiver.config import load_settings
from archiver.db.base import utcnow
from archiver.db.session import make_engine, make_sessionmaker
from archiver.db.tables import Attempt, Capture, Extraction, Run, Target
from archiver.simweb import SimWeb
from tests.conftest import REPO, run_cli, write_config
from tests.servers.counting import counting_sites

AMQP = "amqp://guest:guest@127.0.0.1:5672//"
REDIS = "redis://127.0.0.1:6379/5"
KINDS = ("resolve", "capture", "browser", "extract", "watch")


@pytest.fixture
def sim():
    with SimWeb() as web:
        yield web


@pytest.fixture
def queue():
    """queue: settings with queues and Redis keys of this test's own; deleted afterwards."""
    uid = "t" + uuid.uuid4().hex[:10]
    names = {k: f"{uid}.{k}" for k in KINDS}
    yield {"url": AMQP, "redis_url": REDIS, "key_prefix": uid, "names": names, "sweep_s": 3, "slot_ttl_s": 3}
    from kombu import Connection

    with Connection(AMQP) as conn:
        ch = conn.channel()
        for n in names.values():
            ch.queue_delete(n)
            ch.exchange_delete(n)
    import redis

    r = redis.StrictRedis.from_url(REDIS)
    for key in r.keys(f"{uid}:*"):
        r.delete(key)


class Workers:
    """`archiver worker` subprocesses; stopped (SIGTERM, then waited for) at the end."""

    def __init__(self, config: Path, n: int, concurrency: int, log_dir: Path):
        env = dict(os.environ, PYTHONPATH=str(REPO))
        self.procs = [subprocess.Popen([sys.executable, "-m", "archiver", "--config", str(config), "worker",
                                        "-c", str(concurrency)], env=env,
                                       stdout=open(log_dir / f"worker{i}.log", "w"), stderr=subprocess.STDOUT)
                      for i in range(n)]

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


@pytest.fixture
def workers(tmp_path):
    started: list[Workers] = []

    def start(config: Path, n: int = 3, concurrency: int = 2) -> Workers:
        w = Workers(config, n, concurrency, tmp_path)
        started.append(w)
        return w

    yield start
    for w in started:
        w.stop()


def _sessionmaker(config: Path):
    settings = load_settings(config, env={})
    engine = make_engine(settings)
    return settings, engine, make_sessionmaker(engine)


def _evidence(config: Path) -> dict:
    """Per link: its state and the sha256s of its target captures; attempts per (link, stage)."""
    _, engine, Session = _sessionmaker(config)
    try:
        with Session() as s:
            states = {u: (st, stage) for u, st, stage in s.execute(select(Target.url, Target.status, Target.stage))}
            shas: dict = {}
            for url, sha in s.execute(select(Target.url, Capture.sha256).join(Capture, Capture.target_id == Target.id)
                                      .where(Capture.role == "target")):
                shas.setdefault(url, []).append(sha)
            attempts = Counter((u, st) for u, st in s.execute(select(Target.url, Attempt.stage).join(Attempt)))
            texts = s.scalar(select(func.count()).select_from(Extraction))
        return {"states": states, "shas": {u: sorted(v) for u, v in shas.items()}, "attempts": attempts,
                "texts": texts}
    finally:
        engine.dispose()


def _why(config: Path, urls: list[str]) -> str:
    """Each attempt of these links (stage, outcome, error): what a failed comparison needs to say."""
    _, engine, Session = _sessionmaker(config)
    try:
        with Session() as s:
            rows = s.execute(select(Target.url, Attempt.stage, Attempt.outcome, Attempt.error_type, Attempt.message)
                             .join(Attempt).where(Target.url.in_(urls)).order_by(Attempt.id)).all()
        return "attempts of the differing links:\n" + "\n".join(" | ".join(str(v) for v in r) for r in rows)
    finally:
        engine.dispose()


def _ingest(tmp_path: Path, config: Path, text: str) -> None:
    report = tmp_path / f"report-{config.stem}.txt"
    report.write_text(text, encoding="utf-8")
    assert run_cli(["init"], config).code == 0
    r = run_cli(["ingest", str(report)], config)
    assert r.code == 0, r.err


def _sim_sections(sim) -> dict:
    return dict(resolver={"shorteners": sim.shortener_hosts, **sim.resolver_extra()},
                fetch={"politeness_delay_s": 0, "retry_base_s": 0.01, "max_attempts": 3})


def test_three_workers_make_the_evidence_one_process_makes(tmp_path, db_url, sim, queue, workers):
    dist = write_config(tmp_path, db_url, name="dist.yaml", queue=queue, **_sim_sections(sim))
    assert run_cli(["init"], dist).code == 0
    w = workers(dist, n=3)  # they start while the single process runs
    ref_dir = tmp_path / "ref"
    ref_dir.mkdir()
    ref = write_config(ref_dir, f"sqlite:///{(ref_dir / 'ref.db').as_posix()}", name="ref.yaml", **_sim_sections(sim))
    _ingest(ref_dir, ref, sim.report_text())
    r = run_cli(["run", "--json"], ref)
    assert r.code == 0, r.err

    _ingest(tmp_path, dist, sim.report_text())
    r = run_cli(["run", "--distributed", "--no-wait", "--json"], dist)
    assert r.code == 0, r.err
    assert r.json()["enqueued"]["resolve"] == 10
    # every item is now enqueued a second time: the tasks are idempotent, nothing is done twice
    r = run_cli(["run", "--distributed", "--json"], dist)
    assert r.code == 0, r.err
    # (the summary counts what was done while this pass waited: the workers may have begun on the first)
    assert r.json()["failed"] == 0

    want, got = _evidence(ref), _evidence(dist)
    assert Counter(st for st, _ in want["states"].values()) == {"captured": 9, "dead": 1}
    assert got["states"] == want["states"], _why(dist, [u for u in want["states"] if got["states"].get(u) !=
                                                        want["states"][u]])
    assert got["shas"] == want["shas"]
    assert got["attempts"] == want["attempts"]
    assert got["texts"] == want["texts"] > 0

    r = run_cli(["status", "--json"], dist)
    q = r.json()["queue"]
    # (other tests' workers may answer the broadcast ping too: ours are named by their pids)
    ours = {f"archiver.{p.pid}@" for p in w.procs}
    assert sum(q["queues"].values()) == 0
    assert {n.split("@")[0] + "@" for n in q["workers"]} >= ours, (q["workers"], ours)
    _, engine, Session = _sessionmaker(dist)
    with Session() as s:  # the work was shared: more than one worker's run row has attempts
        assert s.scalar(select(func.count(func.distinct(Attempt.run_id)))) >= 2
        assert s.scalar(select(Run.status).where(Run.stage == "distributed").order_by(Run.id.desc()).limit(1)) == "ok"
    engine.dispose()
    # the pass's last step runs too: captured links that are due are re-checked, as in one process
    watched = {}
    for cfg, args in ((ref, ["run", "--stage", "watch", "--json"]), (dist, ["run", "--distributed", "--json"])):
        _, eng, Sess = _sessionmaker(cfg)
        with Sess() as s:
            s.execute(update(Target).where(Target.status == "captured")
                      .values(next_check_at=utcnow() - timedelta(minutes=1)))
            s.commit()
        eng.dispose()
        r = run_cli(args, cfg)
        assert r.code == 0, r.err
        watched[cfg] = r.json()["watch"]
    assert watched[dist]["checked"] == 9 and watched[dist] == watched[ref], watched
    w.stop()  # each worker finishes its WARC file as it stops (and writes its counts)
    _, engine, Session = _sessionmaker(dist)
    with Session() as s:  # the re-checks were the workers' tasks, each link checked once
        from archiver.db.tables import LinkCheck

        assert sorted(Counter(s.scalars(select(LinkCheck.target_id))).values()) == [1] * 9
        rows = s.scalars(select(Run.counts).where(Run.kind == "worker")).all()
        by_worker = [sum((c or {}).get("stages", {}).get("watch", {}).values()) for c in rows]
        assert sum(by_worker) == 9, by_worker
    engine.dispose()


def test_a_worker_killed_mid_pass_loses_and_duplicates_nothing(tmp_path, db_url, sim, queue, workers):
    sim.slow_s = 1.0
    codes = [sim.set_code(f"Slow{i}", "slow", sim.site_url + f"/reports/open-budget.html?v={i}") for i in range(8)]
    text = "".join(f"- On {i + 1} May 2018 meeting {i}.\n  {u}\n" for i, u in enumerate(codes))
    sections = _sim_sections(sim)
    # one request per host at a time: the victim is killed holding the shortener's only slot in Redis,
    # which the other workers must get back within queue.slot_ttl_s (3 s here), not after a night
    sections["fetch"]["per_host_concurrency"] = 1
    dist = write_config(tmp_path, db_url, name="dist.yaml", queue=queue, **sections)
    _ingest(tmp_path, dist, text)
    settings, engine, Session = _sessionmaker(dist)
    w = workers(dist, n=3, concurrency=2)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    passing = subprocess.Popen([sys.executable, "-m", "archiver", "--config", str(dist), "run", "--distributed",
                                "--json"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    victim = w.procs[0]
    deadline = time.monotonic() + 60
    with Session() as s:  # wait until the victim is inside a task (its lease is on a target), then kill -9
        while not s.scalar(select(func.count()).select_from(Target)
                           .where(Target.lease_owner.like(f"%:{victim.pid}"))):
            assert time.monotonic() < deadline, "the first worker never took a task"
            time.sleep(0.05)
            s.rollback()
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    out, err = passing.communicate(timeout=120)
    assert passing.returncode == 0, err
    assert json.loads(out)["failed"] == 0

    with Session() as s:
        targets = s.scalars(select(Target)).all()
        assert len(targets) == 8 and {t.status for t in targets} == {"captured"}
        per_target = Counter(s.scalars(select(Capture.target_id).where(Capture.role == "target")))
        assert sorted(per_target.values()) == [1] * 8  # each link captured once
        assert s.scalar(select(func.count()).select_from(Extraction)) == 8
        assert s.scalar(select(func.count()).select_from(Target).where(Target.lease_owner.is_not(None))) == 0
        assert all(st == "done" for st in s.scalars(select(Target.stage)))
    w.stop()
    # the killed worker's WARC file was left open: the next worker (or pass) to start finishes it
    from archiver.capture.warcfile import WarcSink

    WarcSink(settings, Session).close()
    engine.dispose()
    assert run_cli(["verify"], dist).code == 0


def test_per_host_limits_hold_across_workers(tmp_path, queue, workers):
    db_url = f"sqlite:///{(tmp_path / 'hosts.db').as_posix()}"  # the limit is Redis's: one backend suffices
    with counting_sites(2, latency=0.15) as servers:
        hosts = [f"http://{srv.server_address[0]}:{srv.server_address[1]}" for srv in servers]
        text = "".join(f"- On {i + 1} May 2018 decree {i}.\n  {h}/p/{i}\n" for i in range(6) for h in hosts)
        dist = write_config(tmp_path, db_url, name="dist.yaml", queue=queue,
                            fetch={"politeness_delay_s": 0, "per_host_concurrency": 1, "soft404_probe": False,
                                   "requisites": {"enabled": False}})
        _ingest(tmp_path, dist, text)
        w = workers(dist, n=3, concurrency=3)
        r = run_cli(["run", "--distributed", "--json"], dist)
        assert r.code == 0, r.err
        assert r.json()["captured"] == 12
        for srv in servers:
            assert srv.peak == 1, "fetch.per_host_concurrency: 1 was exceeded across workers"
            assert sorted(srv.paths.values()) == [1] * 6
    w.stop()
    _, engine, Session = _sessionmaker(dist)
    with Session() as s:  # more than one worker fetched: the limit above was held across processes
        assert s.scalar(select(func.count(func.distinct(Attempt.run_id))).where(Attempt.stage == "capture")) >= 2
    engine.dispose()


def test_redis_host_slots_hold_concurrency_and_delay_between_clients(queue):
    from archiver.distributed.slots import RedisHostSlots

    # two clients, as two worker processes would have
    a, b = (RedisHostSlots(REDIS, per_host=2, delay_s=0, ttl_s=30, prefix=queue["key_prefix"]) for _ in range(2))
    lock = threading.Lock()
    inflight = peak = 0

    def one(slots):
        nonlocal inflight, peak
        with slots.hold("example.org"):
            with lock:
                inflight += 1
                peak = max(peak, inflight)
            time.sleep(0.05)
            with lock:
                inflight -= 1

    threads = [threading.Thread(target=one, args=(a if i % 2 else b,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak == 2
    # politeness: request starts on one host at least delay_s apart, whoever asks
    c, d = (RedisHostSlots(REDIS, per_host=5, delay_s=0.2, ttl_s=30, prefix=queue["key_prefix"]) for _ in range(2))
    starts = []
    for slots in (c, d, c):
        with slots.hold("polite.example"):
            starts.append(time.monotonic())
    assert all(y - x >= 0.18 for x, y in zip(starts, starts[1:]))


def test_a_live_holder_keeps_its_slot_past_the_ttl_and_a_killed_one_frees_it(queue):
    """A long download keeps its host slot (the heartbeat renews it); a process killed with -9 while
    holding every slot of a host leaves them free within queue.slot_ttl_s, not after a night."""
    from archiver.distributed.slots import RedisHostSlots

    prefix = queue["key_prefix"]
    live = RedisHostSlots(REDIS, per_host=1, delay_s=0, ttl_s=0.6, prefix=prefix)
    other = RedisHostSlots(REDIS, per_host=1, delay_s=0, ttl_s=0.6, prefix=prefix)
    token = live.acquire("long.example")
    got = []
    waiter = threading.Thread(target=lambda: got.append((other.acquire("long.example"), time.monotonic())))
    t0 = time.monotonic()
    waiter.start()
    time.sleep(2.0)  # more than three TTLs: only the heartbeat keeps the slot
    assert not got, "a live holder's slot expired under it"
    live.release("long.example", token)
    waiter.join(5)
    assert got and got[0][1] - t0 >= 2.0
    other.release("long.example", got[0][0])
    # a child process takes both slots of a host, then is killed -9 without releasing them
    code = ("import sys, time\n"
            "from archiver.distributed.slots import RedisHostSlots\n"
            f"s = RedisHostSlots({REDIS!r}, per_host=2, delay_s=0, ttl_s=1.5, prefix={prefix!r})\n"
            "s.acquire('dead.example'); s.acquire('dead.example')\n"
            "print('held', flush=True)\n"
            "time.sleep(60)\n")
    child = subprocess.Popen([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=str(REPO)),
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "held"
        time.sleep(2.0)  # alive past its TTL: its heartbeat renewed both slots
        probe = RedisHostSlots(REDIS, per_host=2, delay_s=0, ttl_s=1.5, prefix=prefix)
        r = probe._redis
        assert r.zcard(f"{prefix}:slots:dead.example") == 2
        child.send_signal(signal.SIGKILL)
        child.wait()
        t0 = time.monotonic()
        probe.release("dead.example", probe.acquire("dead.example"))
        assert time.monotonic() - t0 < 2.5  # free within the TTL of the last renewal
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_status_shows_waiting_tasks_and_no_worker(tmp_path, sim, queue, workers):
    """status counts as live only the workers that consume this configuration's queues: a broker is often
    shared (here a neighbouring deployment's worker answers the broadcast too; so did other tests' workers
    under pytest -n 2, which made this test fail now and then)."""
    dist = write_config(tmp_path, f"sqlite:///{(tmp_path / 'q.db').as_posix()}", name="dist.yaml", queue=queue,
                        **_sim_sections(sim))
    uid = "n" + uuid.uuid4().hex[:10]
    neighbour_queue = {**queue, "key_prefix": uid, "names": {k: f"{uid}.{k}" for k in KINDS}}
    neighbour = write_config(tmp_path, f"sqlite:///{(tmp_path / 'n.db').as_posix()}", name="neighbour.yaml",
                             queue=neighbour_queue)
    assert run_cli(["init"], neighbour).code == 0
    w = workers(neighbour, n=1, concurrency=1)
    try:
        _ingest(tmp_path, dist, sim.report_text())
        r = run_cli(["run", "--distributed", "--no-wait", "--json"], dist)
        assert r.code == 0, r.err
        assert r.json()["enqueued"] == {"resolve": 10, "capture": 0, "extract": 0}
        deadline = time.monotonic() + 60
        while True:  # the neighbour's worker is up once its own status lists it
            theirs = run_cli(["status", "--json"], neighbour).json()["queue"]["workers"]
            if any(n.startswith(f"archiver.{w.procs[0].pid}@") for n in theirs) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert any(n.startswith(f"archiver.{w.procs[0].pid}@") for n in theirs), theirs
        r = run_cli(["status", "--json"], dist)
        assert r.code == 0, r.err
        q = r.json()["queue"]
        assert q["queues"][queue["names"]["resolve"]] == 10 and q["workers"] == []
        assert "guest" not in q["url"]
        r = run_cli(["status"], dist)
        assert r.code == 0 and "live workers: 0" in r.out
    finally:
        w.stop()
        from kombu import Connection

        with Connection(AMQP) as conn:
            ch = conn.channel()
            for n in neighbour_queue["names"].values():
                ch.queue_delete(n)
                ch.exchange_delete(n)


def test_distributed_misuse_is_one_line(tmp_path, cli, config_file):
    r = cli("run", "--distributed")
    assert r.code == 2 and "queue.url" in r.err and "Traceback" not in r.err
    r = cli("run", "--no-wait")
    assert r.code == 2 and "--distributed" in r.err
    r = cli("worker")
    assert r.code == 2 and "queue.url" in r.err
    redis_broker = write_config(tmp_path, load_settings(config_file, env={}).database.url, name="redis.yaml",
                                queue={"url": "redis://127.0.0.1:6379/5"})
    r = run_cli(["run", "--distributed"], redis_broker)
    assert r.code == 2 and "amqp://" in r.err
    bad = write_config(tmp_path, "sqlite:///x.db", name="bad.yaml", queue={"url": "http://127.0.0.1/"})
    r = run_cli(["status"], bad)
    assert r.code == 2 and "queue.url" in r.err
    amqp = write_config(tmp_path, load_settings(config_file, env={}).database.url, name="amqp.yaml",
                        queue={"url": AMQP})
    r = run_cli(["worker", "--queues", "capture,nonsense"], amqp)
    assert r.code == 2 and "--queues" in r.err
