"""`archiver get`: the body as served, from the WARC at its stored offset."""
from dataclasses import replace
from datetime import datetime, timezone

import pytest

from archiver.capture import capture_url
from archiver.db.tables import Target
from archiver.persist import capture_row, link_revisit, save_capture, url_hash
from tests.servers.targets import GZIP_HTML, PDF, recorder_for, serve


@pytest.fixture
def site():
    with serve() as s:
        yield s


def _save(Session, refs, target_id=None):
    with Session() as db:
        for ref in refs:
            row = capture_row(ref, role="target", target_id=target_id, run_id=None)
            db.add(row)
            db.flush()
            link_revisit(db, row, ref)
        db.commit()


def test_get_exact_bytes_by_captured_url(cli, settings, Session, site, tmp_path):
    with recorder_for(settings, Session) as (rec, sink):
        pdf = rec.fetch(site.url("/doc.pdf"))
        gz = rec.fetch(site.url("/gzip.html"))
        again = rec.fetch(site.url("/doc.pdf"))  # a revisit: get follows it to the payload
    assert again.warc.is_revisit
    _save(Session, [pdf.warc, gz.warc])
    _save(Session, [replace(again.warc, captured_at=datetime(2030, 1, 1, tzinfo=timezone.utc))])
    out = tmp_path / "doc.pdf"
    r = cli("get", site.url("/doc.pdf"), "-o", out)
    assert r.code == 0, r.err
    assert out.read_bytes() == PDF
    r = cli("get", site.url("/gzip.html"), "-o", tmp_path / "g.html")
    assert r.code == 0 and (tmp_path / "g.html").read_bytes() == GZIP_HTML.encode()  # gunzipped
    r = cli("get", site.url("/gzip.html"))  # stdout
    assert r.code == 0 and r.out == GZIP_HTML
    r = cli("get", site.url("/gzip.html"), "-o", tmp_path / "no-such-folder" / "g.html")  # unwritable: one line
    assert r.code == 2 and "cannot write" in r.err and len(r.err.strip().splitlines()) == 1


def test_get_by_target_url_and_at(cli, settings, Session, site, tmp_path):
    short = site.url("/r1")
    with Session() as db:
        t = Target(url=short, url_hash=url_hash(short), is_short=True)
        db.add(t)
        db.commit()
        tid = t.id
    with recorder_for(settings, Session) as (rec, sink):
        res = capture_url(short, recorder=rec, settings=settings)
        other = rec.fetch(site.url("/n/old"))
    old = replace(other.warc, captured_at=datetime(2016, 5, 1, tzinfo=timezone.utc))
    _save(Session, [old], target_id=tid)
    with Session() as db:
        save_capture(db, db.get(Target, tid), res, run_id=None)
        db.commit()
    r = cli("get", short, "-o", tmp_path / "latest")
    assert r.code == 0, r.err
    assert (tmp_path / "latest").read_bytes() == b"<html><body>final page</body></html>"
    for at in ("2016-06-01", "20160601", "2016-06-01T10:00:00Z", "20160601100000"):
        r = cli("get", short, "--at", at, "-o", tmp_path / "old")
        assert r.code == 0, r.err
        assert b"page /n/old" in (tmp_path / "old").read_bytes()


def test_get_unknown_url_and_bad_date(cli, tmp_path):
    r = cli("get", "http://nothing.example/")
    assert r.code == 1 and "no capture of http://nothing.example/" in r.err and len(r.err.strip().splitlines()) == 1
    r = cli("get", "http://nothing.example/", "--at", "yesterday-ish")
    assert r.code == 2 and "--at" in r.err
