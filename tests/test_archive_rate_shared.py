"""The fetch processes of a pass keep to a web archive's rate together, not each on its own: a target's host
decides its process, so the dead targets of many hosts are looked up in the same archive from every process
(two processes had asked the Internet Archive at twice its published rate)."""
from __future__ import annotations

import pytest

from archiver import pipeline
from archiver.config import load_settings
from archiver.db.session import make_engine, make_sessionmaker
from archiver.resolve import ratelimit
from tests.conftest import run_cli, write_config
from tests.servers.counting import counting_sites

RATE = 2.0  # the archive's requests_per_s


@pytest.fixture(autouse=True)
def _whole_rates():
    ratelimit.reset()
    yield
    ratelimit.reset()


def _take_turns(rate, n, out):
    import time

    for _ in range(n):
        rate.acquire()
        out.put(time.monotonic())


def test_processes_sharing_a_turn_keep_to_one_rate_together():
    """ratelimit.SharedRate: the fetch processes of a pass, each asking as fast as it may, get one turn per
    1/rate seconds between them (CLOCK_MONOTONIC is one clock for the machine's processes)."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    turn, out = ctx.Value("d", 0.0), ctx.Queue()
    procs = [ctx.Process(target=_take_turns, args=(ratelimit.SharedRate(turn, 4.0), 6, out)) for _ in range(2)]
    for proc in procs:
        proc.start()
    turns = sorted(out.get(timeout=30) for _ in range(12))
    for proc in procs:
        proc.join(10)
    gaps = [b - a for a, b in zip(turns, turns[1:])]
    assert min(gaps) >= 0.25 - 0.02, [round(g, 3) for g in gaps]


def test_a_fetch_process_takes_the_shared_turns_unless_redis_holds_the_rates():
    import multiprocessing

    from archiver.config import Settings

    turns = ratelimit.turns_for(Settings(), multiprocessing.get_context("fork"))
    assert set(turns) == {("ia", "cdx"), ("ia", "replay")}  # the shipped default's archive
    ratelimit.use_turns(turns)
    assert isinstance(ratelimit.bucket_for("ia", "cdx", 0.4), ratelimit.SharedRate)
    assert isinstance(ratelimit.bucket_for("elsewhere", "cdx", 0.4), ratelimit.TokenBucket)  # no turn of its own
    held = object()
    ratelimit.use_shared(lambda archive, kind, rate: held)
    ratelimit.use_turns(turns)  # (a process whose rates Redis holds keeps them there)
    assert ratelimit.bucket_for("ia", "cdx", 0.4) is held


def test_two_fetch_processes_ask_an_archive_no_faster_than_its_rate(tmp_path):
    with counting_sites(8, latency=0.0) as sites, counting_sites(1, latency=0.0) as (archive,):
        base = f"http://{archive.server_address[0]}:{archive.server_address[1]}"
        urls = [f"http://{s.server_address[0]}:{s.server_address[1]}/gone/{i}" for i, s in enumerate(sites)]
        report = tmp_path / "gone.txt"
        report.write_text("".join(f"- On {i + 1} May 2018 meeting {i}, see {u}\n" for i, u in enumerate(urls)))
        cfg = write_config(tmp_path, f"sqlite:///{(tmp_path / 'a.db').as_posix()}",
                           fetch={"concurrency": 8, "soft404_probe": False, "processes": 2,
                                  "requisites": {"enabled": False}},
                           resolver={"archives": [{"name": "counted", "cdx_url": base + "/cdx",
                                                   "replay_url": base + "/web/{timestamp}id_/{url}",
                                                   "requests_per_s": RATE}]})
        assert run_cli(["init"], cfg).code == 0
        assert run_cli(["ingest", str(report)], cfg).code == 0
        settings = load_settings(cfg, env={})
        engine = make_engine(settings)
        Session = make_sessionmaker(engine)
        try:
            pipeline.run(settings, Session, stage="resolve")
            summary = pipeline.run(settings, Session, stage="capture")
        finally:
            engine.dispose()
        asked = list(archive.log)
        cdx = [t for t, path in asked if path.startswith("/cdx")]
    assert summary.dead == 8, summary  # every target answered 404 and the archive knew none of them
    assert len(cdx) == 8, asked
    # RATE a second between the two processes: the eight queries span at least (8 - 1) / RATE seconds. Each
    # at the whole rate by itself, they took (8 - 2) / (2 * RATE): 1.5 s.
    span = max(cdx) - min(cdx)
    assert span >= (8 - 1) / RATE - 0.2, [round(t - min(cdx), 2) for t in sorted(cdx)]



REDIS = "redis://127.0.0.1:6379/5"


def test_worker_processes_sharing_a_redis_ask_an_archive_at_its_rate_together(tmp_path):
    """Celery workers (and every process whose `queue` names a Redis) hold an archive's rate together: two
    processes each asking as fast as they may get one turn per 1/rate seconds between them."""
    import subprocess
    import sys
    import time
    import uuid

    import redis

    from archiver.config import Settings
    from archiver.distributed.slots import RedisRate, from_settings

    prefix = "t" + uuid.uuid4().hex[:10]
    settings = Settings(queue={"url": "amqp://guest:guest@127.0.0.1:5672//", "redis_url": REDIS,
                               "key_prefix": prefix})
    ratelimit.use_shared(from_settings(settings).rate_for)
    bucket = ratelimit.bucket_for("ia", "cdx", 4.0)
    assert isinstance(bucket, RedisRate) and bucket.rate == 4.0
    assert ratelimit.bucket_for("ia", "cdx", 4.0) is bucket
    # another process with the same settings: six turns each, at 4 a second between them
    code = ("import sys, time, json\n"
            "from archiver.config import Settings\n"
            "from archiver.distributed.slots import from_settings\n"
            f"rate = from_settings(Settings(queue={{'url': 'amqp://x@127.0.0.1//', 'redis_url': {REDIS!r}, "
            f"'key_prefix': {prefix!r}}})).rate_for('ia', 'cdx', 4.0)\n"
            "print('ready', flush=True); sys.stdin.readline()\n"
            "times = []\n"
            "for _ in range(6):\n"
            "    rate.acquire(); times.append(time.time())\n"
            "print(json.dumps(times))\n")
    other = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout.readline().strip() == "ready"
        other.stdin.write("go\n")
        other.stdin.flush()
        mine = []
        for _ in range(6):
            bucket.acquire()
            mine.append(time.time())
        theirs = __import__("json").loads(other.stdout.readline())
    finally:
        other.kill()
        other.wait()
        r = redis.StrictRedis.from_url(REDIS)
        for key in r.keys(f"{prefix}:*"):
            r.delete(key)
    turns = sorted(mine + theirs)
    # 12 turns at 4 a second: at least 11 intervals of 250 ms (minus the clocks' rounding), whoever took them
    assert turns[-1] - turns[0] >= 11 * 0.25 - 0.1, [round(t - turns[0], 3) for t in turns]
    gaps = [b - a for a, b in zip(turns, turns[1:])]
    assert min(gaps) >= 0.25 - 0.06, [round(g, 3) for g in gaps]


def test_a_pass_holds_the_archive_rates_in_redis_when_its_queue_names_one(tmp_path):
    from archiver.distributed.slots import RedisRate

    cfg = write_config(tmp_path, f"sqlite:///{(tmp_path / 'a.db').as_posix()}",
                       queue={"url": "amqp://guest:guest@127.0.0.1:5672//", "redis_url": REDIS,
                              "key_prefix": "t" + __import__("uuid").uuid4().hex[:10]})
    assert run_cli(["init"], cfg).code == 0
    settings = load_settings(cfg, env={})
    engine = make_engine(settings)
    try:
        pipeline.make_tools(settings, make_sessionmaker(engine), None).close()
        assert isinstance(ratelimit.bucket_for("ia", "cdx", 0.4), RedisRate)
        plain = write_config(tmp_path, f"sqlite:///{(tmp_path / 'a.db').as_posix()}", name="plain.yaml")
        pipeline.make_tools(load_settings(plain, env={}), make_sessionmaker(engine), None).close()
        assert isinstance(ratelimit.bucket_for("ia", "cdx", 0.4), ratelimit.TokenBucket)
    finally:
        engine.dispose()
