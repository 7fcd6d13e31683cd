"""Long listings: `activities`, `status` and `health` page by default, stream --json as one document, and never
bind one parameter per row (issues 9 and 10)."""
from __future__ import annotations

import io
import json
import sqlite3

import pytest
from sqlalchemy import Engine, event

from archiver.cli.output import emit_json_stream
from archiver.db import pages, session as db_session
from tests.bigdb import build

LINKS, ACTS = 300, 20  # 20 activities of 10 links, one citing the other 100; 300 targets


@pytest.fixture
def big(cli, engine):
    return build(engine, links=LINKS, activities=ACTS)


@pytest.fixture
def few_variables(monkeypatch, db_url):
    """SQLite connections the CLI opens accept at most 100 bound parameters (fewer than the rows listed; on
    PostgreSQL the test still checks the parameter lists through ``binds``)."""
    plain = db_session._sqlite_pragmas

    def limited(dbapi_conn, record):
        plain(dbapi_conn, record)
        dbapi_conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 100)

    monkeypatch.setattr(db_session, "_sqlite_pragmas", limited)


@pytest.fixture
def binds():
    """The largest parameter list of any statement any engine runs meanwhile."""
    seen = [0]

    def count(conn, cursor, statement, parameters, context, executemany):
        seen[0] = max(seen[0], len(parameters or ()))

    event.listen(Engine, "before_cursor_execute", count)
    yield seen
    event.remove(Engine, "before_cursor_execute", count)


def test_streamed_json_is_one_document_with_each_row_on_a_line():
    doc = {"a": 1, "rows": iter([{"x": [1, {"y": None}], "t": "ğ\n\"q\""}, {"z": iter([1, 2])}]), "none": iter(()),
           "nested": {"n": iter([{}])}, "plain": [1, 2]}
    out = io.StringIO()
    emit_json_stream(doc, out)
    expect = {"a": 1, "rows": [{"x": [1, {"y": None}], "t": "ğ\n\"q\""}, {"z": [1, 2]}], "none": [],
              "nested": {"n": [{}]}, "plain": [1, 2]}
    assert json.loads(out.getvalue()) == expect
    assert '\n    {"x": [1, {"y": null}], "t": "ğ\\n\\"q\\""},\n' in out.getvalue()  # a row per line, compact


def test_activities_page_by_default_and_stream_everything(big, cli, monkeypatch, binds):
    page = cli("activities", "--json", "--limit", "7", "--offset", "3").json()
    assert (page["total"], page["offset"], page["limit"], page["next_offset"]) == (ACTS + 1, 3, 7, 10)
    assert [a["ordinal"] for a in page["activities"]] == list(range(4, 11))
    assert cli("activities", "--json").json()["limit"] == 100
    monkeypatch.setattr(pages, "BATCH", 4)  # many keyset batches
    r = cli("activities", "--json", "--limit", "0", "--report", big["report"])
    doc = json.loads(r.out)  # one document
    assert [a["ordinal"] for a in doc["activities"]] == list(range(1, ACTS + 2)) and doc["next_offset"] is None
    assert len(doc["activities"][-1]["links"]) == LINKS - ACTS * 10
    assert binds[0] <= 500  # at most one batch's ids (selectinload's chunk), never one per row listed
    last = cli("activities", "--json", "--offset", str(ACTS - 1)).json()
    assert [a["ordinal"] for a in last["activities"]] == [ACTS, ACTS + 1] and last["next_offset"] is None


def test_activities_table_fits_the_terminal_and_says_how_to_see_more(big, cli):
    r = cli("activities", env={"LINES": "30", "COLUMNS": "150"})
    assert r.code == 0, r.err
    shown = 6  # (30 - 6) // 4 rows of 4 lines
    assert f"activities 1-{shown} of {ACTS + 1}; next: --offset {shown}" in r.out
    r = cli("activities", "--offset", str(ACTS), env={"COLUMNS": "150"})
    assert "and 95 more (archiver show" in r.out  # the big activity: its first 5 links
    assert f"activities {ACTS + 1}-{ACTS + 1} of {ACTS + 1}" in r.out and "next:" not in r.out


def test_status_and_health_with_more_rows_than_sqlite_binds(big, cli, few_variables, binds, monkeypatch):
    """Issue 9: 250 000 links made `status` and `health` fail with "too many SQL variables"."""
    st = cli("status", "--json", "--limit", "0")
    assert st.code == 0, st.err
    doc = st.json()
    assert doc["links"]["total"] == LINKS and doc["given_up_total"] == LINKS // 5 == len(doc["given_up"])
    assert doc["health"]["at_risk"] == LINKS * 3 // 5
    h = cli("health", "--json", "--limit", "0")
    assert h.code == 0, h.err
    [rep] = h.json()["reports"]
    assert rep["at_risk_count"] == len(rep["at_risk"]) == LINKS * 3 // 5
    assert rep["changed_count"] == len(rep["changed"]) and rep["lost_count"] == len(rep["lost"])
    assert binds[0] <= 100
    paged = cli("health", "--json", "--limit", "10", "--offset", "10").json()["reports"][0]
    assert paged["at_risk"] == rep["at_risk"][10:20] and paged["lost"] == rep["lost"][10:20]
    assert paged["changed"] == rep["changed"][10:20] and paged["at_risk_count"] == rep["at_risk_count"]
    for args in (("status",), ("health",), ("status", "--limit", "0"), ("health", "--limit", "0")):
        r = cli(*args, env={"LINES": "30", "COLUMNS": "150"})
        assert r.code == 0, (args, r.err)
    r = cli("health", env={"LINES": "30", "COLUMNS": "150"})
    assert f"at risk: 1-6 of {LINKS * 3 // 5}; next: --report {big['report']} --offset 6" in r.out
    monkeypatch.undo()  # the store check after the test exports each activity with SQLite's usual limit


def test_status_and_health_default_pages(big, cli):
    st = cli("status", "--json").json()
    assert len(st["given_up"]) == min(100, LINKS // 5) and st["limit"] == 100
    rep = cli("health", "--json").json()["reports"][0]
    assert len(rep["at_risk"]) == 100 and rep["at_risk_count"] == LINKS * 3 // 5
