"""`archiver export` holds rows, not every text: the summary uses titles, so no extracted text is read, the
scope is a subquery (no list of ids as parameters), and summary.json/html are written as they are made
(issue 10: a 20 000-link export reached 918 MB)."""
from __future__ import annotations

import json
import zipfile
from html import escape

import pytest
from sqlalchemy import Engine, event

from archiver.export import evidence
from tests.evidence_fixtures import build_evidence


@pytest.fixture
def statements():
    seen: list[tuple[str, int]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, len(parameters or ())))

    event.listen(Engine, "before_cursor_execute", record)
    yield seen
    event.remove(Engine, "before_cursor_execute", record)


def test_export_reads_titles_not_texts_and_binds_no_list_of_ids(cli, Session, settings, tmp_path, statements,
                                                                 monkeypatch):
    ev = build_evidence(Session, settings.storage.root)
    monkeypatch.setattr(evidence, "BATCH", 1)  # every activity in a batch of its own
    monkeypatch.setattr(evidence, "IDS_PER_QUERY", 2)
    statements.clear()
    out = tmp_path / "r.wacz"
    r = cli("export", "--report", ev.report_id, "-o", out, "--json")
    assert r.code == 0, r.err
    assert not [s for s, _ in statements if "extractions.text" in s]
    # a few ids of the requisite/revisit closure at a time, the report's id, a batch size: never one per row
    assert max(n for _, n in statements) <= 4 < len(summary_records(out))
    with zipfile.ZipFile(out) as zf:
        summary = json.loads(zf.read("evidence/summary.json"))
        html = zf.read("evidence/summary.html").decode()
    assert [a["ordinal"] for a in summary["activities"]] == sorted(a["ordinal"] for a in summary["activities"])
    assert len(summary["activities"]) >= 2 and all(f"Activity {a['ordinal']}" in html for a in summary["activities"])
    titled = [rec for rec in summary["records"] if rec["title"]]
    assert titled and all(escape(rec["title"]) in html for rec in titled)


def summary_records(out) -> list:
    with zipfile.ZipFile(out) as zf:
        return json.loads(zf.read("evidence/summary.json"))["records"]
