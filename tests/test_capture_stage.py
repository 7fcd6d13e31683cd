"""capture_url / capture_many: redirects hop by hop, outcomes, requisites, SSRF on every hop, concurrency."""
import threading
import time

import pytest

import archiver.net.policy as policy
from archiver.capture import HostGate, capture_many, capture_url
from archiver.capture.requisites import css_urls, html_urls
from archiver.model import Outcome
from tests.servers.targets import capture_settings, page_html, recorder_for, serve


@pytest.fixture(scope="module")
def sites():
    with serve() as a:
        with serve(other=a.base) as b:
            yield a, b


def test_redirect_chain_recorded_hop_by_hop(tmp_path, sites):
    a, _ = sites
    s = capture_settings(tmp_path)
    with recorder_for(s) as (rec, sink):
        res = capture_url(a.url("/r1"), recorder=rec, settings=s)
    assert res.outcome is Outcome.CAPTURED and res.final_url == a.url("/final")
    assert [(h.url, h.status_code, h.kind) for h in res.hops] == [
        (a.url("/r1"), 301, "redirect"), (a.url("/r2"), 302, "redirect"), (a.url("/final"), 200, "final")]
    # the Location header as the server sent it (relative here); the next hop is the absolute URL
    assert res.hops[0].location == "/r2" and res.hops[1].url == a.url("/r2")
    assert res.hops[0].warc.http_status == 301
    assert res.response.http_status == 200 and res.response.url == a.url("/final")


def test_redirect_loop_and_max_hops(tmp_path, sites):
    a, _ = sites
    s = capture_settings(tmp_path)
    with recorder_for(s) as (rec, sink):
        loop = capture_url(a.url("/loop1"), recorder=rec, settings=s)
    assert loop.outcome is Outcome.FAILED and loop.error_type == "TooManyHops" and "loop" in loop.reason
    assert len(loop.hops) == 2
    s1 = capture_settings(tmp_path, max_hops=1)
    with recorder_for(s1) as (rec, sink):
        many = capture_url(a.url("/r1"), recorder=rec, settings=s1)
    assert many.outcome is Outcome.FAILED and "more than 1 redirects" in many.reason


@pytest.mark.parametrize("path,status", [("/404", 404), ("/500", 500)])
def test_error_answers_are_dead_and_kept(tmp_path, sites, path, status):
    a, _ = sites
    s = capture_settings(tmp_path)
    with recorder_for(s) as (rec, sink):
        res = capture_url(a.url(path), recorder=rec, settings=s)
    assert res.outcome is Outcome.DEAD and res.response.http_status == status and res.error_type == f"http_{status}"


def test_network_failure_is_failed(tmp_path):
    s = capture_settings(tmp_path, timeout_s=0.5)
    with recorder_for(s) as (rec, sink):
        res = capture_url("http://127.0.0.1:9/", recorder=rec, settings=s)
    assert res.outcome is Outcome.FAILED and res.response is None and res.error_type == "FetchError"


def test_page_requisites_including_other_host_and_css(tmp_path, sites):
    a, b = sites
    s = capture_settings(tmp_path)
    with recorder_for(s) as (rec, sink):
        res = capture_url(b.url("/page.html"), recorder=rec, settings=s)
    got = {r.url for r in res.requisites}
    for path in ("/style.css", "/icon.ico", "/more.css", "/bg.gif", "/app.js", "/img.png", "/img2.png",
                 "/font.woff2"):
        assert b.url(path) in got, path
    assert a.url("/img.png") in got  # another host
    assert all(r.http_status == 200 for r in res.requisites)
    assert b.url("/doc.pdf") not in got  # a link, not a requisite


def test_requisite_budget(tmp_path, sites):
    _, b = sites
    s = capture_settings(tmp_path, requisites={"max_per_page": 3})
    with recorder_for(s) as (rec, sink):
        res = capture_url(b.url("/page.html"), recorder=rec, settings=s)
    assert len(res.requisites) == 3
    s2 = capture_settings(tmp_path, requisites={"enabled": False})
    with recorder_for(s2) as (rec, sink):
        assert capture_url(b.url("/page.html"), recorder=rec, settings=s2).requisites == ()


def test_discovery_is_pure():
    urls = html_urls(page_html("http://other.example"), "http://site.example/dir/page.html")
    assert urls[:2] == ["http://site.example/style.css", "http://site.example/icon.ico"]
    assert "http://other.example/img.png" in urls and "http://site.example/img2.png" in urls
    assert css_urls("a{b:url( 'x.png' )} @import url(\"y.css\"); @import 'z.css'; c{d:url(data:abc)}",
                    "http://h/css/s.css") == ["http://h/css/x.png", "http://h/css/y.css", "http://h/css/z.css"]


