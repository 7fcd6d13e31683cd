"""Live resolution against the simulated web: every hop recorded, every outcome as data."""
from __future__ import annotations

import io
import subprocess
import sys
from contextlib import redirect_stdout
from types import SimpleNamespace
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.checker import Checker

from archiver.capture.recorder import Recorder
from archiver.capture.warcfile import WarcSink
from archiver.config import load_settings
from archiver.model import Outcome
from archiver.net.http import HttpClient
from archiver.resolve import is_shortener, resolve_live
from archiver.resolve.live import RATE_LIMIT_WAIT_S
from tests.servers.shortener import SimWeb, closed_port_url


@pytest.fixture(scope="module")
def web():
    with SimWeb() as w:
        yield w


class Env:
    """A recorder over a temp storage root, settings pointing at the simulated web."""

    def __init__(self, web: SimWeb, root: Path, **fetch):
        overrides = web.config_overrides()
        overrides["storage"] = {"root": str(root)}
        overrides["fetch"].update({"timeout_s": 5, "politeness_delay_s": 0, **fetch})
        self.settings = load_settings(None, env={}, overrides=overrides)
        self.client = HttpClient(self.settings.fetch)
        self.sink = WarcSink(self.settings)
        self.recorder = Recorder(self.settings, self.client, self.sink)
        self.sleeps: list[float] = []
        self.results = []

    def resolve(self, url: str, **kw):
        res = resolve_live(url, recorder=self.recorder, settings=self.settings, sleep=self.sleeps.append, **kw)
        self.results.append(res)
        return res

    def close(self) -> list[Path]:
        """Finish the WARC files; check them (digests) and that every hop's WarcRef reads back."""
        self.sink.close()
        self.client.close()
        files = sorted((Path(self.settings.storage.root) / "warcs").glob("*.warc*"))
        out = io.StringIO()
        with redirect_stdout(out):
            assert Checker(SimpleNamespace(inputs=[str(f) for f in files], verbose=False)).process_all() == 0, \
                out.getvalue()
        for res in self.results:
            for hop in res.hops:
                if hop.warc is not None:
                    check_ref(self.settings, hop)
        return files


def check_ref(settings, hop) -> None:
    """The hop's WarcRef points at its response (or revisit) record: one seek, matching ids."""
    ref = hop.warc
    assert ref.url == hop.url and ref.http_status == hop.status_code and ref.length > 0
    with open(Path(settings.storage.root) / ref.warc_file, "rb") as fh:
        fh.seek(ref.offset)
        rec = next(iter(ArchiveIterator(fh)))
        assert rec.rec_type in ("response", "revisit")
        assert rec.rec_headers.get_header("WARC-Record-ID") == ref.record_id
        assert rec.rec_headers.get_header("WARC-Target-URI") == hop.url


@pytest.fixture
def env(web, tmp_path):
    e = Env(web, tmp_path / "storage")
    yield e
    e.close()


def site(web, path):
    return web.site_url + path


def test_live_302_records_every_hop_in_the_warc(web, env):
    short = web.set_code("t302", "live", site(web, "/reports/open-budget.html"))
    res = env.resolve(short)
    assert res.outcome is Outcome.RESOLVED and res.method == "live"
    assert res.final_url == site(web, "/reports/open-budget.html")
    assert [(h.seq, h.url, h.status_code, h.kind) for h in res.hops] == [
        (1, short, 302, "redirect"), (2, res.final_url, 200, "final")]
    assert res.hops[0].location == res.final_url and res.hops[1].note == "target"
    assert all(h.warc.warc_file and h.warc.record_id and h.warc.payload_digest for h in res.hops)
    files = env.close()  # checks every hop's WarcRef
    assert files
    check = subprocess.run([sys.executable, "-m", "warcio.cli", "check", *map(str, files)],
                           capture_output=True, text=True)  # the command line auditors will use
    assert check.returncode == 0, check.stdout + check.stderr


def test_chain_of_short_codes_then_target(web, env):
    web.set_code("ch2", "live301", site(web, "/az/xeberler.html"))
    short = web.set_code("ch1", "chain", "ch2")
    res = env.resolve(short)
    assert res.outcome is Outcome.RESOLVED
    assert [h.status_code for h in res.hops] == [302, 301, 200]
    assert res.hops[1].url == web.short("ch2")
    assert res.final_url == site(web, "/az/xeberler.html")


