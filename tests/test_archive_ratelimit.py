"""The archives' request rates are respected: token buckets on a fake clock."""
from __future__ import annotations

import pytest

from archiver.config import load_settings
from archiver.net.http import HttpClient
from archiver.resolve import ratelimit
from archiver.resolve.cdx import ArchiveFetcher
from archiver.resolve.ratelimit import TokenBucket
from archiver.resolve.sources import resolve_from_archives
from tests.conftest import write_config
from tests.servers.wayback import WaybackServer


class FakeClock:
    def __init__(self):
        self.t = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.t += s


def test_bucket_spaces_requests():
    c = FakeClock()
    b = TokenBucket(0.4, clock=c, sleep=c.sleep)
    waits = [b.acquire() for _ in range(4)]
    assert waits[0] == 0
    assert waits[1:] == pytest.approx([2.5, 2.5, 2.5])
    c.t += 100  # idle time saves at most one token (burst 1)
    assert b.acquire() == 0 and b.acquire() == pytest.approx(2.5)


def test_bucket_rejects_bad_rate():
    with pytest.raises(ValueError):
        TokenBucket(0)


def test_process_wide_buckets_are_shared():
    ratelimit.reset()
    assert ratelimit.bucket_for("ia", "cdx", 0.4) is ratelimit.bucket_for("ia", "cdx", 0.4)
    assert ratelimit.bucket_for("ia", "cdx", 0.4) is not ratelimit.bucket_for("ia", "replay", 8)
    ratelimit.reset()


def test_resolution_respects_cdx_and_replay_rates(tmp_path):
    c = FakeClock()
    buckets: dict = {}

    def factory(archive, kind, rate):
        return buckets.setdefault((archive, kind), TokenBucket(rate, clock=c, sleep=c.sleep))

    with WaybackServer("ia") as ia:
        for code in ("aaa", "bbb", "ccc"):
            ia.add(f"https://goo.gl/{code}", "20250901000000", 404)
            ia.add(f"https://goo.gl/{code}", "20150101000000", 200, body=b"<html>home</html>",
                   headers=[("Content-Type", "text/html")])
            ia.redirect(f"https://goo.gl/{code}", "20160101000000", f"https://example.org/{code}")
        cfg = write_config(tmp_path, f"sqlite:///{tmp_path / 'a.db'}",
                           resolver={"archives": [ia.config("ia", requests_per_s=0.4, timemap=False)]})
        settings = load_settings(cfg, env={})
        client = HttpClient(settings.fetch)
        fetcher = ArchiveFetcher(client, buckets=factory, sleep=c.sleep)
        start = c.t
        for code in ("aaa", "bbb", "ccc"):
            res = resolve_from_archives(f"https://goo.gl/{code}", client=client, settings=settings,
                                        session_factory=None, fetcher=fetcher)
            assert res.final_url == f"https://example.org/{code}"
    cdx_calls = sum(1 for r in ia.requests if r.startswith("/cdx/"))
    assert cdx_calls == 3
    assert buckets[("ia", "cdx")].rate == 0.4
    assert buckets[("ia", "replay")].rate == ratelimit.REPLAY_RATE  # replays at the playback rate
    # three CDX queries at 0.4/s need at least 2 x 2.5 s of (fake) waiting
    assert c.t - start >= 5.0 - 1e-9
    assert sum(s for s in c.sleeps if s == pytest.approx(2.5)) >= 5.0 - 1e-9
