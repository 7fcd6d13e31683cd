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

from archiver.capture import capture_url
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

    def capture(self, url: str):
        """What the capture stage does with a resolved link's target (its hops' WarcRefs checked on close)."""
        cap = capture_url(url, recorder=self.recorder, settings=self.settings)
        self.results.append(cap)
        return cap

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


def site_hits(web, path: str) -> int:
    """Requests the target site received for exactly ``path`` (any query string)."""
    return sum(1 for r in web.requests if r.service == "site" and r.path.split("?")[0] == path)


def warc_uris(files) -> list[tuple[str, str]]:
    """(record type, target URI) of every request/response/revisit record in the WARC files."""
    out = []
    for f in files:
        with open(f, "rb") as fh:
            for rec in ArchiveIterator(fh):
                if rec.rec_type in ("request", "response", "revisit"):
                    out.append((rec.rec_type, rec.rec_headers.get_header("WARC-Target-URI")))
    return out


def test_live_302_records_every_hop_in_the_warc(web, env):
    target = site(web, "/reports/open-budget.html")
    short = web.set_code("t302", "live", target)
    before = site_hits(web, "/reports/open-budget.html")
    res = env.resolve(short)
    assert res.outcome is Outcome.RESOLVED and res.method == "live"
    assert res.final_url == target
    assert [(h.seq, h.url, h.status_code, h.kind) for h in res.hops] == [(1, short, 302, "redirect")]
    assert res.hops[0].location == target and res.hops[0].note is None
    assert all(h.warc.warc_file and h.warc.record_id and h.warc.payload_digest for h in res.hops)
    assert site_hits(web, "/reports/open-budget.html") == before  # the target is the capture stage's
    # ... which then records it once: a response record, not a revisit of a resolver hop
    cap = env.capture(res.final_url)
    assert cap.outcome is Outcome.CAPTURED and cap.final_url == target
    assert cap.response.url == target and cap.response.http_status == 200 and not cap.response.is_revisit
    assert site_hits(web, "/reports/open-budget.html") == before + 1
    files = env.close()  # checks every hop's WarcRef
    assert files
    uris = warc_uris(files)
    assert uris.count(("response", short)) == 1
    assert uris.count(("response", target)) == 1 and ("revisit", target) not in uris
    check = subprocess.run([sys.executable, "-m", "warcio.cli", "check", *map(str, files)],
                           capture_output=True, text=True)  # the command line auditors will use
    assert check.returncode == 0, check.stdout + check.stderr


def test_chain_of_short_codes_then_target(web, env):
    web.set_code("ch2", "live301", site(web, "/az/xeberler.html"))
    short = web.set_code("ch1", "chain", "ch2")
    before = site_hits(web, "/az/xeberler.html")
    res = env.resolve(short)
    assert res.outcome is Outcome.RESOLVED
    assert [(h.url, h.status_code) for h in res.hops] == [(short, 302), (web.short("ch2"), 301)]
    assert res.final_url == site(web, "/az/xeberler.html") == res.hops[1].location
    assert site_hits(web, "/az/xeberler.html") == before


def test_target_redirect_is_followed_to_the_final_url(web, env):
    short = web.set_code("tmoved", "live", site(web, "/moved"))
    before = site_hits(web, "/moved")
    res = env.resolve(short)
    # resolution stops at the target: the first URL off the shortener hosts, not fetched here
    assert res.outcome is Outcome.RESOLVED and res.final_url == site(web, "/moved")
    assert [(h.url, h.status_code, h.kind) for h in res.hops] == [(short, 302, "redirect")]
    assert site_hits(web, "/moved") == before
    # the capture stage follows the target's own redirect to where its chain ends
    cap = env.capture(res.final_url)
    assert cap.outcome is Outcome.CAPTURED and cap.final_url == site(web, "/reports/open-budget.html")
    assert [(h.url, h.status_code, h.kind) for h in cap.hops] == [
        (site(web, "/moved"), 301, "redirect"), (cap.final_url, 200, "final")]
    # Location as sent (relative), and the next hop is where it leads
    assert cap.hops[0].location == "/reports/open-budget.html" and cap.hops[1].url == cap.final_url
    assert cap.hops[0].warc is not None
    assert cap.response.url == cap.final_url and cap.response.http_status == 200
    assert site_hits(web, "/moved") == before + 1


