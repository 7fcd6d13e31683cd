"""A block whose only content is links (labels included) belongs to the activity above, in every format.

Issue 8 §5: in Markdown ``  - [minutes of the hearing](URL)`` under an activity bullet became an
activity of its own (13 activities instead of 12) and the link was lost from the activity it
evidences; long hyperlink labels did the same in DOCX, HTML and PDF, and ``Minutes: URL`` in text.
"""
from datetime import date

import pytest

from archiver.ingest import parse_report
from archiver.ingest.links import link_only
from tests.data.make_reports import Item, make_docx, make_html, make_md, make_pdf, make_txt

INTRO = "This is the intro paragraph of the report, which describes the platform and its members at some length."
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
ITEMS = [Item(f"On {d} {MONTHS[i]} 2017, the Platform held round-table number {i + 1} with state agencies.",
              [f"https://example.org/minutes/{i + 1}"] + ([f"https://goo.gl/Ab{i}x"] if i % 3 == 0 else []))
         for i, d in enumerate([3, 14, 9, 21, 5, 16, 30, 12, 7, 11, 28, 4])]
FORMATS = ["txt", "md", "html", "docx", "pdf"]
LABELS = ["minutes of the hearing", "Minutes", "minutes of the public hearing held in Baku with members"]


def _make(fmt: str, label: str | None) -> tuple[bytes, str]:
    if fmt == "txt":
        return make_txt("Test Report", INTRO, ITEMS, link_text=label).encode(), "r.txt"
    if fmt == "md":
        return make_md("Test Report", INTRO, ITEMS, link_text=label, sub_bullets=True).encode(), "r.md"
    if fmt == "html":
        return make_html("Test Report", INTRO, ITEMS, link_text=label, sub_bullets=True).encode(), "r.html"
    if fmt == "docx":
        return make_docx("Test Report", INTRO, ITEMS, link_text=label), "r.docx"
    return make_pdf("Test Report", INTRO, ITEMS, link_text=label), "r.pdf"


# plain text has no hyperlinks: its labels are a few words before a URL ("Minutes: URL"), so the
# long label (a sentence) is tried only where the format itself marks it as the link's label
CASES = [(fmt, label) for fmt in FORMATS for label in LABELS + [None]
         if not (fmt == "txt" and label and len(label.split()) > 6)]


@pytest.mark.parametrize("fmt, label", CASES)
def test_a_sub_bullet_holding_only_a_labelled_link_belongs_to_the_activity_above(fmt, label):
    parsed = parse_report(*_make(fmt, label))
    acts = parsed.activities
    assert parsed.format == fmt and len(acts) == 12, [a.text for a in acts]
    assert [[l.url_raw for l in a.links] for a in acts] == [item.urls for item in ITEMS]
    assert [a.date.start for a in acts] == [date(2017, i + 1, d) for i, d in
                                            enumerate([3, 14, 9, 21, 5, 16, 30, 12, 7, 11, 28, 4])]
    assert all(label not in a.text for a in acts if label)  # the label is not activity prose
    if label and fmt != "txt":  # the label is what the report showed for the link
        assert {l.text_raw for a in acts for l in a.links} == {label}


def test_the_markdown_case_from_the_issue():
    md = ("# Hearings\n\n" + INTRO + "\n\n"
          + "".join(f"- On {d} May 2018 the committee heard witness {d} on the budget.\n" for d in range(1, 12))
          + "- On 12 May 2018 the committee held its last hearing on the budget.\n"
            "  - [minutes of the hearing](https://example.org/minutes.pdf)\n"
            "  - <https://example.org/photos>\n").encode()
    acts = parse_report(md, "r.md").activities
    assert len(acts) == 12
    assert [(l.url_raw, l.text_raw) for l in acts[-1].links] == [
        ("https://example.org/minutes.pdf", "minutes of the hearing"),
        ("https://example.org/photos", "<https://example.org/photos>")]
    assert acts[-1].date.start == date(2018, 5, 12)


@pytest.mark.parametrize("fmt", ["md", "html"])
@pytest.mark.parametrize("a1, a2", [
    ("On 5 May 2018 the Platform met the Ministry of Justice", "On 7 June 2018 the Platform held a round table"),
    ("Annual report of the Platform on open budgets", "Monitoring report of the national action plan"),
])
def test_a_top_level_bullet_written_as_a_link_stays_an_activity(fmt, a1, a2):
    """A bullet at the activities' level that is entirely a labelled hyperlink is an activity (the
    report links the whole item), not a citation of the item above."""
    if fmt == "md":
        data = f"# R\n\n{INTRO}\n\n- [{a1}](https://example.org/a1)\n- [{a2}](https://example.org/a2)\n".encode()
    else:
        data = (f"<html><body><h1>R</h1><p>{INTRO}</p><ul><li><a href='https://example.org/a1'>{a1}</a></li>"
                f"<li><a href='https://example.org/a2'>{a2}</a></li></ul></body></html>").encode()
    acts = parse_report(data, f"r.{fmt}").activities
    assert [[l.url_raw for l in a.links] for a in acts] == [["https://example.org/a1"], ["https://example.org/a2"]]
    assert [a.text for a in acts] == [a1, a2] if fmt == "html" else [f"[{a1}](https://example.org/a1)",
                                                                     f"[{a2}](https://example.org/a2)"]


def test_a_plain_text_item_naming_its_link_is_an_activity():
    """``1. Something (URL).``: a first-level item with a label-like text is an activity."""
    acts = parse_report(b"1. Something (https://example.org/x).\n2. Other thing: https://example.org/y\n", "r.txt").activities
    assert [[l.url_raw for l in a.links] for a in acts] == [["https://example.org/x"], ["https://example.org/y"]]


@pytest.mark.parametrize("text, labels, kind", [
    ("<https://goo.gl/a>", (), "urls"),
    (" - https://goo.gl/a, https://goo.gl/b", (), "urls"),
    ("[minutes of the hearing](https://example.org/m)", (), "labelled"),
    ("[https://example.org/m](https://example.org/m)", (), "urls"),
    ("Minutes of the hearing: https://example.org/m", (), "labelled"),
    ("Photos (https://example.org/p)", (), "labelled"),
    ("minutes of the public hearing held in Baku", ("minutes of the public hearing held in Baku",), "labelled"),
    ("minutes, photos", ("minutes", "photos"), "labelled"),
    ("see https://goo.gl/a", (), None),
    ("see the minutes", ("minutes",), None),
    ("On 16 June 2018, a round-table on budget transparency was held ([photos](https://goo.gl/x)).", (), None),
    ("no link here", (), None),
])
def test_link_only(text, labels, kind):
    assert link_only(text, labels) == kind
