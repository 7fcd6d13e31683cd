"""Persisting reports: one transaction, idempotence, versions, shared targets (SQLite and PostgreSQL)."""
import pytest
from sqlalchemy import func, select

from archiver.db.tables import Activity, Link, Report, Target
from archiver.ingest import ingest_source, store
from tests.conftest import SAMPLE_REPORT


def _count(Session, model):
    with Session() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_sample_is_stored_with_links_on_their_activities(Session, settings):
    r = ingest_source(Session, str(SAMPLE_REPORT), settings)
    assert (r.status, r.activities, r.links, r.format) == ("ingested", 19, 20, "txt")
    with Session() as s:
        report = s.get(Report, r.report_id)
        assert report.source == str(SAMPLE_REPORT.resolve()) and report.source_kind == "file"
        assert report.size_bytes == SAMPLE_REPORT.stat().st_size and len(report.sha256) == 64
        assert report.meta["contacts"]["emails"] == ["office@ogp.org.az"]
        acts = report.activities
        assert [l.url_raw for l in acts[1].links] == ["https://goo.gl/mMTrEZ", "https://goo.gl/wMfTXZ"]
        assert [l.position for l in acts[1].links] == [0, 1]
        assert acts[2].text.startswith("NGO representatives") and acts[2].links[0].url_raw == "https://goo.gl/khnHU9"
        assert acts[17].links[0].url_raw == "http://strateq.az/layihe"
        assert acts[18].links[0].url_raw == "https://goo.gl/BHKSZq"
        assert str(acts[15].date_start) == "2018-05-07" and str(acts[15].date_end) == "2018-05-10"
        assert acts[14].date_inferred and acts[14].date_text == "14 May"
        assert acts[16].date_precision == "month"
        targets = s.scalars(select(Target).order_by(Target.id)).all()
        assert len(targets) == 20
        assert all(t.status == "pending" and t.stage == "resolve" for t in targets)
        short = {t.url: t.is_short for t in targets}
        assert short["https://goo.gl/mMTrEZ"] is True and short["http://strateq.az/layihe"] is False
        assert all(len(t.url_hash) == 64 for t in targets)


def test_same_bytes_twice_adds_nothing(Session, settings):
    first = ingest_source(Session, str(SAMPLE_REPORT), settings)
    again = ingest_source(Session, str(SAMPLE_REPORT), settings)
    assert again.status == "unchanged" and again.report_id == first.report_id
    assert (again.activities, again.links) == (19, 20)
    assert _count(Session, Report) == 1 and _count(Session, Activity) == 19 and _count(Session, Link) == 20


def test_changed_file_at_same_path_is_a_new_version(Session, settings, tmp_path):
    path = tmp_path / "report.txt"
    path.write_bytes(SAMPLE_REPORT.read_bytes())
    v1 = ingest_source(Session, str(path), settings)
    path.write_text(SAMPLE_REPORT.read_text(encoding="utf-8")
                    + "- On 1 August 2018, a new meeting was held.\n - <https://goo.gl/NewOne>\n", encoding="utf-8")
    v2 = ingest_source(Session, str(path), settings)
    assert v2.status == "new_version" and v2.previous_id == v1.report_id and v2.activities == 20
    path.write_text("- On 2 August 2018, a third version.\n", encoding="utf-8")
    v3 = ingest_source(Session, str(path), settings)
    assert v3.previous_id == v2.report_id
    # targets are shared between versions: only the new URL added one
    assert _count(Session, Target) == 21
    with Session() as s:
        assert s.get(Report, v2.report_id).previous_id == v1.report_id


def test_same_url_twice_in_one_activity_is_two_links_one_target(Session, settings, tmp_path):
    path = tmp_path / "twice.txt"
    path.write_text("- On 3 May 2018 see https://goo.gl/Same1 and again <https://goo.gl/Same1>.\n", encoding="utf-8")
    r = ingest_source(Session, str(path), settings)
    assert r.links == 2
    with Session() as s:
        links = s.scalars(select(Link).order_by(Link.position)).all()
        assert [l.position for l in links] == [0, 1] and links[0].target_id == links[1].target_id
        assert [l.text_raw for l in links] == ["https://goo.gl/Same1", "<https://goo.gl/Same1>."]


def test_nothing_is_half_written_when_storing_fails(Session, settings, monkeypatch):
    real = store.ensure_targets

    def broken(*a, **k):
        real(*a, **k)  # targets and the report row are flushed...
        raise RuntimeError("disk full")  # ...then the transaction dies

    monkeypatch.setattr(store, "ensure_targets", broken)
    with pytest.raises(RuntimeError):
        ingest_source(Session, str(SAMPLE_REPORT), settings)
    assert _count(Session, Report) == 0 and _count(Session, Target) == 0 and _count(Session, Activity) == 0


def test_ensure_targets_is_idempotent(Session, settings):
    with Session() as s, s.begin():
        a = store.ensure_targets(s, ["https://goo.gl/a", "https://goo.gl/b", "https://goo.gl/a"], ["goo.gl"])
    with Session() as s, s.begin():
        b = store.ensure_targets(s, ["https://goo.gl/b", "https://goo.gl/c"], ["goo.gl"])
    assert b["https://goo.gl/b"] == a["https://goo.gl/b"] and len(set(a.values()) | set(b.values())) == 3