def test_target_redirect_is_followed_to_the_final_url(web, env):
    res = env.resolve(web.set_code("tmoved", "live", site(web, "/moved")))
    assert res.outcome is Outcome.RESOLVED
    assert res.final_url == site(web, "/reports/open-budget.html")
    assert res.hops[1].url == site(web, "/moved") and res.hops[1].note == "target"
    assert res.hops[1].location == "/reports/open-budget.html"  # relative Location as sent


def test_interstitial_then_si1(web, env):
    short = web.set_code("warn1", "interstitial", site(web, "/docs/action-plan.pdf"))
    res = env.resolve(short)
    assert res.outcome is Outcome.RESOLVED
    assert res.final_url == site(web, "/docs/action-plan.pdf") and "si=1" not in res.final_url
    first, second, third = res.hops
    assert (first.url, first.status_code, first.kind) == (short, 200, "interstitial")
    assert first.location == site(web, "/docs/action-plan.pdf")  # the continue link, kept as evidence
    assert (second.url, second.status_code, second.kind) == (short + "?si=1", 302, "redirect")
    assert third.note == "target" and "si=1" not in third.url
    assert all(h.warc is not None for h in res.hops)


def test_interstitial_continue_link_when_si1_does_not_help(web, env):
    short = web.set_code("warn2", "interstitial_stuck", site(web, "/az/xeberler.html"))
    res = env.resolve(short)
    assert res.outcome is Outcome.RESOLVED
    assert res.final_url == site(web, "/az/xeberler.html")
    assert [h.url for h in res.hops] == [short, short + "?si=1", res.final_url]
    assert "continue link" in res.hops[1].note


def test_meta_refresh_and_js_redirects(web, env):
    res = env.resolve(web.set_code("meta1", "meta", site(web, "/az/xeberler.html")))
    assert res.outcome is Outcome.RESOLVED and res.final_url == site(web, "/az/xeberler.html")
    assert res.hops[0].kind == "meta-refresh" and res.hops[0].status_code == 200
    res = env.resolve(web.set_code("js1", "js", site(web, "/docs/action-plan.pdf")))
    assert res.outcome is Outcome.RESOLVED and res.final_url == site(web, "/docs/action-plan.pdf")
    assert res.hops[0].kind == "js" and res.hops[0].location == res.final_url  # \/ unescaped


@pytest.mark.parametrize("state,status,etype", [
    ("deactivated", 404, "http_404"), ("disallowed", 400, "http_400"), ("missing", 404, "http_404"),
    ("disabled2018", 200, "dead_page"), ("dynamic_not_found", 200, "dead_page")])
def test_dead_answers(web, env, state, status, etype):
    short = web.set_code("dead_" + state, state)
    res = env.resolve(short)
    assert res.outcome is Outcome.DEAD and res.final_url is None and res.error_type == etype
    assert [(h.url, h.status_code) for h in res.hops] == [(short, status)]
    assert res.hops[0].warc is not None and res.reason


def test_unknown_code_is_dead(web, env):
    res = env.resolve(web.short("neverExisted"))
    assert res.outcome is Outcome.DEAD and res.hops[0].status_code == 404


def test_429_with_retry_after_then_resolved_on_a_later_call(web, env):
    short = web.set_code("busy1", "429", site(web, "/az/xeberler.html"), retry_after="120", ok_after=1)
    res = env.resolve(short)
    assert res.outcome is Outcome.FAILED and res.error_type == "rate_limited"
    assert res.retry_after_s == 120.0 and res.hops[0].status_code == 429
    assert env.sleeps == []  # no in-process waiting on a 429: the pipeline schedules the retry
    res = env.resolve(short)
    assert res.outcome is Outcome.RESOLVED and res.final_url == site(web, "/az/xeberler.html")


def test_429_with_http_date_and_without_retry_after(web, env):
    when = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=300), usegmt=True)
    res = env.resolve(web.set_code("busy2", "429", site(web, "/"), retry_after=when))
    assert res.outcome is Outcome.FAILED and 280 <= res.retry_after_s <= 301
    res = env.resolve(web.set_code("busy3", "429", site(web, "/")))
    assert res.outcome is Outcome.FAILED and res.error_type == "rate_limited" and res.retry_after_s is None


def test_503(web, env):
    res = env.resolve(web.set_code("down1", "503", site(web, "/"), retry_after="30"))
    assert res.outcome is Outcome.FAILED and res.error_type == "server_error" and res.retry_after_s == 30.0
    assert "503" in res.reason


