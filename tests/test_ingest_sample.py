"""The sample OGP report: every activity, every link on its activity, every date."""
from datetime import date

import pytest

from archiver.ingest import parse_report
from tests.conftest import SAMPLE_REPORT

G = "https://goo.gl/"
# (start of the text, links in order, date_start, date_end, precision, inferred, date_text)
EXPECTED = [
    ("Azerbaijan OGP Platform implemented", [], "2017-02-01", "2017-09-30", "month", False,
     "February – September, 2017"),  # only a project period: used because nothing better exists
    ("Relevant studies and assessments", [G + "mMTrEZ", G + "wMfTXZ"], None, None, None, False, None),
    ("NGO representatives", [G + "khnHU9"], "2017-05-22", "2017-05-22", "day", False, "22 May, 2017"),
    ("On 16 June 2017, proposals", [G + "D1bhWt"], "2017-06-16", "2017-06-16", "day", False, "16 June 2017"),
    ("On 30 June 2017, Round-table", [G + "uZMcW7"], "2017-06-30", "2017-06-30", "day", False, "30 June 2017"),
    ("Discussion on “Evaluation results", [G + "2bCQ1V"], "2017-07-05", "2017-07-05", "day", False, "05 July, 2017"),
    ("The Strategic Plan of the Open", [G + "SAkfQH", G + "E2i92C"], "2017-08-12", "2017-08-12", "day", False,
     "12 August, 2017"),
    ("Discussion on “The Strategic Road Map", [G + "fVmbmx"], "2017-07-07", "2017-07-07", "day", False,
     "07 July, 2017"),
    ("Discussions on “An annual report", [G + "zeJE4K"], "2017-07-11", "2017-07-11", "day", False, "11 July, 2017"),
    ("On July 28, 2018, the Platform", [G + "krhyvY"], "2018-07-28", "2018-07-28", "day", False, "July 28, 2018"),
    ("On 07 May 2018, discussion", [G + "RYCBTG"], "2018-05-07", "2018-05-07", "day", False, "07 May 2018"),
    ("Local-level Open Government Platform was", [G + "5fLes5"], None, None, None, False, None),
    ("Public discussion of draft law", [G + "CZexrf"], "2018-02-05", "2018-02-05", "day", False, "February 5, 2018"),
    ("In March and May, Platform held", [G + "ggxRDF"], "2018-03-01", "2018-03-31", "month", True, "March and May"),
    ("Public Debate, organized by", [G + "YkoxPS", G + "wpKXvr"], "2018-05-14", "2018-05-14", "day", True, "14 May"),
    ("On 07-10 May 2018, The Platform", [G + "61AQwg"], "2018-05-07", "2018-05-10", "day", False, "07-10 May 2018"),
    ("In May 2018, Open Government Platform", [], "2018-05-01", "2018-05-31", "month", False, "May 2018"),
    ("An Open Government Web site", ["http://strateq.az/layihe"], None, None, None, False, None),
    ("Platform prepared comments", [G + "BHKSZq"], None, None, None, False, None),  # "for 2016": a subject period
]


@pytest.fixture(scope="module")
def parsed():
    return parse_report(SAMPLE_REPORT.read_bytes(), SAMPLE_REPORT.name)


def test_counts(parsed):
    assert parsed.format == "txt"
    assert len(parsed.activities) == 19
    assert sum(len(a.links) for a in parsed.activities) == 20
    assert [a.ordinal for a in parsed.activities] == list(range(1, 20))


@pytest.mark.parametrize("n", range(19))
def test_each_activity_text_links_and_date(parsed, n):
    act = parsed.activities[n]
    start, links, d0, d1, precision, inferred, text = EXPECTED[n]
    assert act.text.startswith(start)
    assert [link.url_raw for link in act.links] == links
    assert [link.url_normalized for link in act.links] == links
    assert act.date.start == (date.fromisoformat(d0) if d0 else None)
    assert act.date.end == (date.fromisoformat(d1) if d1 else None)
    assert act.date.precision == precision
    assert act.date.inferred is inferred
    assert act.date.text == text


def test_breaks_mid_sentence_join_the_open_bullet(parsed):
    assert "has been heard in the discussions held with the participation" in parsed.activities[4].text
    assert "Local-level Open Government Platform focuses on" in parsed.activities[11].text
    assert not any(a.text.startswith(("discussions held", "Platform focuses")) for a in parsed.activities)


def test_link_lines_are_not_in_activity_text(parsed):
    assert all("goo.gl" not in a.text for a in parsed.activities)
    assert parsed.activities[1].links[0].text_raw == "<https://goo.gl/mMTrEZ>"


def test_header_is_metadata(parsed):
    assert parsed.title.startswith("Information on the Activity of the")
    assert parsed.meta["contacts"]["emails"] == ["office@ogp.org.az"]
    assert parsed.meta["contacts"]["phones"] == ["(+99412) 4925726"]
    assert parsed.meta["contacts"]["urls"] == ["www.ogp.org.az"]
    assert parsed.meta["intro"].startswith("The Government and Civil Society Dialogue Platform")
    assert not any("established in Azerbaijan on 9 September 2016" in a.text for a in parsed.activities)
