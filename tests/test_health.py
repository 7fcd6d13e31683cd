"""Evidence health: coverage per report, at risk first, lost, changed; `archiver health`."""
from __future__ import annotations

from datetime import datetime, timezone

from archiver import persist
from archiver.db.tables import Activity, Link, LinkCheck, Report, Target
from archiver.health import report_health, summary
from tests.stores import Records, capture_row

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _target(s, url, **kw):
    t = Target(url=url, url_hash=persist.url_hash(url), **kw)
    s.add(t)
    s.flush()
    return t


def _capture(s, records, t, status=200, not_evidence=None, source="live"):
    ref = records.response(t.url, status=f"{status} OK")
    s.add(capture_row(ref, target_id=t.id, captured_at=T0, source=source, not_evidence=bool(not_evidence),
                      not_evidence_reason=not_evidence))


def build(Session, settings) -> tuple[int, int]:
    with Records(settings, Session) as records, Session() as s:
        r = Report(source="/r.txt", source_kind="file", sha256="a" * 64, format="txt", title="OGP report",
                   size_bytes=1)
        r2 = Report(source="/r2.txt", source_kind="file", sha256="b" * 64, format="txt", title="Other", size_bytes=1)
        s.add_all([r, r2])
        s.flush()
        live = _target(s, "https://ok.example/a", status="captured")
        _capture(s, records, live)
        archived = _target(s, "https://gone.example/b", status="captured", watch_state="recovered")
        _capture(s, records, archived, source="archive")
        dead = _target(s, "https://goo.gl/dead1", status="dead", stage="done",
                       status_reason="HTTP 404; not found in any web archive")
        retry = _target(s, "https://slow.example/c", status="failed", stage="capture",
                        status_reason="timeout (try 1 of 6, retrying later)")
        parked = _target(s, "https://parked.example/d", status="captured")
        _capture(s, records, parked, not_evidence="parked or for-sale domain")
        s.flush()
        parked.status = "dead"
        changed = _target(s, "https://moving.example/e", status="captured", watch_state="changed",
                          last_checked_at=T0)
        _capture(s, records, changed)
        s.add(LinkCheck(target_id=changed.id, checked_at=T0, http_status=200, state="changed", note="payload differs"))
        acts = []
        for i, targets in enumerate([[live], [archived, dead], [dead], [retry], [parked], [changed], []], start=1):
            a = Activity(report_id=r.id, ordinal=i, text=f"activity {i}")
            s.add(a)
            s.flush()
            for pos, t in enumerate(targets):
                s.add(Link(activity_id=a.id, position=pos, url_raw=t.url, url_normalized=t.url, target_id=t.id))
            acts.append(a.id)
        a2 = Activity(report_id=r2.id, ordinal=1, text="x")
        s.add(a2)
        s.flush()
        s.add(Link(activity_id=a2.id, position=0, url_raw=live.url, url_normalized=live.url, target_id=live.id))
        s.commit()
        return r.id, r2.id


def test_report_health(Session, settings):
    rid, rid2 = build(Session, settings)
    with Session() as s:
        doc = report_health(s, rid)
        assert len(doc["reports"]) == 1
        r = doc["reports"][0]
        assert (r["report_id"], r["title"]) == (rid, "OGP report")
        # activities citing links: 6; with preserved evidence: 1 (live), 2 (archive), 6 (changed but preserved)
        assert (r["activities"], r["activities_with_evidence"], r["activities_without_links"]) == (6, 3, 1)
        assert r["coverage_pct"] == 50.0
        risk = {(e["activity_id"] - min(x["activity_id"] for x in r["at_risk"]), e["url"]) for e in r["at_risk"]}
        assert {e["url"] for e in r["at_risk"]} == {"https://goo.gl/dead1", "https://slow.example/c",
                                                   "https://parked.example/d"}
        assert len(risk) == 4  # dead1 is cited by two activities
        dead = next(e for e in r["at_risk"] if e["url"] == "https://goo.gl/dead1")
        assert dead["status"] == "dead" and "not found in any web archive" in dead["reason"]
        assert {e["url"] for e in r["lost"]} == {"https://goo.gl/dead1"}
        assert [(e["url"], e["state"], e["note"]) for e in r["changed"]] == [
            ("https://moving.example/e", "changed", "payload differs")]
        all_doc = report_health(s)
        assert [x["report_id"] for x in all_doc["reports"]] == [rid, rid2]
        assert all_doc["reports"][1]["coverage_pct"] == 100.0
        sm = summary(s)
        assert sm == {"reports": 2, "activities": 7, "activities_with_evidence": 4, "coverage_pct": 57.1,
                      "at_risk": 4, "lost": 2, "changed": 1}


def test_cli_health(Session, settings, cli):
    rid, _ = build(Session, settings)
    r = cli("health", "--report", str(rid), "--json")
    assert r.code == 0, r.err
    doc = r.json()
    rep = doc["reports"][0]
    assert set(rep) >= {"report_id", "title", "activities", "activities_with_evidence", "coverage_pct",
                        "at_risk", "changed", "lost"}
    assert set(rep["at_risk"][0]) == {"activity_id", "url", "status", "reason"}
    r = cli("health")
    assert r.code == 0 and "AT RISK" in r.out and r.out.index("AT RISK") < r.out.index("changed since capture")
    assert "50.0%" in r.out
    r = cli("health", "--report", "999")
    assert r.code == 1 and "no report with id 999" in r.err
