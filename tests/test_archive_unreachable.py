"""The Internet Archive is asked by default, and an archive that cannot be reached at all is not asked
again for ``resolver.archive_retry_after_s``: without that, every dead link of a pass waited its turn in the
archive's rate limit (0.4 requests a second for the Internet Archive) only to fail the same way (the
sample report on a machine without the internet: 98 s instead of 19)."""
from __future__ import annotations

import json

import pytest
import yaml

from archiver.config import Settings
from archiver.errors import FetchError, FetchTimeout
from archiver.resolve import ratelimit
from archiver.resolve.cdx import ArchiveFetcher, ArchiveUnavailable
from archiver.simweb import SimWeb
from tests.conftest import run_cli, write_config
from tests.servers.shortener import closed_port_url


@pytest.fixture
def sim():
    with SimWeb() as web:
        yield web


class CountingBucket:
    def __init__(self):
        self.taken = 0

    def acquire(self) -> float:
        self.taken += 1
        return 0.0


class FailingClient:
    """An HttpClient whose every GET fails with ``error``; counts the GETs."""

    def __init__(self, error: Exception):
        self.error, self.calls = error, 0

    def get_bytes(self, url, headers=None, max_bytes=None):
        self.calls += 1
        raise self.error


def _fetcher(client, bucket) -> ArchiveFetcher:
    return ArchiveFetcher(client, retry_after_s=60, sleep=lambda s: None, buckets=lambda a, k, r: bucket)


@pytest.mark.parametrize("error", [
    FetchError("cannot resolve host 'web.archive.org' (no name)", kind="dns"),
    FetchError("connection failed: refused", kind="connect"),
    FetchTimeout("connect timeout: 10 s", kind="connect"),
    FetchError("TLS error: handshake failure", kind="tls"),
])
def test_an_unreachable_archive_is_not_asked_again_nor_waited_for(error):
    client, bucket = FailingClient(error), CountingBucket()
    fetcher = _fetcher(client, bucket)
    with pytest.raises(ArchiveUnavailable, match="cannot reach"):
        fetcher.get("https://archive.test/cdx?url=a", archive="ia", kind="cdx", rate=0.4)
    for url in ("https://archive.test/cdx?url=b", "https://archive.test/web/2017id_/c"):
        with pytest.raises(ArchiveUnavailable, match=r"ia: not asked, unreachable at .* UTC \(.*\); asked again in"):
            fetcher.get(url, archive="ia", kind="cdx", rate=0.4)
    assert client.calls == 1 and bucket.taken == 1  # neither asked nor queued behind the rate limit
    # another archive is asked as before
    with pytest.raises(ArchiveUnavailable, match="cannot reach"):
        fetcher.get("https://other.test/cdx?url=a", archive="other", kind="cdx", rate=0.4)
    assert client.calls == 2


@pytest.mark.parametrize("error", [
    FetchTimeout("read timeout: 30 s"),  # it answered, slowly: the next link may fare better
    FetchError("connection failed: reset by peer"),  # (a reset after connecting has no kind)
    FetchError("bad HTTP response: junk"),
])
def test_a_slow_or_broken_answer_does_not_stop_the_next_link_asking(error):
    client, bucket = FailingClient(error), CountingBucket()
    fetcher = _fetcher(client, bucket)
    for _ in range(3):
        with pytest.raises(ArchiveUnavailable, match="cannot reach"):
            fetcher.get("https://archive.test/cdx?url=a", archive="ia", kind="cdx", rate=0.4)
    assert client.calls == 3 and ratelimit.unreachable("ia") is None


def test_an_unreachable_archive_is_asked_again_after_the_wait():
    now = [1000.0]
    ratelimit.mark_unreachable("ia", 60, "cannot resolve host", clock=lambda: now[0])
    assert ratelimit.unreachable("ia", clock=lambda: now[0])[0] == pytest.approx(60)
    now[0] += 59.5
    assert ratelimit.unreachable("ia", clock=lambda: now[0]) is not None
    now[0] += 1
    assert ratelimit.unreachable("ia", clock=lambda: now[0]) is None
    ratelimit.mark_unreachable("ia", 0, "a wait of 0 means: always ask")
    assert ratelimit.unreachable("ia") is None


