"""`archiver export`: a WACZ 1.1.1 package of one activity's or report's evidence."""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import subprocess
import sys
import zipfile

import pytest
from sqlalchemy import update

from archiver.db.tables import Capture
from archiver.export import cdxj
from tests.evidence_fixtures import PAGE, SHORT, WARC1, build_evidence


@pytest.fixture
def ev(cli, Session, settings):
    return build_evidence(Session, settings.storage.root)


def _export(cli, tmp_path, *args, name="out.wacz"):
    out = tmp_path / name
    r = cli("export", *args, "-o", out, "--json")
    assert r.code == 0, r.err
    return out, r.json()


def _records(data: bytes):
    """(record id, target URI) of each record in a WARC, in order."""
    from warcio.archiveiterator import ArchiveIterator
    return [(r.rec_headers.get_header("WARC-Record-ID"), r.rec_headers.get_header("WARC-Target-URI"))
            for r in ArchiveIterator(io.BytesIO(data))]


def test_report_export_is_a_valid_wacz(cli, ev, tmp_path):
    out, doc = _export(cli, tmp_path, "--report", ev.report_id)
    assert doc["records"] == 5 and doc["pages"] == 3 and not doc["signed"]
    v = subprocess.run([sys.executable, "-m", "wacz", "validate", "-f", str(out)], capture_output=True, text=True,
                       timeout=120)
    assert v.returncode == 0 and "passed WACZ is valid" in v.stdout, v.stdout + v.stderr
    r = cli("verify-export", out)
    assert r.code == 0 and "5 records verified" in r.out
    with zipfile.ZipFile(out) as zf:
        assert zf.getinfo("archive/data.warc.gz").compress_type == zipfile.ZIP_STORED
        assert zf.getinfo("indexes/index.cdx.gz").compress_type == zipfile.ZIP_STORED  # as py-wacz writes it
        package = json.loads(zf.read("datapackage.json"))
        assert package["profile"] == "data-package" and package["wacz_version"] == "1.1.1"
        assert package["mainPageUrl"] == PAGE and package["mainPageDate"] == "2026-01-01T10:01:00Z"
        assert package["software"].startswith("archiver ") and package["created"].endswith("Z")
        paths = {res["path"] for res in package["resources"]}
        assert paths == {"archive/data.warc.gz", "indexes/index.cdx.gz", "indexes/index.idx", "pages/pages.jsonl",
                         "evidence/summary.json", "evidence/summary.html"}
        for res in package["resources"]:
            data = zf.read(res["path"])
            assert res["hash"] == "sha256:" + hashlib.sha256(data).hexdigest() and res["bytes"] == len(data)
        digest = json.loads(zf.read("datapackage-digest.json"))
        assert digest == {"path": "datapackage.json",
                          "hash": "sha256:" + hashlib.sha256(zf.read("datapackage.json")).hexdigest()}
        pages = [json.loads(x) for x in zf.read("pages/pages.jsonl").decode().splitlines()]
        assert pages[0]["format"] == "json-pages-1.0" and pages[0]["id"] == "pages" and pages[0]["title"]
        assert [(p["url"], p["ts"]) for p in pages[1:]] == [
            (PAGE, "2026-01-01T10:01:00Z"), ("http://example.org/report.pdf", "2026-01-01T10:03:00Z"),
            (PAGE, "2026-01-02T10:00:00Z")]
        assert pages[1]["title"] == "Example <page> & co" and pages[3]["title"] == "Example <page> & co"


def test_activity_export_holds_exactly_its_records_byte_for_byte(cli, ev, tmp_path):
    out, doc = _export(cli, tmp_path, "--activity", ev.activity_ids[0])
    assert doc["records"] == 4 and doc["pages"] == 2
    with zipfile.ZipFile(out) as zf:
        warc = zf.read("archive/data.warc.gz")
        summary = json.loads(zf.read("evidence/summary.json"))
    ids = {rid for rid, _ in _records(warc)}
    assert ids == {ev.records[n]["record_id"] for n in ("hop", "page", "image", "revisit")}
    for rec in summary["records"]:  # each gzip member copied unchanged from its WARC file
        src = (ev.root / rec["stored"]["warc_file"]).read_bytes()
        member = src[rec["stored"]["offset"]:rec["stored"]["offset"] + rec["stored"]["length"]]
        assert warc[rec["package"]["offset"]:rec["package"]["offset"] + rec["package"]["length"]] == member


def test_cdxj_matches_cdxj_indexer(cli, ev, tmp_path):
    from cdxj_indexer.main import CDXJIndexer

    out, _ = _export(cli, tmp_path, "--report", ev.report_id)
    with zipfile.ZipFile(out) as zf:
        ours = gzip.decompress(zf.read("indexes/index.cdx.gz")).decode().splitlines()
        (tmp_path / "data.warc.gz").write_bytes(zf.read("archive/data.warc.gz"))
    buf = io.StringIO()
    CDXJIndexer(buf, [str(tmp_path / "data.warc.gz")]).process_all()
    theirs = [x for x in buf.getvalue().splitlines() if x.strip()]
    assert ours == sorted(ours) and len(ours) == 5
    assert sorted(map(cdxj.parse, ours)) == sorted(map(cdxj.parse, theirs))