def test_interstitial_then_si1(web, env):
    short = web.set_code("warn1", "interstitial", site(web, "/docs/action-plan.pdf"))
    before = site_hits(web, "/docs/action-plan.pdf")
    res = env.resolve(short)
    assert site_hits(web, "/docs/action-plan.pdf") == before
    assert res.outcome is Outcome.RESOLVED
    assert res.final_url == site(web, "/docs/action-plan.pdf") and "si=1" not in res.final_url
    first, second = res.hops
    assert (first.url, first.status_code, first.kind) == (short, 200, "interstitial")
    assert first.location == site(web, "/docs/action-plan.pdf")  # the continue link, kept as evidence
    assert (second.url, second.status_code, second.kind) == (short + "?si=1", 302, "redirect")
    assert second.location == res.final_url
    assert all(h.warc is not None for h in res.hops)


def test_interstitial_continue_link_when_si1_does_not_help(web, env):
    short = web.set_code("warn2", "interstitial_stuck", site(web, "/az/xeberler.html"))
    before = site_hits(web, "/az/xeberler.html")
    res = env.resolve(short)
    assert site_hits(web, "/az/xeberler.html") == before
    assert res.outcome is Outcome.RESOLVED
    assert res.final_url == site(web, "/az/xeberler.html")
    assert [(h.url, h.status_code) for h in res.hops] == [(short, 200), (short + "?si=1", 200)]
    assert "continue link" in res.hops[1].note and res.hops[1].location == res.final_url


def test_meta_refresh_and_js_redirects(web, env):
    res = env.resolve(web.set_code("meta1", "meta", site(web, "/az/xeberler.html")))
    assert res.outcome is Outcome.RESOLVED and res.final_url == site(web, "/az/xeberler.html")
    assert res.hops[0].kind == "meta-refresh" and res.hops[0].status_code == 200
    res = env.resolve(web.set_code("js1", "js", site(web, "/docs/action-plan.pdf")))
    assert res.outcome is Outcome.RESOLVED and res.final_url == site(web, "/docs/action-plan.pdf")
    assert res.hops[0].kind == "js" and res.hops[0].location == res.final_url  # \/ unescaped


def test_a_link_off_the_shortener_hosts_is_its_own_target(web, env):
    """A link whose host is not (or no longer) a listed shortener is not fetched: it is the target."""
    url = site(web, "/moved")
    before = site_hits(web, "/moved")
    res = env.resolve(url)
    assert res.outcome is Outcome.RESOLVED and res.final_url == url and res.hops == ()
    assert site_hits(web, "/moved") == before


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
        assert res.outcome is Outcome.RESOLVED and res.final_url == site(web, "/")
        assert [h.url for h in res.hops] == [web.short(f"hop{i}") for i in range(6)]  # 6 redirects, target not fetched
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
    assert [(h.url, h.status_code) for h in res.hops] == [(web.short("rl2"), 302)] * 3
    assert ["/sorry/index?continue=" in h.location for h in res.hops] == [True, True, False]
    assert res.hops[-1].location == res.final_url
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
    short = web.set_code("tloop", "live", site(web, "/loop"))
    before = site_hits(web, "/loop")
    res = env.resolve(short)
    assert res.outcome is Outcome.RESOLVED and res.final_url == site(web, "/loop")  # the link is not failed
    assert [(h.url, h.status_code) for h in res.hops] == [(short, 302)] and site_hits(web, "/loop") == before
    cap = env.capture(res.final_url)  # the loop is found, recorded and failed by the capture stage
    assert cap.outcome is Outcome.FAILED and cap.error_type == "TooManyHops" and "redirect loop" in cap.reason
    assert [(h.url, h.status_code, h.location) for h in cap.hops] == [(res.final_url, 302, "/loop")]  # as sent
    assert cap.hops[0].warc is not None and cap.response is None
    assert site_hits(web, "/loop") == before + 1


