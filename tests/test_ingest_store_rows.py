"""What ingest stores is the parsed report, field for field, on both backends (PostgreSQL copies activities
and links with COPY and creates targets from arrays: text with tabs, backslashes, newlines and quotes,
missing dates and labels must come back exactly)."""
from __future__ import annotations

from sqlalchemy import select

from archiver.db.tables import Activity, Link, Target
from archiver.ingest import ingest_bytes, parse_report

REPORT = (
    "Report on odd text\n\n"
    "- On 1 May 2018 a tab\there, a backslash \\N and \\\\ two, quotes \"'\" and | pipes: https://goo.gl/Ab1\n"
    "- Undated work with no date at all https://example.org/a?b=1&c=%20 and <https://example.org/a?b=1&c=%20>\n"
    "- On 3 June 2019 Azərbaycan şəffaflıq, Cyrillic прозрачность: [the minutes](https://example.org/ü/min.pdf)\n"
    "- In 2020 again https://goo.gl/Ab1 and www.example.org/plain\n"
).encode("utf-8")


def test_stored_rows_are_the_parsed_report(Session, settings):
    parsed = parse_report(REPORT, "odd.md")
    result = ingest_bytes(Session, REPORT, "/tmp/odd.md", "file", settings)
    with Session() as s:
        acts = s.scalars(select(Activity).where(Activity.report_id == result.report_id).order_by(Activity.ordinal)).all()
        assert [(a.ordinal, a.text, a.date_start, a.date_end, a.date_text, a.date_precision, a.date_inferred)
                for a in acts] == [(p.ordinal, p.text, p.date.start, p.date.end, p.date.text, p.date.precision,
                                    p.date.inferred) for p in parsed.activities]
        assert [a.id for a in acts] == sorted(a.id for a in acts)  # ids follow the report's order
        links = {a.id: [(lk.position, lk.url_raw, lk.text_raw, lk.url_normalized, lk.target.url)
                        for lk in s.scalars(select(Link).where(Link.activity_id == a.id).order_by(Link.position))]
                 for a in acts}
        assert [links[a.id] for a in acts] == [
            [(i, cl.url_raw, cl.text_raw, cl.url_normalized, cl.url_normalized) for i, cl in enumerate(p.links)]
            for p in parsed.activities]
        targets = s.scalars(select(Target).order_by(Target.url)).all()
        assert sorted(t.url for t in targets) == sorted({cl.url_normalized for p in parsed.activities for cl in p.links})
        for t in targets:
            assert (t.status, t.stage, t.attempts, t.given_up, t.live_retries) == ("pending", "resolve", 0, False, 0)
            assert t.is_short == t.url.startswith("https://goo.gl/") and t.created_at is not None
    # the same report again under another name: its targets are reused, none duplicated
    again = ingest_bytes(Session, REPORT + b"- On 4 May 2021 new https://example.org/new\n", "/tmp/odd2.md",
                         "file", settings)
    with Session() as s:
        assert s.query(Target).count() == len(targets) + 1
        assert again.links == sum(len(p.links) for p in parsed.activities) + 1
