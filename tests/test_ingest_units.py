"""links.py and dates.py: finding, stripping, normalising URLs; locating and choosing dates."""
from datetime import date

import pytest

from archiver.ingest import dates, links


# ---- links ------------------------------------------------------------------------------

@pytest.mark.parametrize("text, raw", [
    ("see <https://goo.gl/mMTrEZ>.", "https://goo.gl/mMTrEZ"),
    ("see https://goo.gl/mMTrEZ.", "https://goo.gl/mMTrEZ"),
    ("(https://goo.gl/abc), and", "https://goo.gl/abc"),
    ("“https://example.org/a”", "https://example.org/a"),
    ("'https://example.org/a';", "https://example.org/a"),
    ("https://en.wikipedia.org/wiki/Baku_(city).", "https://en.wikipedia.org/wiki/Baku_(city)"),
    ("(see https://en.wikipedia.org/wiki/Baku_(city))", "https://en.wikipedia.org/wiki/Baku_(city)"),
    ("[the report](https://example.org/r.pdf)", "https://example.org/r.pdf"),
    ("at www.ogp.org.az,", "www.ogp.org.az"),
    ("https://example.org/x?a=1&b=2:", "https://example.org/x?a=1&b=2"),
    ("{https://example.org/}", "https://example.org/"),
])
def test_found_and_trailing_punctuation_stripped(text, raw):
    [found] = links.find(text)
    assert found.url_raw == raw
    assert raw in found.text_raw and found.text_raw in text


def test_text_raw_keeps_the_token_as_it_stood():
    [f] = links.find("held on 5 May <https://goo.gl/x1>. Next")
    assert f.text_raw == "<https://goo.gl/x1>."


def test_email_is_not_a_link():
    assert links.find("E-mail: office@ogp.org.az tel") == []


@pytest.mark.parametrize("url, norm", [
    ("HTTPS://GOO.GL/mMTrEZ", "https://goo.gl/mMTrEZ"),  # path case kept: goo.gl codes are case-sensitive
    ("https://goo.gl:443/mMTrEZ#top", "https://goo.gl/mMTrEZ"),
    ("http://Example.ORG:80", "http://example.org/"),
    ("http://example.org:8080/A", "http://example.org:8080/A"),
    ("www.ogp.org.az", "http://www.ogp.org.az/"),
    ("https://ru.wikipedia.org/wiki/Баку", "https://ru.wikipedia.org/wiki/%D0%91%D0%B0%D0%BA%D1%83"),
    ("https://example.org/a?q=1#frag", "https://example.org/a?q=1"),
])
def test_normalize(url, norm):
    assert links.normalize(url) == norm


def test_is_short_by_host_or_host_port():
    assert links.is_short("https://goo.gl/x", ["goo.gl"])
    assert links.is_short("http://127.0.0.1:8123/x", ["127.0.0.1:8123"])
    assert not links.is_short("http://127.0.0.1:9999/x", ["127.0.0.1:8123"])
    assert not links.is_short("https://example.org/x", ["goo.gl"])


def test_same_url_twice_is_two_links():
    cited = links.cited_links("see https://goo.gl/a and again https://goo.gl/a")
    assert [c.url_raw for c in cited] == ["https://goo.gl/a", "https://goo.gl/a"]


def test_attached_links_merge_with_written_ones_in_order():
    cited = links.cited_links("first https://goo.gl/X then text",
                              ["https://z.org/1", "https://goo.gl/X", "https://y.org/2"])
    assert [c.url_raw for c in cited] == ["https://z.org/1", "https://goo.gl/X", "https://y.org/2"]
    assert [c.text_raw for c in cited] == [None, "https://goo.gl/X", None]


@pytest.mark.parametrize("text, only", [
    (" - <https://goo.gl/mMTrEZ>", True),
    ("<https://goo.gl/a> <https://goo.gl/b>", True),
    ("https://goo.gl/a,", True),
    ("see https://goo.gl/a", False),
    ("no link here", False),
])
def test_is_link_only(text, only):
    assert links.is_link_only(text) is only


def test_urls_wrapped_across_lines_are_rejoined():
    known = ["https://example.org/reports/2017/final.pdf"]
    assert links.join_lines(["see https://example.org/reports/2017/fi", "nal.pdf now"], known) \
        == "see https://example.org/reports/2017/final.pdf now"
    # without annotations: heuristics
    assert links.join_lines(["see https://goo.gl/mMT", "rEZ now"]) == "see https://goo.gl/mMTrEZ now"
    assert links.join_lines(["at https://example.org/reports/", "2017/a.pdf"]) == "at https://example.org/reports/2017/a.pdf"
    assert links.join_lines(["<https://goo.gl/mM", "TrEZ>"]) == "<https://goo.gl/mMTrEZ>"
    # not a continuation
    assert links.join_lines(["see https://example.org/a", "discussions held"]) == "see https://example.org/a discussions held"
    assert links.join_lines(["see https://goo.gl/a.", "2. Next"]) == "see https://goo.gl/a. 2. Next"
    assert links.join_lines(["<https://goo.gl/a>", "<https://goo.gl/b>"]) == "<https://goo.gl/a> <https://goo.gl/b>"


