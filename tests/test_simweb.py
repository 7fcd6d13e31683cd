"""The simulated web: deterministic content, the goo.gl imitation per reference §1.3, valid files."""
from __future__ import annotations

import io
import re

import pytest
import requests
from pypdf import PdfReader

from archiver.simweb import DEFAULT_CODES, GOOGL_404_HEADERS, SimWeb


@pytest.fixture(scope="module")
def web():
    with SimWeb() as w:
        yield w


def get(url, **kw):
    return requests.get(url, allow_redirects=False, timeout=5, **kw)


def test_googl_states_per_reference(web):
    target = web.site_url + "/reports/open-budget.html"
    r = get(web.short("mMTrEZ"))
    assert (r.status_code, r.headers["Location"], r.content) == (302, target, b"")
    r = get(web.short("wMfTXZ"))
    assert r.status_code == 200 and "This link will no longer work in the near future" in r.text
    r = get(web.short("wMfTXZ") + "?si=1")
    assert r.status_code == 302 and r.headers["Location"].endswith("/az/xeberler.html")
    assert get(web.short("Bn4nEd")).status_code == 400
    assert get(web.short("Bn4nEd") + "?si=1").status_code == 400
    assert "is disallowed." in get(web.short("Bn4nEd") + "?d=1").text
    assert get(web.short("zzzzzz") + "?d=1").status_code == 404
    assert get(web.short("zzzzzz")).status_code == 404


def test_deactivated_has_the_s4_headers(web):
    r = requests.head(web.short("Qz7RtY"), timeout=5)
    assert r.status_code == 404 and r.headers["Content-Length"] == "0"
    for name, value in GOOGL_404_HEADERS:
        assert r.headers[name] == value
    r = get(web.short("Qz7RtY"))
    assert r.status_code == 404 and r.headers["cache-control"].startswith("no-cache")


def test_ratelimit_redirects_to_the_sorry_page_then_stops(web):
    web.ratelimit(1)
    r = get(web.short("mMTrEZ"))
    assert r.status_code == 302 and re.search(r"/sorry/index\?continue=[^&]+&q=", r.headers["Location"])
    assert get(r.headers["Location"]).status_code == 429
    assert get(web.short("mMTrEZ")).status_code == 302
    assert "/sorry/" not in get(web.short("mMTrEZ")).headers["Location"]


def test_429_then_ok(web):
    web.set_code("busy", "429", web.site_url + "/", retry_after="7", ok_after=2)
    answers = [get(web.short("busy")) for _ in range(3)]
    assert [a.status_code for a in answers] == [429, 429, 302]
    assert answers[0].headers["Retry-After"] == "7"


def test_tco_lowercase_location_and_browser_page(web):
    web.set_code("tc", "live", "https://example.org/a", service="tco")
    raw = requests.get(web.short("tc", "tco"), allow_redirects=False, stream=True, timeout=5)
    assert "location" in dict(raw.raw._original_response.msg.items())  # sent lower-case, as t.co does
    page = get(web.short("tc", "tco"), headers={"User-Agent": "Mozilla/5.0"})
    assert page.status_code == 200 and 'location.replace("https:\\/\\/example.org\\/a")' in page.text


def test_site_pages_and_requisites(web):
    html = get(web.site_url + "/reports/open-budget.html").text
    for ref in ("/static/logo.png", "/static/style.css", "/static/app.js"):
        assert ref in html and get(web.site_url + ref).status_code == 200
    css = get(web.site_url + "/static/style.css").text
    for ref in re.findall(r"url\(\"?([^\")]+)", css):
        assert get(web.site_url + ref).status_code == 200
    png = get(web.site_url + "/static/logo.png").content
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and b"IEND" in png
    az = get(web.site_url + "/az/xeberler.html")
    assert 'lang="az"' in az.text and "Açıq Hökumət" in az.content.decode("utf-8")
    assert get(web.site_url + "/gone").status_code == 404
    assert get(web.site_url + "/broken").status_code == 500
    assert get(web.site_url + "/moved").headers["Location"] == "/reports/open-budget.html"


def test_pdf_is_valid_with_text(web):
    r = get(web.site_url + "/docs/action-plan.pdf")
    assert r.headers["Content-Type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(r.content), strict=True)
    text = reader.pages[0].extract_text()
    assert "National Action Plan" in text and "30 June 2017" in text


def test_deterministic_across_instances():
    paths = ["/reports/open-budget.html", "/az/xeberler.html", "/docs/action-plan.pdf", "/static/style.css"]
    bodies = []
    for _ in range(2):
        with SimWeb() as w:
            bodies.append([get(w.site_url + p).content for p in paths])
            report = w.report_text().replace(w.shortener_url, "G").replace(w.url("bitly"), "B")
            bodies[-1].append(report)
    assert bodies[0] == bodies[1]


def test_report_cites_every_default_code(web):
    text = web.report_text()
    for code, _, _ in DEFAULT_CODES:
        assert f"<{web.short(code)}>" in text
    assert re.search(r"On 16 June 2017", text)
    assert all(h.startswith("127.0.0.1:") for h in web.shortener_hosts) and len(web.shortener_hosts) == 6
    assert web.site_url.split("//")[1] not in web.shortener_hosts


def test_report_text_ingests_into_dated_activities(web):
    from archiver.ingest import parse_report

    parsed = parse_report(web.report_text().encode("utf-8"), "demo.txt")
    links = [link.url_normalized for a in parsed.activities for link in a.links]
    assert web.short("mMTrEZ") in links and web.short("2kTq9Zb", "bitly") in links
    assert all(a.date.start is not None for a in parsed.activities)


def test_archive_speaks_the_ia_dialect(web):
    from archiver.resolve.cdx import parse_cdx, short_link_candidates

    extra = web.resolver_extra()["archives"][0]
    short = web.short("Qz7RtY")
    r = get(extra["cdx_url"], params={"url": short.split("://")[1], "matchType": "prefix", "output": "json",
                                      "fl": "timestamp,original,statuscode"})
    data = r.json()
    assert data[0] == ["timestamp", "original", "statuscode"] and data[1] == ["20170702103000", short, "301"]
    rows = short_link_candidates(parse_cdx(r.content), short)
    assert [row.timestamp for row in rows] == ["20170702103000"]
    replay = get(extra["replay_url"].format(timestamp="20170702103000", url=short))
    assert replay.status_code == 301 and replay.headers["Memento-Datetime"] == "Sun, 02 Jul 2017 10:30:00 GMT"
    assert replay.headers["Location"].endswith("id_/" + web.site_url + "/az/xeberler.html")
    assert get(extra["cdx_url"], params={"url": "nothing.example/x", "output": "json"}).json() == []
    assert get(extra["replay_url"].format(timestamp="20200101000000", url=short)).status_code == 404
    gone = get(extra["replay_url"].format(timestamp="20170705120000", url=web.site_url + "/gone"))
    assert gone.status_code == 200 and b"preserved by a web archive" in gone.content
