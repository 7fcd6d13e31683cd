"""extract_capture: a WARC written with warcio -> open_payload -> Extraction row -> searchable."""
from __future__ import annotations

import gzip
import hashlib
from datetime import datetime, timezone
from pathlib import Path

import pytest

from archiver.db.search import full_text_search
from archiver.db.tables import Activity, Capture, Extraction, Link, Report, Target
from archiver.errors import ArchiveError
from archiver.extract import extract_capture
from tests.stores import Records, capture_row

DATA = Path(__file__).parent / "data" / "extract"
WHEN = datetime(2018, 3, 2, 9, 0, tzinfo=timezone.utc)


def _sha(s: str) -> str:
    return hashlib.sha256(s.encode()).hexdigest()


def add_capture(session, ref, content_type: str | None, activity_text: str | None = None) -> Capture:
    url = ref.url
    target = session.query(Target).filter_by(url_hash=_sha(url)).one_or_none()
    if target is None:
        target = Target(url=url, url_hash=_sha(url), status="captured", stage="extract")
        session.add(target)
    if activity_text:
        report = Report(source=f"/r/{url}", source_kind="file", sha256=_sha("r" + url), format="txt", size_bytes=1)
        report.activities = [Activity(ordinal=1, text=activity_text)]
        session.add(report)
        session.add(Link(activity=report.activities[0], position=0, url_raw=url, url_normalized=url, target=target))
    capture = capture_row(ref, target=target, captured_at=WHEN, content_type=content_type)
    session.add(capture)
    session.flush()
    if ref.is_revisit:
        capture.revisit_of_id = session.query(Capture.id).filter_by(record_id=ref.revisit_of).scalar()
    return capture


@pytest.fixture
def root(settings):
    return settings.storage.root


def test_html_capture_gzip_encoded_charset_in_header_only(Session, settings, root):
    """windows-1251 bytes, no <meta charset>, the charset only in the HTTP header, gzip on the wire."""
    body = (DATA / "ru-cp1251-nodecl.html").read_bytes()
    with Records(settings, Session) as warc:
        ref = warc.response("http://economy.example/plan", gzip.compress(body), headers=[
            ("Content-Type", "text/html; charset=windows-1251"), ("Content-Encoding", "gzip"),
            ("Content-Language", "ru")])
    with Session() as session:
        cap = add_capture(session, ref, "text/html", activity_text="Hökumət planı təsdiq etdi")
        row = extract_capture(session, cap, settings.extract, root)
        session.commit()
        assert isinstance(row, Extraction) and row.capture_id == cap.id
        assert row.method == "trafilatura" and row.encoding == "cp1251" and row.error is None
        assert row.language == "ru" and row.title == "Национальный план"
        assert "Правительство Азербайджанской Республики" in row.text
        hits = full_text_search(session, "Азербайджанской")
        assert len(hits) == 1 and hits[0]["kind"] == "capture" and hits[0]["capture_id"] == cap.id
        assert hits[0]["url"] == "http://economy.example/plan" and hits[0]["captured_at"] == "2018-03-02T09:00:00Z"
        assert hits[0]["activity_id"] == session.query(Activity).one().id


def test_extracting_again_updates_the_row_and_the_index(Session, settings, root):
    with Records(settings, Session) as warc:
        ref = warc.response("http://az.example/", (DATA / "az-cp1254-meta.html").read_bytes(),
                            headers=[("Content-Type", "text/html")])
    with Session() as session:
        cap = add_capture(session, ref, "text/html")
        first = extract_capture(session, cap, settings, root)  # whole Settings is accepted too
        second = extract_capture(session, cap, settings.extract, root)
        session.commit()
        assert first.id == second.id and session.query(Extraction).count() == 1
        assert second.encoding == "cp1254" and "Dağlıq Qarabağ" in second.text
        assert len(full_text_search(session, "Qarabağ")) == 1


def test_pdf_and_image_captures(Session, settings, root):
    from tests.test_extract import PDF

    with Records(settings, Session) as warc:
        pdf_ref = warc.response("http://docs.example/plan.pdf", PDF, headers=[("Content-Type", "application/pdf")])
        img_ref = warc.response("http://docs.example/logo.png", b"\x89PNG\r\n\x1a\nxxxx",
                                headers=[("Content-Type", "image/png")])
    with Session() as session:
        pdf = extract_capture(session, add_capture(session, pdf_ref, "application/pdf"), settings.extract, root)
        img = extract_capture(session, add_capture(session, img_ref, "image/png"), settings.extract, root)
        session.commit()
        assert pdf.method == "pypdf" and "public hearings in Ganja" in pdf.text and pdf.title == "Hesabat 2017"
        assert img.method == "none" and img.text is None and img.error is None
        assert [h["url"] for h in full_text_search(session, "Ganja")] == ["http://docs.example/plan.pdf"]


def test_revisit_reads_the_original_payload(Session, settings, root):
    body = (DATA / "az-utf8-meta.html").read_bytes()
    with Records(settings, Session) as warc:
        ref = warc.response("http://rev.example/", body, headers=[("Content-Type", "text/html; charset=utf-8")])
        rev_ref = warc.revisit("http://rev.example/", ref)
    with Session() as session:
        add_capture(session, ref, "text/html")
        rev = add_capture(session, rev_ref, "text/html")
        row = extract_capture(session, rev, settings.extract, root)
        assert row.capture_id == rev.id and "Şəffaflıq" in row.text


def test_extractor_failure_is_recorded_not_raised(Session, settings, root, monkeypatch):
    import archiver.extract as extract_pkg

    def boom(*a, **k):
        raise RuntimeError("parser exploded")

    monkeypatch.setattr(extract_pkg, "extract_text", boom)
    with Records(settings, Session) as warc:
        ref = warc.response("http://odd.example/", b"<html>odd</html>", headers=[("Content-Type", "text/html")])
    with Session() as session:
        row = extract_capture(session, add_capture(session, ref, "text/html"), settings.extract, root)
        assert row.method == "none" and row.text is None
        assert row.error == "extraction failed: RuntimeError: parser exploded"


@pytest.mark.tampers
def test_missing_warc_is_an_archive_error(Session, settings, root):
    with Records(settings, Session) as warc:
        ref = warc.response("http://gone.example/")
    with Session() as session:
        cap = add_capture(session, ref, "text/html")
        cap.warc_file = "warcs/missing.warc.gz"
        with pytest.raises(ArchiveError):
            extract_capture(session, cap, settings.extract, root)
