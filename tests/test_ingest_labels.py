"""Hyperlink labels (the text a report shows for a link) and DOCX / HTML activity tables."""
from datetime import date

import pytest

from archiver.ingest import parse_report
from archiver.ingest.links import cited_links
from tests.data.make_reports import Item, make_docx, make_docx_table, make_html, make_html_table, make_md, make_pdf

INTRO = "This is the intro paragraph of the report, which describes the platform and its members at some length."
ITEMS = [
    Item("On 16 June 2017, proposals for a favourable environment for NGO activities were discussed.",
         ["https://goo.gl/mMTrEZ", "https://goo.gl/wMfTXZ"]),
    Item("Public discussion of the draft law was held on February 5, 2018 with deputies.", ["https://goo.gl/CZexrf"]),
    Item("Platform prepared comments of the Annual Report for 2016.", []),
]
URLS = [["https://goo.gl/mMTrEZ", "https://goo.gl/wMfTXZ"], ["https://goo.gl/CZexrf"], []]


def _make(fmt: str, label: str | None) -> tuple[bytes, str]:
    if fmt == "pdf":
        return make_pdf("Test Report", INTRO, ITEMS, link_text=label), "r.pdf"
    if fmt == "docx":
        return make_docx("Test Report", INTRO, ITEMS, link_text=label), "r.docx"
    if fmt == "html":
        return make_html("Test Report", INTRO, ITEMS, link_text=label).encode(), "r.html"
    return make_md("Test Report", INTRO, ITEMS, link_text=label).encode(), "r.md"


@pytest.mark.parametrize("fmt", ["pdf", "docx", "html", "md"])
def test_a_hyperlink_label_becomes_text_raw(fmt):
    parsed = parse_report(*_make(fmt, "the minutes"))
    acts = parsed.activities
    assert parsed.format == fmt and len(acts) == 3
    assert [[l.url_raw for l in a.links] for a in acts] == URLS  # the URL stays the URL
    assert [[l.text_raw for l in a.links] for a in acts] == [["the minutes"] * 2, ["the minutes"], []]
    assert [a.date.start for a in acts] == [date(2017, 6, 16), date(2018, 2, 5), None]


@pytest.mark.parametrize("fmt", ["pdf", "docx", "html", "md"])
def test_a_link_showing_its_url_keeps_the_written_url_as_text_raw(fmt):
    acts = parse_report(*_make(fmt, None)).activities
    assert [[l.url_raw for l in a.links] for a in acts] == URLS
    for a in acts:
        for l in a.links:
            assert l.url_raw in l.text_raw  # "<https://...>" or the URL itself, not a label


def test_html_anchor_label_with_markup_and_whitespace():
    html = (b"<html><body><h1>R</h1><ul><li>On 1 May 2018 we met, see <a href='https://goo.gl/x1'>the\n"
            b"  <b>minutes</b></a> and <a href='https://goo.gl/x2'></a>.</li></ul></body></html>")
    links = parse_report(html, "r.html").activities[0].links
    assert [(l.url_raw, l.text_raw) for l in links] == [("https://goo.gl/x1", "the minutes"),
                                                      ("https://goo.gl/x2", None)]


def test_md_multiword_label():
    md = b"# R\n\n- On 1 May 2018 we met, see [the signed minutes](https://goo.gl/x1).\n"
    link = parse_report(md, "r.md").activities[0].links[0]
    assert (link.url_raw, link.text_raw) == ("https://goo.gl/x1", "the signed minutes")


def test_cited_links_labels_are_parallel_to_attached():
    out = cited_links("met, see https://goo.gl/a here", ["https://goo.gl/b", "https://goo.gl/a", "https://goo.gl/c"],
                      ["report", "https://goo.gl/a", "  "])
    assert [(l.url_raw, l.text_raw) for l in out] == [
        ("https://goo.gl/b", "report"), ("https://goo.gl/a", "https://goo.gl/a"), ("https://goo.gl/c", None)]
    assert cited_links("x", ["https://goo.gl/b"])[0].text_raw is None  # no labels given


@pytest.mark.parametrize("fmt", ["docx", "html"])
def test_table_rows_with_a_date_are_activities(fmt):
    args = ("Activity Report 2018", INTRO, ["Date", "Activity", "Evidence"], [
        ["16 June 2018", "Round-table on budget transparency with the Ministry of Finance",
         ("minutes", "https://goo.gl/TbOne1")],
        ["5 July 2018", "Training for journalists on open data", ("https://goo.gl/TbTwo2", "https://goo.gl/TbTwo2")],
    ])
    data = make_docx_table(*args) if fmt == "docx" else make_html_table(*args).encode()
    parsed = parse_report(data, f"table.{fmt}")
    assert parsed.format == fmt
    acts = parsed.activities
    assert len(acts) == 2
    assert [a.date.start for a in acts] == [date(2018, 6, 16), date(2018, 7, 5)]
    assert acts[0].text == "16 June 2018 | Round-table on budget transparency with the Ministry of Finance | minutes"
    assert [(l.url_raw, l.text_raw) for l in acts[0].links] == [("https://goo.gl/TbOne1", "minutes")]
    assert [(l.url_raw, l.text_raw) for l in acts[1].links] == [("https://goo.gl/TbTwo2", "https://goo.gl/TbTwo2")]
    # the header row is not an activity, nor is the closing paragraph glued onto the last row
    assert not any("Evidence" in a.text or "secretariat" in a.text for a in acts)
    assert "Date | Activity | Evidence" in parsed.meta["header"]
    assert parsed.title == "Activity Report 2018"