def test_redirect_loops_fail(web, env):
    res = env.resolve(web.set_code("self1", "loop"))
    assert res.outcome is Outcome.FAILED and res.error_type == "redirect_loop"
    assert len(res.hops) == 1
    web.set_code("loopA", "chain", "loopB")
    web.set_code("loopB", "chain", "loopA")
    res = env.resolve(web.short("loopA"))
    assert res.outcome is Outcome.FAILED and res.error_type == "redirect_loop"
    assert [h.url for h in res.hops] == [web.short("loopA"), web.short("loopB")]


def test_too_many_hops(web, tmp_path):
    for i in range(5):
        web.set_code(f"hop{i}", "chain", f"hop{i + 1}")
    web.set_code("hop5", "live", site(web, "/"))
    e = Env(web, tmp_path / "s", max_hops=3)
    try:
        res = e.resolve(web.short("hop0"))
        assert res.outcome is Outcome.FAILED and res.error_type == "too_many_hops"
        assert len(res.hops) == 4  # 3 redirects followed, the 4th refused
    finally:
        e.close()
    e = Env(web, tmp_path / "t", max_hops=6)
    try:
        res = e.resolve(web.short("hop0"))
        assert res.outcome is Outcome.RESOLVED and len(res.hops) == 7
    finally:
        e.close()


def test_rate_limit_redirect_is_never_the_target(web, env):
    before = web.hits("google")
    web.set_code("rl1", "live", site(web, "/az/xeberler.html"))
    web.ratelimit(100)
    try:
        res = env.resolve(web.short("rl1"))
    finally:
        web.ratelimit(0)
    assert res.outcome is Outcome.FAILED and res.error_type == "rate_limited"
    assert res.final_url is None and res.retry_after_s == RATE_LIMIT_WAIT_S
    assert env.sleeps == [2.0, 4.0]  # two quick retries, exponential
    assert len(res.hops) == 3 and all(h.url == web.short("rl1") for h in res.hops)
    assert all("/sorry/index?continue=" in h.location for h in res.hops)
    assert web.hits("google") == before  # the sorry page itself is never requested


def test_rate_limit_redirect_then_success_after_quick_retries(web, env):
    web.set_code("rl2", "live", site(web, "/az/xeberler.html"))
    web.ratelimit(2)
    res = env.resolve(web.short("rl2"))
    assert res.outcome is Outcome.RESOLVED and res.final_url == site(web, "/az/xeberler.html")
    assert [h.status_code for h in res.hops] == [302, 302, 302, 200]
    assert env.sleeps == [2.0, 4.0]


def test_rate_limit_per_code_state(web, env):
    res = env.resolve(web.set_code("rl3", "ratelimit"), quick_retries=0)
    assert res.outcome is Outcome.FAILED and res.error_type == "rate_limited" and env.sleeps == []


def test_refused_by_policy(web, tmp_path):
    e = Env(web, tmp_path / "s", allow_private_addresses=False)
    try:
        res = e.resolve(web.short("mMTrEZ"))
    finally:
        e.close()
    assert res.outcome is Outcome.REFUSED and res.error_type == "refused"
    assert "loopback" in res.reason
    assert res.hops[0].kind == "error" and res.hops[0].warc is None


def test_network_error_on_the_shortener_fails(web, tmp_path):
    url = closed_port_url("/abc")
    overrides = web.config_overrides()
    e = Env(web, tmp_path / "s")
    try:
        settings = load_settings(None, env={}, overrides={
            **overrides, "storage": {"root": str(tmp_path / "s")},
            "resolver": {"shorteners": [url.split("/")[2]]}})
        res = resolve_live(url, recorder=e.recorder, settings=settings, sleep=e.sleeps.append)
    finally:
        e.close()
    assert res.outcome is Outcome.FAILED and res.error_type == "network"
    assert res.hops[0].status_code is None and res.hops[0].kind == "error"


def test_timeout_on_the_shortener_fails(web, tmp_path):
    e = Env(web, tmp_path / "s", timeout_s=0.3)
    try:
        res = e.resolve(web.set_code("slow1", "slow", site(web, "/")))
    finally:
        e.close()
    assert res.outcome is Outcome.FAILED and res.error_type == "timeout"


def test_target_loop_is_the_capture_stages_business(web, env):
    res = env.resolve(web.set_code("tloop", "live", site(web, "/loop")))
    assert res.outcome is Outcome.RESOLVED and res.final_url == site(web, "/loop")
    assert "loop" in res.reason and res.hops[1].note == "target"