def test_summary_says_what_was_cited_and_escapes_everything(cli, ev, tmp_path):
    out, _ = _export(cli, tmp_path, "--report", ev.report_id)
    with zipfile.ZipFile(out) as zf:
        s = json.loads(zf.read("evidence/summary.json"))
        html = zf.read("evidence/summary.html").decode()
    a1 = s["activities"][0]
    assert a1["text"].startswith("Activity one") and a1["date"]["text"] == "March 2025"
    link = a1["links"][0]
    assert link["url_raw"] == SHORT and link["text_raw"] == f"<{SHORT}>."
    assert [(h["seq"], h["status_code"], h["location"]) for h in link["redirect_chain"]] == [
        (1, 302, PAGE), (2, 200, None)]
    page = next(c for c in link["captures"] if c["role"] == "target" and not c["is_revisit"])
    assert page["sha256"] == ev.records["page"]["sha256"] and page["source"] == "live"
    assert page["captured_at"] == "2026-01-01T10:01:00Z"
    assert "<script" not in html.lower() and "Content-Security-Policy" in html
    assert "Example &lt;page&gt; &amp; co" in html and "<page>" not in html
    assert "published the &lt;data&gt; &amp; methods" in html and ev.records["pdf"]["sha256"] in html


def test_export_arguments_and_unknown_ids(cli, ev, tmp_path):
    r = cli("export", "-o", tmp_path / "x.wacz")
    assert r.code == 2 and len(r.err.strip().splitlines()) == 1
    r = cli("export", "--activity", 1, "--report", 1, "-o", tmp_path / "x.wacz")
    assert r.code == 2 and len(r.err.strip().splitlines()) == 1
    r = cli("export", "--activity", 999, "-o", tmp_path / "x.wacz")
    assert r.code == 1 and r.err.strip().splitlines() == ["error: no activity with id 999"]
    r = cli("export", "--report", 999, "-o", tmp_path / "x.wacz")
    assert r.code == 1 and "no report with id 999" in r.err
    assert not (tmp_path / "x.wacz").exists()


@pytest.mark.tampers
def test_export_refuses_a_record_that_no_longer_verifies(cli, ev, tmp_path, Session):
    with Session() as s:
        s.execute(update(Capture).where(Capture.id == ev.captures["image"]).values(sha256="0" * 64))
        s.commit()
    r = cli("export", "--report", ev.report_id, "-o", tmp_path / "x.wacz")
    assert r.code == 1 and "capture" in r.err and len(r.err.strip().splitlines()) == 1
    assert not (tmp_path / "x.wacz").exists() and not (tmp_path / "x.wacz.part").exists()
    (ev.root / WARC1).unlink()
    r = cli("export", "--report", ev.report_id, "-o", tmp_path / "x.wacz")
    assert r.code == 1 and len(r.err.strip().splitlines()) == 1


def test_export_reports_progress_over_the_record_bytes(ev, Session, settings, tmp_path):
    from archiver.export.evidence import select_report
    from archiver.export.wacz import export_wacz

    seen = []
    with Session() as s:
        sel = select_report(s, ev.report_id)
        export_wacz(s, settings.storage.root, sel, tmp_path / "p.wacz", software="t",
                    progress=lambda done, total: seen.append((done, total)))
    assert len(seen) == len(sel.captures)  # once per record copied
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and seen[-1][0] > 0


def test_activity_with_nothing_captured_exports_a_valid_package_saying_so(cli, Session, tmp_path):
    """A dead link nobody archived still has an activity an auditor must be able to export."""
    report = tmp_path / "nothing.md"
    report.write_text("- On 3 May 2018 the ministry held a hearing: https://goo.gl/NoSuchCode\n", encoding="utf-8")
    assert cli("ingest", report).code == 0
    [act] = cli("activities", "--json").json()["activities"]
    out, doc = _export(cli, tmp_path, "--activity", act["id"], name="nothing.wacz")
    assert doc["records"] == 0 and doc["pages"] == 0
    v = subprocess.run([sys.executable, "-m", "wacz", "validate", "-f", str(out)], capture_output=True, text=True,
                       timeout=120)
    assert v.returncode == 0, v.stdout + v.stderr
    r = cli("verify-export", out, "--json")
    assert r.code == 0 and r.json()["ok"], r.out
    with zipfile.ZipFile(out) as zf:
        summary = json.loads(zf.read("evidence/summary.json"))
    assert summary["records"] == [] and summary["activities"][0]["links"][0]["url_raw"] == "https://goo.gl/NoSuchCode"
