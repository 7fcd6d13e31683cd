"""`archiver reports`, `activities`, `show` and the read models in db/queries.py."""
from datetime import datetime, timezone

from sqlalchemy import select

from archiver.db import queries
from archiver.db.tables import Hop, Link, Target
from tests.conftest import SAMPLE_REPORT
from tests.stores import Records, capture_row

ACTIVITY_KEYS = {"id", "report_id", "ordinal", "date", "date_end", "date_text", "date_precision", "date_inferred",
                 "text", "links"}
LINK_KEYS = {"url", "url_normalized", "final_url", "resolution_method", "status", "status_reason", "hops", "captures"}
CAPTURE_KEYS = {"id", "timestamp", "url", "http_status", "content_type", "warc_file", "offset", "length", "sha256",
                "source", "archive_name", "memento_url", "truncated", "is_revisit", "not_evidence",
                "not_evidence_reason", "role"}


def _ingest(cli):
    r = cli("ingest", SAMPLE_REPORT, "--json")
    assert r.code == 0, r.err
    return r.json()["reports"][0]["report_id"]


def test_reports_json(cli):
    rid = _ingest(cli)
    r = cli("reports", "--json")
    assert r.code == 0
    [rep] = r.json()["reports"]
    assert {"id", "source", "format", "title", "sha256", "ingested_at", "previous_id", "activities", "links"} <= set(rep)
    assert (rep["id"], rep["format"], rep["activities"], rep["links"], rep["previous_id"]) == (rid, "txt", 19, 20, None)
    assert rep["ingested_at"].endswith("Z")


def test_activities_json_and_filter(cli, tmp_path):
    rid = _ingest(cli)
    other = tmp_path / "other.txt"
    other.write_text("- On 1 May 2019 a thing happened.\n - https://goo.gl/Other1\n", encoding="utf-8")
    rid2 = cli("ingest", other, "--json").json()["reports"][0]["report_id"]
    everything = cli("activities", "--json").json()["activities"]
    assert len(everything) == 20
    acts = cli("activities", "--report", rid, "--json").json()["activities"]
    assert len(acts) == 19 and all(a["report_id"] == rid for a in acts)
    assert all(ACTIVITY_KEYS <= set(a) for a in acts)
    a3 = acts[2]
    assert (a3["ordinal"], a3["date"], a3["date_end"], a3["date_precision"]) == (3, "2017-05-22", "2017-05-22", "day")
    a16 = acts[15]
    assert (a16["date"], a16["date_end"], a16["date_text"]) == ("2018-05-07", "2018-05-10", "07-10 May 2018")
    assert acts[14]["date_inferred"] is True and acts[1]["date"] is None
    link = acts[1]["links"][0]
    assert LINK_KEYS <= set(link)
    assert (link["url"], link["status"], link["hops"], link["captures"], link["final_url"]) == (
        "https://goo.gl/mMTrEZ", "pending", [], [], None)
    assert cli("activities", "--report", rid2, "--json").json()["activities"][0]["links"][0]["url"] \
        == "https://goo.gl/Other1"


def test_show_with_hops_and_captures(cli, Session, settings):
    _ingest(cli)
    t0 = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    with Records(settings, Session) as records:  # real records, as the pipeline leaves them
        page, img, hop = (records.response("https://example.org/final"),
                          records.response("https://example.org/img.png", b"png", headers=[("Content-Type", "image/png")]),
                          records.response("https://goo.gl/khnHU9", b"", status="301 Moved Permanently",
                                           headers=[("Location", "https://example.org/final")]))
    with Session() as s, s.begin():
        link = s.scalars(select(Link).where(Link.url_raw == "https://goo.gl/khnHU9")).one()
        activity_id = link.activity_id
        target = s.get(Target, link.target_id)
        target.status, target.final_url, target.resolution_method = "captured", "https://example.org/final", "live"
        s.add_all([
            Hop(target_id=target.id, stage="resolve", attempt=1, seq=1, url="https://goo.gl/khnHU9", status_code=500,
                kind="error", fetched_at=t0),
            Hop(target_id=target.id, stage="resolve", attempt=2, seq=1, url="https://goo.gl/khnHU9", status_code=301,
                location="https://example.org/final", kind="redirect", fetched_at=t0),
            Hop(target_id=target.id, stage="capture", attempt=1, seq=1, url="https://example.org/final",
                status_code=200, kind="final", fetched_at=t0),
        ])
        s.add_all([capture_row(page, target_id=target.id, captured_at=t0, source="live"),
                   capture_row(img, role="requisite", target_id=target.id, captured_at=t0),
                   capture_row(hop, role="hop", target_id=target.id, captured_at=t0)])
    r = cli("show", activity_id, "--json")
    assert r.code == 0, r.err
    doc = r.json()
    assert ACTIVITY_KEYS <= set(doc) and doc["text"].startswith("NGO representatives")
    [link] = doc["links"]
    assert (link["status"], link["final_url"], link["resolution_method"]) == ("captured", "https://example.org/final", "live")
    # the latest resolution of the short link, then the capture of its target; the failed try is not shown
    assert [(h["seq"], h["stage"], h["status_code"], h["kind"]) for h in link["hops"]] == [
        (1, "resolve", 301, "redirect"), (2, "capture", 200, "final")]
    assert link["hops"][0]["fetched_at"] == "2024-01-02T03:04:05Z"
    [cap] = link["captures"]  # requisites and hop records are not listed
    assert CAPTURE_KEYS <= set(cap)
    assert (cap["role"], cap["offset"], cap["timestamp"], cap["http_status"], cap["source"], cap["not_evidence"]) == (
        "target", page.offset, "2024-01-02T03:04:05Z", 200, "live", False)
    terminal = cli("show", activity_id)
    assert terminal.code == 0 and "goo.gl/khnHU9" in terminal.out and "captured" in terminal.out
    assert page.warc_file in terminal.out


def test_terminal_tables(cli):
    _ingest(cli)
    r = cli("reports")
    assert r.code == 0 and "Reports" in r.out and "txt" in r.out
    r = cli("activities")
    assert r.code == 0 and "Activities" in r.out and "2017-05-22" in r.out


def test_unknown_ids_are_one_line_exit_1(cli):
    _ingest(cli)
    for args in (("show", "9999"), ("show", "9999", "--json"), ("activities", "--report", "9999")):
        r = cli(*args)
        assert r.code == 1 and len(r.err.strip().splitlines()) == 1 and "not found" in r.err
        assert r.out == ""


def test_empty_database_lists_nothing(cli):
    assert cli("reports", "--json").json() == {"reports": []}
    assert cli("activities", "--json").json() == {"total": 0, "offset": 0, "limit": 100, "next_offset": None,
                                                  "activities": []}


def test_queries_directly(Session, settings):
    from archiver.ingest import ingest_source
    rid = ingest_source(Session, str(SAMPLE_REPORT), settings).report_id
    with Session() as s:
        assert queries.list_reports(s)[0]["id"] == rid
        acts = queries.list_activities(s, report_id=rid)
        detail = queries.activity_detail(s, acts[0]["id"])
        assert detail["report"]["id"] == rid and detail["ordinal"] == 1
        assert queries.report_detail(s, rid)["meta"]["contacts"]["emails"] == ["office@ogp.org.az"]