def test_docx_table_without_title_does_not_take_the_header_row_as_title():
    import io
    import docx
    from tests.data.make_reports import add_hyperlink
    d = docx.Document()
    t = d.add_table(rows=3, cols=2)
    for cell, text in zip(t.rows[0].cells, ["Date", "Activity"]):
        cell.text = text
    for row, (when, what, url) in zip(t.rows[1:], [("01.03.2019", "Meeting", "https://goo.gl/A1"),
                                                    ("02.03.2019", "Hearing", "https://goo.gl/A2")]):
        row.cells[0].text = when
        add_hyperlink(row.cells[1].paragraphs[0], url, what)
    buf = io.BytesIO()
    d.save(buf)
    parsed = parse_report(buf.getvalue(), "t.docx")
    assert [(a.date.start, [l.text_raw for l in a.links]) for a in parsed.activities] == [
        (date(2019, 3, 1), ["Meeting"]), (date(2019, 3, 2), ["Hearing"])]
    assert parsed.title is None


def _html_blocks(html: str, name: str = "r.html"):
    from archiver.ingest import html as html_reader
    return html_reader.read(html.encode(), name)


def test_html_row_is_one_block_with_anchor_labels_and_bare_urls():
    blocks = _html_blocks(
        "<html><body><table><tr><th>Date</th><th>What</th></tr>"
        "<tr><td>1 May 2018</td><td><p>Met <b>deputies</b>,</p><p>see https://goo.gl/bare1</p></td>"
        "<td><a href='/minutes.pdf'>the <i>minutes</i></a> <a href='mailto:x@y.org'>mail</a></td><td> </td></tr>"
        "</table></body></html>", "https://ngo.example.org/r/2018.html")
    rows = [b for b in blocks if b.kind == "row"]
    assert [r.text for r in rows] == ["Date | What", "1 May 2018 | Met deputies, see https://goo.gl/bare1 | the minutes mail"]
    assert rows[1].links == ("https://ngo.example.org/minutes.pdf",) and rows[1].link_labels == ("the minutes",)
    act = parse_report(b"<html><body><table><tr><td>1 May 2018</td><td>Met deputies, see https://goo.gl/bare1</td>"
                       b"<td><a href='https://goo.gl/an1'>minutes</a></td></tr></table></body></html>", "r.html"
                       ).activities[0]
    assert act.date.start == date(2018, 5, 1)
    assert sorted((l.url_raw, l.text_raw) for l in act.links) == [("https://goo.gl/an1", "minutes"),
                                                               ("https://goo.gl/bare1", "https://goo.gl/bare1")]


def test_html_nested_table_yields_its_innermost_rows():
    parsed = parse_report(
        b"<html><body><h1>Report 2019</h1><table><tr><td>Menu</td><td><p>Our activities:</p><table>"
        b"<tr><th>Date</th><th>Activity</th></tr>"
        b"<tr><td>01.03.2019</td><td><a href='https://goo.gl/N1'>Meeting with the ombudsman</a></td></tr>"
        b"<tr><td>02.03.2019</td><td><a href='https://goo.gl/N2'>Hearing in parliament</a></td></tr>"
        b"</table></td></tr></table></body></html>", "n.html")
    assert [(a.date.start, a.text, [(l.url_raw, l.text_raw) for l in a.links]) for a in parsed.activities] == [
        (date(2019, 3, 1), "01.03.2019 | Meeting with the ombudsman", [("https://goo.gl/N1", "Meeting with the ombudsman")]),
        (date(2019, 3, 2), "02.03.2019 | Hearing in parliament", [("https://goo.gl/N2", "Hearing in parliament")])]
    assert parsed.title == "Report 2019"


def test_html_page_laid_out_in_a_table_reads_as_before():
    """A whole page inside one layout cell reads like the same page without the table."""
    page = make_html("Test Report", INTRO, ITEMS, link_text="the minutes")
    body = page.split("<body>")[1].split("</body>")[0]
    laid_out = page.replace(body, f"<table><tr><td>Navigation</td><td>{body}</td></tr></table>")
    plain = parse_report(page.encode(), "r.html")
    boxed = parse_report(laid_out.encode(), "r.html")
    assert [(a.text, a.date, a.links) for a in boxed.activities] == [(a.text, a.date, a.links) for a in plain.activities]
    assert len(plain.activities) == 3 and boxed.title == plain.title == "Test Report"
    paras = "".join(f"<p>{i.text} <a href='{i.urls[0]}'>x</a></p>" for i in ITEMS[:2]) + "<p>intro</p><p>more</p>"
    assert not any(b.kind == "row" for b in _html_blocks(f"<table><tr><td>{paras}</td></tr></table>"))


def test_html_report_without_tables_has_no_rows():
    blocks = _html_blocks(make_html("Test Report", INTRO, ITEMS, link_text="the minutes"))
    assert [b.kind for b in blocks] == ["heading", "para", "bullet", "bullet", "bullet"]
    assert blocks[2].links == tuple(ITEMS[0].urls) and blocks[2].link_labels == ("the minutes",) * 2