@pytest.mark.parametrize("path,status", [("/gone", 404), ("/broken", 500)])
def test_target_failures_do_not_make_the_link_dead(web, env, path, status):
    short = web.set_code("t" + str(status), "live", site(web, path))
    before = site_hits(web, path)
    res = env.resolve(short)
    # the shortener answered with a redirect: the link resolved, whatever its target says
    assert res.outcome is Outcome.RESOLVED and res.final_url == site(web, path) and res.reason is None
    assert [(h.url, h.status_code) for h in res.hops] == [(short, 302)] and site_hits(web, path) == before
    # the target's answer is the capture stage's: DEAD, with what the target showed kept
    cap = env.capture(res.final_url)
    assert cap.outcome is Outcome.DEAD and cap.error_type == f"http_{status}" and str(status) in cap.reason
    assert cap.final_url == res.final_url and cap.response.http_status == status
    assert [(h.url, h.status_code, h.kind) for h in cap.hops] == [(res.final_url, status, "error")]


def test_unreachable_target_resolves_and_fails_at_capture(web, env):
    down = closed_port_url("/report")
    short = web.set_code("tdown", "live", down)
    res = env.resolve(short)
    assert res.outcome is Outcome.RESOLVED and res.final_url == down and res.reason is None
    assert [(h.url, h.status_code) for h in res.hops] == [(short, 302)]
    cap = env.capture(res.final_url)  # a network error: FAILED (retried later), not DEAD
    assert cap.outcome is Outcome.FAILED and cap.final_url == down and cap.response is None and not cap.hops
    assert cap.error_type and cap.reason


def test_bitly(web, env):
    target = site(web, "/reports/open-budget.html")
    res = env.resolve(web.set_code("b1", "live", target, service="bitly"))
    assert res.outcome is Outcome.RESOLVED and res.final_url == target
    assert res.hops[0].status_code == 301
    warnings = web.hits("bitly", "/a/warning")
    res = env.resolve(web.set_code("b2", "warning", target, service="bitly"))
    assert res.outcome is Outcome.RESOLVED and res.final_url == target
    assert [(h.url, h.status_code) for h in res.hops] == [(web.short("b2", "bitly"), 302)]
    assert "/a/warning?" in res.hops[0].location and "warning URL" in res.hops[0].note
    assert web.hits("bitly", "/a/warning") == warnings  # the target is read from the warning URL
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
    before = (site_hits(web, "/affiliate"), site_hits(web, "/docs/action-plan.pdf"))
    res = env.resolve(web.set_code("ty1", "live", target, service="tinyurl"))
    assert res.outcome is Outcome.RESOLVED and res.final_url == target  # the affiliate wrapper is skipped
    assert [(h.url, h.status_code) for h in res.hops] == [(web.short("ty1", "tinyurl"), 307)]
    assert "/affiliate?" in res.hops[0].location and "X-TinyURL-Target" in res.hops[0].note
    assert (site_hits(web, "/affiliate"), site_hits(web, "/docs/action-plan.pdf")) == before
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


def test_a_refusal_after_a_redirect_names_the_refused_hop(tmp_path):
    """goo.gl → goo.gl/other → a forbidden address: the reason names the hop refused, not the link."""
    from archiver.errors import FetchRefused

    settings = load_settings(None, env={}, overrides={"storage": {"root": str(tmp_path)}})
    forbidden = "http://goo.gl/third"

    class Recorder:
        def fetch(self, url, **_):
            if url == forbidden:
                raise FetchRefused("refused: 2002:7f00:1:: is a 6to4 address for 127.0.0.1, a loopback address",
                                   url=url)
            nxt = {"https://goo.gl/abc": "https://goo.gl/other", "https://goo.gl/other": forbidden}[url]
            return SimpleNamespace(url=url, status=301, reason="Moved", headers={"location": nxt}, body=b"",
                                   warc=None, truncated=False)

    res = resolve_live("https://goo.gl/abc", recorder=Recorder(), settings=settings, sleep=lambda s: None)
    assert res.outcome is Outcome.REFUSED
    assert res.reason == (f"redirect 2 to {forbidden}: refused: 2002:7f00:1:: is a 6to4 address for 127.0.0.1, "
                          "a loopback address")
    assert [h.kind for h in res.hops] == ["redirect", "redirect", "error"] and res.hops[-1].url == forbidden