def test_target_failures_do_not_make_the_link_dead(web, env):
    res = env.resolve(web.set_code("t404", "live", site(web, "/gone")))
    assert res.outcome is Outcome.RESOLVED and res.final_url == site(web, "/gone")
    assert res.hops[-1].status_code == 404
    res = env.resolve(web.set_code("t500", "live", site(web, "/broken")))
    assert res.outcome is Outcome.RESOLVED and res.hops[-1].status_code == 500
    down = closed_port_url("/report")
    res = env.resolve(web.set_code("tdown", "live", down))
    assert res.outcome is Outcome.RESOLVED and res.final_url == down
    assert res.hops[-1].note.startswith("target") and "stopped at" in res.reason


def test_bitly(web, env):
    target = site(web, "/reports/open-budget.html")
    res = env.resolve(web.set_code("b1", "live", target, service="bitly"))
    assert res.outcome is Outcome.RESOLVED and res.final_url == target
    assert res.hops[0].status_code == 301
    res = env.resolve(web.set_code("b2", "warning", target, service="bitly"))
    assert res.outcome is Outcome.RESOLVED and res.final_url == target and len(res.hops) == 2
    assert env.resolve(web.short("nope", "bitly")).outcome is Outcome.DEAD
    assert env.resolve(web.set_code("b3", "blocked", service="bitly")).outcome is Outcome.DEAD


def test_tco_non_browser_and_browser_pages(web, env, tmp_path):
    target = site(web, "/az/xeberler.html")
    short = web.set_code("tc1", "live", target, service="tco")
    res = env.resolve(short)
    assert res.outcome is Outcome.RESOLVED and res.final_url == target
    assert (res.hops[0].status_code, res.hops[0].kind) == (301, "redirect")  # lower-case location header
    for state in ("page2022", "page2013"):
        res = env.resolve(web.set_code("tc_" + state, state, target, service="tco"))
        assert res.outcome is Outcome.RESOLVED and res.final_url == target
        assert (res.hops[0].status_code, res.hops[0].kind) == (200, "meta-refresh")
    e = Env(web, tmp_path / "browser", user_agent="Mozilla/5.0 (X11; Linux x86_64)")
    try:
        res = e.resolve(short)
    finally:
        e.close()
    assert res.outcome is Outcome.RESOLVED and res.hops[0].status_code == 200


def test_tinyurl_prefers_its_target_header(web, env):
    target = site(web, "/docs/action-plan.pdf")
    res = env.resolve(web.set_code("ty1", "live", target, service="tinyurl"))
    assert res.outcome is Outcome.RESOLVED and res.final_url == target
    assert res.hops[0].status_code == 307 and "/affiliate?" in res.hops[0].location
    assert res.hops[1].url == target  # the affiliate wrapper is skipped
    assert "X-TinyURL-Target" in res.hops[0].note
    res = env.resolve(web.short("unknown", "tinyurl"))
    assert res.outcome is Outcome.DEAD and "errorb.php" in res.reason


def test_owly_and_isgd(web, env):
    target = site(web, "/reports/open-budget.html")
    assert env.resolve(web.set_code("o1", "live", target, service="owly")).final_url == target
    res = env.resolve(web.set_code("o2", "warning", target, service="owly"))
    assert res.outcome is Outcome.RESOLVED and res.final_url == target and res.hops[0].kind == "interstitial"
    assert env.resolve(web.set_code("o3", "disabled", service="owly")).outcome is Outcome.DEAD
    assert env.resolve(web.set_code("i1", "live", target, service="isgd")).final_url == target
    assert env.resolve(web.short("zz", "isgd")).outcome is Outcome.DEAD


def test_is_shortener_considers_the_port(web, env):
    s = env.settings
    assert is_shortener(web.short("x"), s)
    assert not is_shortener(web.site_url + "/x", s)  # same host, other port
    plain = load_settings(None, env={}, overrides={"resolver": {"shorteners": ["goo.gl", "localhost:8080",
                                                                               "[::1]:9000", "t.co:443"]}})
    assert is_shortener("https://goo.gl/abc", plain) and is_shortener("http://WWW.goo.gl:8000/abc", plain)
    assert is_shortener("http://localhost:8080/x", plain) and not is_shortener("http://localhost:8081/x", plain)
    assert is_shortener("http://[::1]:9000/x", plain) and not is_shortener("http://[::1]/x", plain)
    assert is_shortener("https://t.co/x", plain) and not is_shortener("http://t.co/x", plain)
    assert not is_shortener("https://maps.app.goo.gl/x", plain) and not is_shortener("not a url", plain)
