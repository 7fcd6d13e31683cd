"""Is a 200 the cited page? Soft 404s, parked domains, stand-in pages."""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from hypothesis import given, settings
from hypothesis import strategies as st

from archiver.evidence import (PARKING_HOSTS, PARKING_PHRASES, PHRASE_ANCHORS, Page, check_evidence, make_probe,
                               parked_reason, probe_url)
from archiver.simweb import DYNAMIC_NOT_FOUND_HTML, INTERSTITIAL_HTML

ARTICLE = ("<html><head><title>Round-table on the state budget</title></head><body><nav>Home | News</nav>"
           "<h1>Round-table on the state budget</h1><p>" + "Participants discussed the draft budget. " * 40
           + "</p><footer>Platform 2017</footer></body></html>").encode()
NOT_FOUND_SHELL = ("<html><head><title>OGP Platform</title></head><body><nav>Home | News</nav>"
                   "<h1>Sorry</h1><p>We could not find {path} on this site. Try the search box or the home page."
                   "</p><footer>Platform 2017</footer></body></html>")


@dataclass
class Ex:
    status: int
    url: str
    body: bytes
    headers: dict


def test_stand_in_pages():
    assert "goo.gl warning" in check_evidence(INTERSTITIAL_HTML.format(target="https://x.example/"),
                                              url="https://goo.gl/x")
    assert "Dynamic Link Not Found" in check_evidence(DYNAMIC_NOT_FOUND_HTML, url="https://maps.app.goo.gl/x")
    view = (b'<p class="code shift red">Got an HTTP 301 response at crawl time</p>'
            b'<p class="impatient"><a href="/web/2020/https://x/">Impatient?</a></p>')
    assert "archive redirect page" in check_evidence(view, url="https://x.example/a")
    assert "sorry" in check_evidence(b"<html>Our systems have detected unusual traffic from your computer network."
                                     b"</html>", url="https://www.google.com/sorry/index?continue=x")
    assert "sorry" in check_evidence(Ex(200, "https://www.google.com/sorry/index?continue=x", b"<html></html>", {}),
                                     url="https://goo.gl/x")
    assert "disabled" in check_evidence(b"<p>this goo.gl shortlink has been disabled. It was found to be violating"
                                        b" our Terms of Service</p>", url="https://goo.gl/x")


@pytest.mark.parametrize("body,url", [
    (b"<html><body><h1>example.az</h1><p>This domain is for sale! Make an offer.</p></body></html>",
     "http://ogp.example.az/news/1"),
    (b"<html><head><script src='https://www.sedoparking.com/frmpark/x.js'></script></head><body></body></html>",
     "http://ogp.example.az/"),
    (b"<html><body>hello</body></html>", "https://www.hugedomains.com/domain_profile.cfm?d=ogp"),
])
def test_parked(body, url):
    assert "parked" in check_evidence(body, url=url)


def test_real_page_is_evidence_and_non_html_skipped():
    assert check_evidence(ARTICLE, url="http://ogp.example/news/1") is None
    pdf = Ex(200, "http://ogp.example/r.pdf", b"%PDF-1.4 not found 404", {"Content-Type": "application/pdf"})
    assert check_evidence(pdf, url="http://ogp.example/r.pdf") is None
    assert check_evidence(Ex(404, "http://x/", b"not found", {}), url="http://x/") is None


def test_not_found_title():
    body = b"<html><head><title>404 - Page Not Found</title></head><body>Oops</body></html>"
    assert "soft 404" in check_evidence(body, url="http://ogp.example/gone")


def test_soft_404_by_probe():
    calls = []

    def probe(u):
        calls.append(u)
        return Page(200, u, NOT_FOUND_SHELL.format(path=u.split("/", 3)[-1]).encode())

    soft = NOT_FOUND_SHELL.format(path="news/2017/round-table").encode()
    reason = check_evidence(Ex(200, "http://ogp.example/news/2017/round-table", soft, {}),
                            url="http://ogp.example/news/2017/round-table", probe=probe)
    assert reason and reason.startswith("soft 404")
    assert calls and calls[0].startswith("http://ogp.example/") and "archiver-probe" in calls[0]
    # the real article differs from the random-path page
    assert check_evidence(ARTICLE, url="http://ogp.example/news/1", probe=probe) is None
    # a site answering nonsense with a real 404 proves nothing against the page
    assert check_evidence(soft, url="http://ogp.example/x/y", probe=lambda u: Page(404, u, b"nf")) is None
    # both ended at the same final URL (e.g. redirected to /) -> soft 404
    home = b"<html><body>Welcome home</body></html>"
    reason = check_evidence(Ex(200, "http://ogp.example/", home, {}), url="http://ogp.example/old/page",
                            probe=lambda u: Page(200, "http://ogp.example/", b"<html>other</html>"))
    assert reason and "same URL" in reason


def test_home_page_not_probed():
    assert probe_url("http://ogp.example/") is None
    assert probe_url("http://ogp.example/a/b?x=1").startswith("http://ogp.example/")


def test_make_probe_follows_redirects():
    from archiver.config import load_settings
    from archiver.net.http import HttpClient
    from tests.servers.targets import serve

    settings = load_settings(None, env={}, overrides={"fetch": {"allow_private_addresses": True, "timeout_s": 5}})
    with serve() as site:
        probe = make_probe(HttpClient(settings.fetch))
        page = probe(site.url("/r1"))
        assert page.status == 200 and page.url.endswith("/final")
        assert probe(site.url("/404")).status == 404


# ---- the fast parking checks say what one scan per phrase and per host says -----------------------

def _plain_parked(low: str) -> str | None:
    """parked_reason's checks as the lists read, one ``in`` per entry (what the fast path replaced)."""
    import re as _re

    hit = next((p for p in PARKING_PHRASES if p in low), None)
    if hit:
        return f"parked or for-sale domain ('{hit}')"
    if not any(p in low for p in PARKING_HOSTS):
        return None
    for h in _re.findall(r"(?:href|src)\s*=\s*[\"']?https?://([^/\"'\s>]+)", low):
        if any(h == p or h.endswith("." + p) for p in PARKING_HOSTS):
            return f"parked or for-sale domain (page loads {h})"
    return None


def test_every_parking_phrase_holds_an_anchor_word():
    for phrase in PARKING_PHRASES:
        assert any(a in phrase for a in PHRASE_ANCHORS), phrase


_PIECES = st.sampled_from(list(PARKING_PHRASES) + list(PARKING_HOSTS) + [
    "www.", "ww2.", "x", "-", ".", "jordan", "a national park ", "public domain ", '<a href="https://', '<img src=',
    "http://", '">', ".com", ".net", ".co", ".uk", "sedo", " ", "\n", "é", "_", ":8080/", "/"])


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=30).map("".join))
def test_fast_parking_checks_agree_with_the_plain_scan(text):
    low = text.lower()
    assert parked_reason(Page(200, "http://example.org/p", low.encode()), low) == _plain_parked(low)
