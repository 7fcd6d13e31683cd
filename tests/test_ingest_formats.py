"""Every reader: txt (Azerbaijani, Russian), md, html, pdf (reportlab), docx (python-docx)."""
from datetime import date
from pathlib import Path

import pytest

from archiver.errors import InputError
from archiver.ingest import detect_format, parse_report
from tests.data.make_reports import Item, make_docx, make_pdf

DATA = Path(__file__).parent / "data"
INTRO = "This is the intro paragraph of the report, which describes the platform and its members at some length."
ITEMS = [
    Item("On 16 June 2017, proposals for a favourable environment for NGO activities were prepared and "
         "discussed with representatives of state agencies and of the Parliament of the Republic.",
         ["https://goo.gl/mMTrEZ", "https://goo.gl/wMfTXZ"]),
    Item("On 30 June 2017, a round-table on the strategic road-map was held and the presentation of the "
         "Centre has been heard in the discussions held with the participation of state bodies.",
         ["https://example.org/reports/2017/annual-report-final.pdf"], split_url=True),
    Item("Public discussion of the draft law was held on February 5, 2018 with deputies.", ["https://goo.gl/CZexrf"]),
    Item("Public Debate on customs transparency was held in Baku on 14 May.", ["https://goo.gl/YkoxPS"]),
    Item("On 07-10 May 2018, the Platform hosted a workshop for journalists.", ["https://goo.gl/61AQwg"],
         split_url=True),
    Item("Platform prepared comments of the Annual Report for 2016.", []),
]


def _check_items(parsed):
    acts = parsed.activities
    assert len(acts) == 6
    assert [[l.url_normalized for l in a.links] for a in acts] == [
        ["https://goo.gl/mMTrEZ", "https://goo.gl/wMfTXZ"],
        ["https://example.org/reports/2017/annual-report-final.pdf"],
        ["https://goo.gl/CZexrf"], ["https://goo.gl/YkoxPS"], ["https://goo.gl/61AQwg"], []]
    assert acts[1].text.endswith("participation of state bodies.")
    assert [a.date.start for a in acts] == [date(2017, 6, 16), date(2017, 6, 30), date(2018, 2, 5),
                                            date(2018, 5, 14), date(2018, 5, 7), None]
    assert acts[3].date.inferred and acts[4].date.end == date(2018, 5, 10)
    assert parsed.title == "Test Report"
    assert not any(INTRO[:20] in a.text for a in acts)


def test_pdf_annotations_split_url_and_page_break():
    data = make_pdf("Test Report", INTRO, ITEMS, page_break_inside=2)
    parsed = parse_report(data, "report.pdf")
    assert parsed.format == "pdf"
    _check_items(parsed)
    # the split URL was rejoined into one link, not two
    assert parsed.activities[1].links[0].url_raw == "https://example.org/reports/2017/annual-report-final.pdf"