# ---- dates ------------------------------------------------------------------------------

def _one(text):
    f = dates.choose(dates.find_dates(text))
    return None if f is None else (f.resolve(2000) if f.year is None else f.resolve())


@pytest.mark.parametrize("text, start, end, precision, written", [
    ("On 16 June 2017, x", "2017-06-16", "2017-06-16", "day", "16 June 2017"),
    ("held on 05 July, 2017. x", "2017-07-05", "2017-07-05", "day", "05 July, 2017"),
    ("On July 28, 2018, the", "2018-07-28", "2018-07-28", "day", "July 28, 2018"),
    ("was held on February 5, 2018. It", "2018-02-05", "2018-02-05", "day", "February 5, 2018"),
    ("On 07-10 May 2018, The", "2018-05-07", "2018-05-10", "day", "07-10 May 2018"),
    ("In May 2018, Open", "2018-05-01", "2018-05-31", "month", "May 2018"),
    ("In February 2016, x", "2016-02-01", "2016-02-29", "month", "February 2016"),
    ("16 iyun 2017-ci il tarixində", "2017-06-16", "2017-06-16", "day", "16 iyun 2017-ci il"),
    ("5 fevral 2018 tarixində", "2018-02-05", "2018-02-05", "day", "5 fevral 2018"),
    ("2018-ci il 12 iyul tarixində", "2018-07-12", "2018-07-12", "day", "2018-ci il 12 iyul"),
    ("16 июня 2017 г. подготовлены", "2017-06-16", "2017-06-16", "day", "16 июня 2017 г."),
    ("в мае 2018 года Платформа", "2018-05-01", "2018-05-31", "month", "мае 2018 года"),
    ("07-10 мая 2018 г. семинар", "2018-05-07", "2018-05-10", "day", "07-10 мая 2018 г."),
    ("meeting 16.06.2017 in Baku", "2017-06-16", "2017-06-16", "day", "16.06.2017"),
    ("In 2017, the Platform", "2017-01-01", "2017-12-31", "year", "In 2017"),
    ("Платформа в 2017 году провела", "2017-01-01", "2017-12-31", "year", "в 2017 году"),
    ("Platforma 2017-ci ildə yaradılıb", "2017-01-01", "2017-12-31", "year", "2017-ci ildə"),
    ("during February – September, 2017.", "2017-02-01", "2017-09-30", "month", "February – September, 2017"),
])
def test_date_expressions(text, start, end, precision, written):
    d = _one(text)
    assert (d.start, d.end, d.precision, d.text) == (date.fromisoformat(start), date.fromisoformat(end),
                                                    precision, written)


@pytest.mark.parametrize("text", [
    "National Action Plan for the Promotion of the Open Government (2016-2018) during the project",
    "The Strategic Plan covers the period 2017-2020 years",
    "Open Government in 2016-2018 supported by",
    "Annual Report for 2016.",
    "The Platform may hold a meeting",  # lower-case English "may" is a verb
    "in 12 directions, 19 round-tables and 13 forums",
    "on 31 June 2017",  # no such day
])
def test_not_dates(text):
    assert _one(text) is None


def test_first_event_date_wins_over_later_dates_and_periods():
    d = _one("During 2017, on 07 May 2018 a discussion; next on 17 May 2018")
    assert d.start == date(2018, 5, 7)
    d = _one("The plan for 2017-2020 years was submitted on 12 August, 2017")
    assert d.start == date(2017, 8, 12)
    d = _one("project during February – September, 2017; round-table on 30 June 2017")
    assert d.start == date(2017, 6, 30) and d.precision == "day"


def test_year_inference_from_neighbours():
    texts = ["On 5 February 2018 x.", "In March and May y.", "on 14 May z.", "On 07-10 May 2018 w."]
    got = dates.activity_dates(texts)
    assert [(d.start, d.end, d.inferred) for d in got[1:3]] == [
        (date(2018, 3, 1), date(2018, 3, 31), True), (date(2018, 5, 14), date(2018, 5, 14), True)]
    assert got[0].inferred is False


def test_year_inference_needs_agreeing_neighbours():
    got = dates.activity_dates(["On 5 June 2017 x.", "on 14 May y.", "On 7 May 2018 z."])
    assert got[1].start is None and got[1].text is None
    # at the start of a report: the two nearest after it must agree
    got = dates.activity_dates(["on 14 May y.", "On 5 June 2018 x.", "On 7 May 2018 z."])
    assert got[0].start == date(2018, 5, 14) and got[0].inferred
    got = dates.activity_dates(["on 14 May y.", "On 5 June 2018 x."])
    assert got[0].start is None


def test_inferred_neighbours_do_not_count():
    got = dates.activity_dates(["On 5 June 2017 x.", "on 14 May y.", "on 15 May y.", "On 7 May 2017 z."])
    assert [d.start for d in got[1:3]] == [date(2017, 5, 14), date(2017, 5, 15)]