def _resolve_dead_codes(tmp_path, sim, cfg, n: int):
    """A report of ``n`` activities, each citing one short code its shortener does not know, ingested into the
    store of ``cfg`` and resolved (`run --stage resolve --json`); the run's CliResult."""
    codes = [sim.set_code(f"Gone{i}", "missing") for i in range(n)]
    report = tmp_path / "r.txt"
    report.write_text("".join(f"- On {i + 1} May 2018 meeting {i}.\n  {sim.short(c)}\n" for i, c in
                              enumerate(codes)), encoding="utf-8")
    assert run_cli(["init"], cfg).code == 0
    assert run_cli(["ingest", str(report)], cfg).code == 0
    return run_cli(["run", "--stage", "resolve", "--json"], cfg)


def test_the_shipped_default_asks_the_internet_archive(tmp_path, sim):
    """With no `resolver.archives` in the config, dead short links go to the Internet Archive: here it
    cannot be reached (tests resolve no outside names), so the links wait for a later pass, saying why, and
    only the first asked it."""
    ia = Settings().resolver.archives
    assert [(a.name, a.cdx_url, a.replay_url, a.timemap_url, a.requests_per_s) for a in ia] == [
        ("ia", "https://web.archive.org/cdx/search/cdx", "https://web.archive.org/web/{timestamp}id_/{url}",
         "https://web.archive.org/web/timemap/link/{url}", 0.4)]
    cfg = write_config(tmp_path, f"sqlite:///{(tmp_path / 'a.db').as_posix()}",
                       resolver={"shorteners": sim.shortener_hosts}, fetch={"concurrency": 1})
    data = yaml.safe_load(cfg.read_text())
    del data["resolver"]["archives"]  # (tests/conftest.py's write_config names none: back to the default)
    cfg.write_text(yaml.safe_dump(data))
    r = _resolve_dead_codes(tmp_path, sim, cfg, 3)
    assert r.code == 1 and r.json()["failed"] == 3, (r.out, r.err)  # (exit 1: items failed, tried again later)
    reasons = []
    for activity in (1, 2, 3):
        shown = run_cli(["show", str(activity), "--json"], cfg)
        (link,) = json.loads(shown.out)["links"]
        assert link["status"] == "failed" and link["resolution_method"] is None, (link["status_reason"], link["hops"])
        reasons.append(link["status_reason"])
    asked = [r for r in reasons if "cannot reach https://web.archive.org/cdx/search/cdx?url=" in r]
    # (the name is looked up by urllib3 here, fetch.allow_private_addresses being on; else by archiver/net)
    assert len(asked) == 1 and ("NameResolutionError" in asked[0] or "cannot resolve host" in asked[0]), reasons
    assert all("ia: not asked, unreachable at" in r for r in reasons), reasons


def test_a_pass_does_not_queue_every_dead_link_behind_an_unreachable_archive(tmp_path, sim):
    """An archive on a port nobody listens on, at 0.2 requests a second: each dead link would have waited
    5 s a request for the same refusal. The first link finds it unreachable; the others do not ask."""
    down = closed_port_url()
    archive = {"name": "down", "cdx_url": down + "/cdx", "replay_url": down + "/web/{timestamp}id_/{url}",
               "timemap_url": down + "/timemap/link/{url}", "requests_per_s": 0.2}
    cfg = write_config(tmp_path, f"sqlite:///{(tmp_path / 'a.db').as_posix()}",
                       resolver={"shorteners": sim.shortener_hosts, "archives": [archive]})
    r = _resolve_dead_codes(tmp_path, sim, cfg, 4)
    assert r.code == 1 and r.json()["failed"] == 4, (r.out, r.err)
    reasons = [json.loads(run_cli(["show", str(a), "--json"], cfg).out)["links"][0]["status_reason"]
               for a in (1, 2, 3, 4)]
    assert sum("cannot reach " + down in r for r in reasons) == 1, reasons
    # (the first link's own TimeMap request, after its CDX query, was not made either)
    assert all("down: not asked, unreachable at" in r for r in reasons), reasons