def test_redirect_to_refused_address_refused_on_that_hop(tmp_path, monkeypatch):
    """127.0.0.1 stands in for a public host; 127.0.0.2 for a private one."""
    real = policy.address_problem
    monkeypatch.setattr(policy, "address_problem", lambda ip: None if ip == "127.0.0.1" else real(ip))
    s = capture_settings(tmp_path, allow_private_addresses=False)
    with serve("127.0.0.2") as private, serve() as public:
        with recorder_for(s) as (rec, sink):
            res = capture_url(public.url(f"/redirect?to={private.url('/final')}"), recorder=rec, settings=s)
        assert private.hits == []
    assert res.outcome is Outcome.REFUSED
    # the refused hop is named and recorded, not the URL the chain started from
    assert res.reason == f"redirect 1 to {private.url('/final')}: refused: 127.0.0.2 is a loopback address"
    assert [(h.status_code, h.kind) for h in res.hops] == [(302, "redirect"), (None, "error")]
    assert res.hops[1].url == res.final_url == private.url("/final") and "loopback" in res.hops[1].note


def test_loopback_refused_when_not_allowed(tmp_path, sites):
    a, _ = sites
    s = capture_settings(tmp_path, allow_private_addresses=False)
    with recorder_for(s) as (rec, sink):
        res = capture_url(a.url("/final"), recorder=rec, settings=s)
        host = capture_url(f"http://localhost:{a.port}/final", recorder=rec, settings=s)
    assert res.outcome is Outcome.REFUSED and host.outcome is Outcome.REFUSED


def test_capture_many_dedups_and_limits_per_host(tmp_path):
    s = capture_settings(tmp_path, concurrency=6, per_host_concurrency=2, requisites={"enabled": False})
    with serve(latency=0.1) as slow:
        in_flight, peak, lock = [0], [0], threading.Lock()
        urls = [slow.url(f"/n/{i}") for i in range(8)] + [slow.url("/n/0")]
        with recorder_for(s) as (rec, sink):
            real_fetch = rec.fetch

            def counting(url, **kw):
                with lock:
                    in_flight[0] += 1
                    peak[0] = max(peak[0], in_flight[0])
                try:
                    return real_fetch(url, **kw)
                finally:
                    with lock:
                        in_flight[0] -= 1

            rec.fetch = counting
            done = []
            out = capture_many(urls, recorder=rec, settings=s, progress=lambda d, t: done.append((d, t)))
        assert len(out) == 8 and all(r.outcome is Outcome.CAPTURED for r in out.values())
        assert slow.hits.count("/n/0") == 1
        assert peak[0] == 2 and done[-1] == (8, 8)


def test_politeness_delay_between_requests_to_one_host():
    gate = HostGate(per_host=2, delay_s=0.15)
    starts = []
    threads = [threading.Thread(target=gate.run, args=("http://h.example/x", lambda: starts.append(time.monotonic())))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    starts.sort()
    assert all(b - a >= 0.14 for a, b in zip(starts, starts[1:]))


@pytest.mark.parametrize("location,named,why", [
    ("ftp://files.example/plan.pdf", "ftp://files.example/plan.pdf", "scheme 'ftp' is not http or https"),
    ("javascript:alert(1)", "javascript:alert(1)", "scheme 'javascript'"),
    ("http://[2002:a00:1::]:9/x", "http://[2002:a00:1::]:9/x", "6to4 address for 10.0.0.1"),
])
def test_a_refusal_on_a_later_hop_names_that_hop(tmp_path, monkeypatch, location, named, why):
    real = policy.address_problem  # 127.0.0.1 stands in for a public host
    monkeypatch.setattr(policy, "address_problem", lambda ip: None if ip == "127.0.0.1" else real(ip))
    s = capture_settings(tmp_path, allow_private_addresses=False)
    with serve() as public:
        first = public.url("/r1")  # 301 /r2, then /r2 redirects to the forbidden place
        public_redirect = public.url("/redirect?to=") + location
        with recorder_for(s) as (rec, sink):
            res = capture_url(public_redirect, recorder=rec, settings=s)
    assert res.outcome is Outcome.REFUSED, res.reason
    assert res.reason.startswith(f"redirect 1 to {named}: refused: ") and why in res.reason, res.reason
    assert first not in res.reason and res.hops[-1].url == named and res.hops[-1].kind == "error"


def test_too_many_hops_names_the_hop_not_followed(tmp_path):
    s = capture_settings(tmp_path, max_hops=1)
    with serve() as site:
        with recorder_for(s) as (rec, sink):
            res = capture_url(site.url("/r1"), recorder=rec, settings=s)  # /r1 -> /r2 -> /final
    assert res.outcome is Outcome.FAILED
    assert res.reason == f"more than 1 redirects (fetch.max_hops): not followed to {site.url('/final')}"