def test_pdf_link_only_in_annotation_is_kept():
    """An annotation whose visible text is a label still gives its URL."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas
    import io
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    c.drawString(60, 780, "Report")
    c.drawString(60, 740, "- On 16 June 2017, a meeting was held (minutes).")
    c.linkURL("https://goo.gl/Minutes1", (300, 738, 350, 750), relative=0)
    c.drawString(60, 700, "- On 17 June 2017, a second meeting was held.")
    c.save()
    parsed = parse_report(buf.getvalue(), "x.pdf")
    assert [[l.url_raw for l in a.links] for a in parsed.activities] == [["https://goo.gl/Minutes1"], []]
    assert parsed.activities[0].links[0].text_raw is None  # the label is part of a longer string: not measured


def test_docx_hyperlinks_bullets_and_page_break():
    data = make_docx("Test Report", INTRO, ITEMS, page_break_inside=2)
    parsed = parse_report(data, "report.docx")
    assert parsed.format == "docx"
    _check_items(parsed)
    assert parsed.meta["contacts"]["emails"] == ["office@example.org"]


def test_docx_hyperlink_with_a_label_is_a_link_not_an_activity():
    data = make_docx("Test Report", INTRO, ITEMS, link_text="link")
    parsed = parse_report(data, "report.docx")
    _check_items(parsed)
    assert parsed.activities[0].links[0].text_raw == "link"  # the URL is only in the relationship: the label shows


def test_docx_numbered_paragraphs_via_numpr_are_bullets():
    import io
    import docx
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    d = docx.Document()
    d.add_paragraph("Report title")
    for text in ("On 1 March 2019 first event.", "On 2 March 2019 second event."):
        p = d.add_paragraph(text)
        numpr = OxmlElement("w:numPr")
        for tag, val in (("w:ilvl", "0"), ("w:numId", "1")):
            el = OxmlElement(tag)
            el.set(qn("w:val"), val)
            numpr.append(el)
        p._p.get_or_add_pPr().append(numpr)
    d.add_paragraph("A closing paragraph that is long enough to be more than a heading, surely, yes.")
    buf = io.BytesIO()
    d.save(buf)
    parsed = parse_report(buf.getvalue(), "n.docx")
    assert [a.date.start for a in parsed.activities][:2] == [date(2019, 3, 1), date(2019, 3, 2)]
    assert parsed.title == "Report title"


def test_html():
    parsed = parse_report((DATA / "report.html").read_bytes(), "report.html")
    assert parsed.format == "html" and parsed.title == "Activity Report 2017"
    acts = parsed.activities
    assert len(acts) == 3
    assert [[l.url_raw for l in a.links] for a in acts] == [
        ["https://goo.gl/HtOne1"], ["https://goo.gl/HtTwo2", "https://goo.gl/HtThree3"], []]
    assert [a.date.start for a in acts] == [date(2017, 5, 22), date(2017, 7, 5), date(2017, 8, 12)]
    assert "evil.example" not in str(parsed)  # script content is not text


def test_html_relative_links_resolve_against_the_report_url():
    parsed = parse_report((DATA / "report.html").read_bytes(), "https://ngo.example.org/reports/2017.html")
    assert [l.url_raw for l in parsed.activities[2].links] == ["https://ngo.example.org/plan.pdf"]


def test_markdown():
    parsed = parse_report((DATA / "report.md").read_bytes(), "report.md")
    assert parsed.format == "md" and parsed.title == "Annual Activity Report 2018"
    acts = parsed.activities
    assert [[l.url_raw for l in a.links] for a in acts] == [
        ["https://goo.gl/MdOne1"],
        ["https://example.org/report.pdf", "https://goo.gl/MdTwo2"],
        ["https://example.org/a_(b)", "https://goo.gl/MdOne1"],
        ["https://example.org/eiti/2018/comments.pdf"],  # wrapped after "/" and rejoined
    ]
    assert acts[0].links[0].text_raw == "photos"  # a markdown link's label
    assert [a.date.start for a in acts] == [date(2018, 6, 16), date(2018, 7, 28), None, date(2018, 5, 1)]
    assert parsed.meta["sections"] == ["Publications"]


def test_azerbaijani():
    parsed = parse_report((DATA / "report-az.txt").read_bytes(), "report-az.txt")
    acts = parsed.activities
    assert parsed.title == "Azərbaycan Açıq Hökumət Platforması"
    assert [(a.date.start, a.date.end, a.date.precision, a.date.inferred) for a in acts] == [
        (date(2017, 6, 16), date(2017, 6, 16), "day", False),
        (date(2018, 2, 5), date(2018, 2, 5), "day", False),
        (date(2018, 3, 1), date(2018, 3, 31), "month", True),
        (date(2018, 7, 12), date(2018, 7, 12), "day", False)]
    assert acts[0].date.text == "16 iyun 2017-ci il"
    assert [l.url_raw for a in acts for l in a.links] == [
        "https://goo.gl/AzOne1", "https://goo.gl/AzTwo2", "https://goo.gl/AzThree3", "https://example.az/hesabat?il=2018"]


def test_russian():
    parsed = parse_report((DATA / "report-ru.txt").read_bytes(), "report-ru.txt")
    acts = parsed.activities
    assert [(a.date.start, a.date.end, a.date.text, a.date.inferred) for a in acts] == [
        (date(2017, 6, 16), date(2017, 6, 16), "16 июня 2017 г.", False),
        (date(2018, 5, 1), date(2018, 5, 31), "мае 2018 года", False),
        (date(2018, 5, 7), date(2018, 5, 10), "07-10 мая 2018 г.", False),
        (date(2018, 3, 1), date(2018, 3, 31), "марте и мае", True)]
    assert acts[2].links[0].url_raw == "https://ru.wikipedia.org/wiki/Баку_(город)"
    assert acts[2].links[0].url_normalized.startswith("https://ru.wikipedia.org/wiki/%D0%91")


def test_cp1251_text_is_decoded():
    data = (DATA / "report-ru.txt").read_text(encoding="utf-8").encode("cp1251", errors="replace")
    parsed = parse_report(data, "report-ru.txt")
    assert parsed.activities[0].date.start == date(2017, 6, 16)


def test_paragraph_document_without_bullets():
    text = ("Quarterly report\n\n"
            "This introduction explains who we are and what the platform does, for readers who do not know it yet.\n\n"
            "On 3 March 2019 the Platform met the Ministry. The minutes are at https://goo.gl/Par1.\n\n"
            "A second meeting took place on 4 April 2019 and was broadcast: https://goo.gl/Par2\n")
    parsed = parse_report(text.encode(), "q.txt")
    assert [a.date.start for a in parsed.activities] == [date(2019, 3, 3), date(2019, 4, 4)]
    assert parsed.meta["intro"].startswith("This introduction")
    assert parsed.title == "Quarterly report"


@pytest.mark.parametrize("data, name, fmt", [
    (b"%PDF-1.4 ...", "report.txt", "pdf"),  # content wins over a wrong extension
    (b"<!DOCTYPE html><html><body><p>x</p></body></html>", "report", "html"),
    (b"<p>a</p><ul><li>b</li></ul><a href='x'>y</a>", "report.txt", "html"),
    (b"# Title\n\n- item", "noext", "md"),
    (b"- item https://x.org", "r.markdown", "md"),
    (b"plain text", "r.dat", "txt"),
])
def test_sniffing(data, name, fmt):
    assert detect_format(data, name) == fmt


def test_docx_sniffed_without_extension():
    data = make_docx("Test Report", INTRO, ITEMS[:1])
    assert detect_format(data, "download") == "docx"


@pytest.mark.parametrize("data, name, words", [
    (b"", "e.txt", "empty"),
    (b"   \n\n", "e.txt", "empty"),
    (b"\x00\x01\x02\xff\xfe" * 100, "junk.txt", "binary"),
    (b"hello, not a docx", "r.docx", "not a DOCX"),
    (b"PK\x03\x04garbage", "r.docx", "zip"),
    (b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF", "r.pdf", "PDF"),
    (b"Title only\n", "t.txt", "no activities"),
])
def test_bad_input(data, name, words):
    with pytest.raises(InputError) as exc:
        parse_report(data, name)
    assert words in str(exc.value) and "\n" not in str(exc.value)


def test_encrypted_pdf():
    data = make_pdf("Test Report", INTRO, ITEMS[:1], encrypt="secret")
    with pytest.raises(InputError, match="encrypted"):
        parse_report(data, "locked.pdf")


def test_pdf_encrypted_with_empty_user_password_is_read():
    from reportlab.lib import pdfencrypt
    enc = pdfencrypt.StandardEncryption("", ownerPassword="owner", canPrint=1)
    data = make_pdf("Test Report", INTRO, ITEMS, encrypt=enc)
    _check_items(parse_report(data, "open.pdf"))


def test_absurdly_nested_html_is_one_line_error_or_read():
    data = b"<html><body>" + b"<div>" * 5000 + b"<ul><li>On 1 May 2018 x https://goo.gl/deep</li></ul>" + b"</div>" * 5000
    try:
        parsed = parse_report(data, "deep.html")
    except InputError as exc:
        assert "\n" not in str(exc)
    else:
        assert parsed.activities[0].links[0].url_raw == "https://goo.gl/deep"
