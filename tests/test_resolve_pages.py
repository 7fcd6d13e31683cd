"""Pure parts of live resolution: HTML/JS redirects, goo.gl pages, Retry-After, reading one answer."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

import pytest
from requests.structures import CaseInsensitiveDict

from archiver.resolve import googl, html_redirects as hr
from archiver.resolve.live import classify, parse_retry_after
from archiver.simweb import INTERSTITIAL_HTML, TCO_2013, TCO_2022, _js_escape

BASE = "https://t.co/abc"

# t.co literals, reference §4 [C, S19]
TCO_2022_LITERAL = ('<head><noscript><META http-equiv="refresh" content="0;URL=https://bit.ly/3MPuAsi"></noscript>'
                    '<title>https://bit.ly/3MPuAsi</title></head><script>window.opener = null; '
                    'location.replace("https:\\/\\/bit.ly\\/3MPuAsi")</script>')
TCO_2013_LITERAL = ('<noscript><META http-equiv="refresh" content="0;URL=http://bit.ly/XFwn3X"></noscript>'
                    '<script>location.replace("http:\\/\\/bit.ly\\/XFwn3X")</script>')


def test_tco_literals_both_vintages():
    assert hr.html_redirect(TCO_2022_LITERAL, BASE) == ("meta-refresh", "https://bit.ly/3MPuAsi")
    assert hr.html_redirect(TCO_2013_LITERAL.encode(), BASE) == ("meta-refresh", "http://bit.ly/XFwn3X")
    assert hr.js_redirect(TCO_2022_LITERAL, BASE) == "https://bit.ly/3MPuAsi"
    assert hr.js_redirect(TCO_2013_LITERAL, BASE) == "http://bit.ly/XFwn3X"
    # the simulated web serves the same shapes
    t = "https://example.org/a"
    assert hr.js_redirect(TCO_2022.format(target=t, js=_js_escape(t)), BASE) == t
    assert hr.meta_refresh(TCO_2013.format(target=t, js=_js_escape(t)), BASE) == t


@pytest.mark.parametrize("tag,expected", [
    ('<meta http-equiv="refresh" content="0; url=/next">', "https://t.co/next"),
    ("<meta content='0;URL=\"https://e.org/x?a=1&amp;b=2\"' http-equiv='Refresh'>", "https://e.org/x?a=1&b=2"),
    ('<META HTTP-EQUIV=refresh CONTENT="5;https://e.org/y">', "https://e.org/y"),
    ('<meta http-equiv="refresh" content="https://e.org/z">', "https://e.org/z"),
    ('<meta http-equiv="refresh" content="300; url=https://e.org/reload">', None),  # a reload timer
    ('<meta http-equiv="refresh" content="0">', None),
    ('<meta http-equiv="refresh" content="0;url=javascript:alert(1)">', None),
    ('<meta name="description" content="0;url=https://e.org/">', None),
])
def test_meta_refresh_variants(tag, expected):
    assert hr.meta_refresh(f"<html><head>{tag}</head></html>", BASE) == expected


@pytest.mark.parametrize("script,expected", [
    ("window.location = 'https://e.org/a';", "https://e.org/a"),
    ('location.href="https:\\/\\/e.org\\/b?x=1\\u0026y=2"', "https://e.org/b?x=1&y=2"),
    ("document.location.replace('/c')", "https://t.co/c"),
    ("top.location.assign(\"https://e.org/d\")", "https://e.org/d"),
    ("var x = 1;", None),
])
def test_js_redirect_variants(script, expected):
    assert hr.js_redirect(f"<script>{script}</script>", BASE) == expected


def test_js_redirect_only_on_tiny_pages():
    page = "<script>location.replace('https://e.org/x')</script>" + "<p>text</p>" * 1000
    assert hr.js_redirect(page, BASE) is None
    assert hr.meta_refresh(page, BASE) is None


def test_unescape_js():
    assert hr.unescape_js(r"https:\/\/a.b\/c\x3dd\\e") == "https://a.b/c=d\\e"


def test_owly_continue_and_tinyurl_error():
    page = '<a href="https://x.org/no">no</a><a class="btn ignore" href="https://e.org/t">Continue</a>'
    assert hr.owly_continue(page, "http://ow.ly/abc") == "https://e.org/t"
    assert hr.owly_continue('<a class="btn" href="https://e.org/t">x</a>', "http://ow.ly/a") is None
    assert hr.is_tinyurl_error("http://tinyurl.com/errorb.php?url=abc&path=/abc")
    assert not hr.is_tinyurl_error("http://tinyurl.com/abc")


# ---- goo.gl -------------------------------------------------------------------------------

@pytest.mark.parametrize("url,expected", [
    ("https://www.google.com/sorry/index?continue=https://goo.gl/mMTrEZ&q=EgQ", True),  # S7 shape
    ("http://google.com/sorry/index?continue=x", True),
    ("https://ipv4.google.com/sorry/index?continue=x", True),
    ("https://www.google.co.uk/sorry/", True),
    ("https://www.google.de/sorry/index", True),
    ("http://127.0.0.1:5555/sorry/index?continue=http%3A%2F%2F127.0.0.1%2Fx&q=1", True),  # simulated
    ("http://localhost:5555/sorry/index/?continue=x", True),
    ("http://example.org/sorry", False),  # a site's own /sorry page
    ("http://example.org/sorry/index", False),  # no continue=: not the captcha shape
    ("https://notgoogle.com/sorry/index", False),
    ("https://google.com.evil.org/sorry", False),
    ("https://example.org/page?u=https://www.google.com/sorry/index", False),
    (None, False),
])
def test_is_sorry_url(url, expected):
    assert googl.is_sorry_url(url) is expected


def test_si_param_added_and_stripped():
    assert googl.with_si("https://goo.gl/mMTrEZ") == "https://goo.gl/mMTrEZ?si=1"
    assert googl.with_si("https://goo.gl/x?a=b%20c#f") == "https://goo.gl/x?a=b%20c&si=1"
    assert googl.with_si("https://goo.gl/x?si=0") == "https://goo.gl/x?si=1"
    assert googl.strip_own_params("https://goo.gl/x?si=1") == "https://goo.gl/x"
    assert googl.strip_own_params("https://e.org/p?a=1&d=1&si=1&z=%2F") == "https://e.org/p?a=1&z=%2F"
    assert googl.strip_own_params("https://e.org/p?si=2") == "https://e.org/p?si=2"


def test_interstitial_and_dead_pages():
    page = INTERSTITIAL_HTML.format(target="https://example.org/report.pdf")
    assert googl.is_interstitial(page) and googl.is_interstitial(page.encode())
    assert googl.interstitial_continue(page, "https://goo.gl/mMTrEZ") == "https://example.org/report.pdf"
    assert not googl.is_interstitial("<html>hello</html>")
    assert googl.dead_page_marker("<title>Dynamic Link Not Found</title>") == "dynamic link not found"
    assert googl.dead_page_marker(b"Sorry, this goo.gl shortlink has been disabled.") is not None
    assert googl.dead_page_marker("<html>fine</html>") is None


def test_parse_retry_after():
    now = datetime(2025, 10, 14, 22, 31, 25, tzinfo=timezone.utc)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Tue, 14 Oct 2025 22:33:25 GMT", now) == 120.0
    assert parse_retry_after("Tue, 14 Oct 2025 22:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None and parse_retry_after("") is None


# ---- classify: one answer, pure ------------------------------------------------------------

@dataclass
class FakeExchange:
    url: str
    status: int
    headers: CaseInsensitiveDict = field(default_factory=CaseInsensitiveDict)
    body: bytes = b""
    reason: str = ""


def ex(url, status, body=b"", **headers):
    return FakeExchange(url, status, CaseInsensitiveDict({k.replace("_", "-"): v for k, v in headers.items()}), body)


def test_classify_redirects():
    s = classify(ex("https://goo.gl/a", 302, location="/b"))
    assert (s.action, s.kind, s.next_url) == ("follow", "redirect", "https://goo.gl/b")
    s = classify(ex("https://goo.gl/a", 302, location="https://www.google.com/sorry/index?continue=x&q=1"))
    assert s.action == "ratelimited" and s.error_type == "rate_limited"
    s = classify(ex("https://tinyurl.com/a", 307, location="https://aff.example/w", x_tinyurl_target="https://e.org/"))
    assert s.next_url == "https://e.org/"
    s = classify(ex("https://bit.ly/a", 302, location="http://bit.ly/a/warning?hash=a&url=https%3A%2F%2Fe.org%2Fp"))
    assert s.next_url == "https://e.org/p"
    s = classify(ex("https://goo.gl/a", 304))  # not a redirect, not a known answer
    assert s.action == "fail"


def test_classify_only_the_shortener_decides_dead():
    assert classify(ex("https://goo.gl/a", 404)).action == "dead"
    assert classify(ex("https://goo.gl/a", 410)).action == "dead"
    assert classify(ex("https://goo.gl/a", 400)).action == "dead"
    s = classify(ex("https://bit.ly/a", 403))
    assert s.action == "fail" and s.error_type == "http_error"
    s = classify(ex("https://goo.gl/a", 200, b"<html><body>welcome</body></html>", content_type="text/html"))
    assert s.action == "fail" and s.error_type == "no_redirect"


def test_classify_pages():
    page = INTERSTITIAL_HTML.format(target="https://e.org/r").encode()
    s = classify(ex("https://goo.gl/a", 200, page, content_type="text/html"))
    assert (s.action, s.next_url) == ("interstitial", "https://e.org/r")
    pdf = b"%PDF-1.4 <script>location.replace('https://x.org/')</script>"  # not HTML: no JS redirect read
    s = classify(ex("https://goo.gl/f", 200, pdf, content_type="application/pdf"))
    assert (s.action, s.error_type) == ("fail", "no_redirect")
    self_refresh = b'<meta http-equiv="refresh" content="0;url=https://goo.gl/a">'  # refreshes to itself: no hop
    s = classify(ex("https://goo.gl/a", 200, self_refresh, content_type="text/html"))
    assert (s.action, s.error_type) == ("fail", "no_redirect")
