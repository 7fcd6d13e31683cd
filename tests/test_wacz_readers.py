"""An exported WACZ read by tools we did not write: warcio, `wacz validate`, and pywb 2.10 (`wb-manager add
--unpack-wacz`, then replay through pywb's own app). ReplayWeb.page opens the same package in
tests/browser/test_replaywebpage.py."""
from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import subprocess
import sys
import zipfile

import pytest
from warcio.archiveiterator import ArchiveIterator

from archiver.db.tables import Activity, Capture, Link, Target, CAPTURED
from tests.conftest import REPO
from tests.evidence_fixtures import IMAGE, IMAGE_BYTES, PAGE, PAGE_HTML, build_evidence

OTHER = "https://bit.ly/same-page"


@pytest.fixture
def shared(cli, Session, settings):
    """The evidence set plus a third activity whose link (another short link) ends at the same page:
    its target's capture rows are the first target's page and image records, as `tools.once` leaves them."""
    ev = build_evidence(Session, settings.storage.root)
    with Session() as s:
        page = s.get(Capture, ev.captures["page"])
        image = s.get(Capture, ev.captures["image"])
        t = Target(url=OTHER, url_hash=hashlib.sha256(OTHER.encode()).hexdigest(), is_short=True, status=CAPTURED,
                   stage="done", resolution_method="live", final_url=PAGE)
        a = Activity(report_id=ev.report_id, ordinal=3, text="Activity three cites the same page.")
        a.links = [Link(position=0, url_raw=OTHER, text_raw=OTHER, url_normalized=OTHER, target=t)]
        s.add(a)
        s.flush()
        cols = [c.key for c in Capture.__table__.columns if c.key not in ("id", "target_id", "parent_id")]
        twin = Capture(target_id=t.id, **{k: getattr(page, k) for k in cols})
        s.add(twin)
        s.flush()
        s.add(Capture(target_id=t.id, parent_id=twin.id, **{k: getattr(image, k) for k in cols}))
        s.commit()
    return ev


def _export(cli, tmp_path, ev):
    out = tmp_path / "report.wacz"
    r = cli("export", "--report", ev.report_id, "-o", out, "--json")
    assert r.code == 0, r.err
    return out, r.json()


def test_each_record_once_per_package(cli, shared, tmp_path):
    out, doc = _export(cli, tmp_path, shared)
    with zipfile.ZipFile(out) as zf:
        warc = zf.read("archive/data.warc.gz")
        index = gzip.decompress(zf.read("indexes/index.cdx.gz")).decode().splitlines()
        pages = [json.loads(x) for x in zf.read("pages/pages.jsonl").decode().splitlines()[1:]]
        summary = json.loads(zf.read("evidence/summary.json"))
    ids = [r.rec_headers.get_header("WARC-Record-ID") for r in ArchiveIterator(io.BytesIO(warc))]
    assert len(ids) == len(set(ids)) == 5 == doc["records"]  # 7 capture rows, 5 records
    assert len(index) == 5
    # every page is in the index at its own timestamp, once
    keyed = {(json.loads(x.split(" ", 2)[2])["url"], x.split(" ", 2)[1]) for x in index}
    stamps = {(p["url"], p["ts"].replace("-", "").replace(":", "").replace("T", "").rstrip("Z")) for p in pages}
    assert stamps <= keyed and len(pages) == len({(p["url"], p["ts"]) for p in pages}) == 3
    # both rows for the shared page point at the one packaged record, and the package verifies
    rows = [r for r in summary["records"] if r["url"] == PAGE and not r["is_revisit"]]
    assert len(rows) == 2 and rows[0]["package"] == rows[1]["package"]
    r = cli("verify-export", out)
    assert r.code == 0 and "5 records verified" in r.out, r.out + r.err


def test_wacz_validate_and_the_block_index(cli, shared, tmp_path):
    out, _ = _export(cli, tmp_path, shared)
    v = subprocess.run([sys.executable, "-m", "wacz", "validate", "-f", str(out)], capture_output=True, text=True,
                       timeout=120)
    assert v.returncode == 0 and "passed WACZ is valid" in v.stdout, v.stdout + v.stderr
    with zipfile.ZipFile(out) as zf:
        idx = zf.read("indexes/index.idx").decode().splitlines()
        blocks = zf.read("indexes/index.cdx.gz")
    meta = json.loads(idx[0].split(" ", 2)[2])
    assert idx[0].startswith("!meta 0 ") and meta == {"format": "cdxj-gzip-1.0", "filename": "index.cdx.gz"}
    for line in idx[1:]:  # each block where the .idx says, with its sha256, starting with its key
        prefix, _, rest = line.partition(" {")
        block = json.loads("{" + rest)
        raw = blocks[block["offset"]:block["offset"] + block["length"]]
        assert block["digest"] == "sha256:" + hashlib.sha256(raw).hexdigest()
        assert gzip.decompress(raw).decode().startswith(prefix + " ")


def test_a_changed_block_index_is_found(cli, shared, tmp_path):
    out, _ = _export(cli, tmp_path, shared)
    bad = tmp_path / "bad.wacz"
    with zipfile.ZipFile(out) as src, zipfile.ZipFile(bad, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "indexes/index.idx":
                data = data.replace(b'"offset": 0', b'"offset": 1')
            dst.writestr(info, data)
    r = cli("verify-export", bad)
    assert r.code == 1 and "index_invalid" in r.out + r.err


def _pywb(folder, *args, timeout=120):
    return subprocess.run([sys.executable, "-c", "from pywb.manager.manager import main; main()", *args],
                          cwd=folder, capture_output=True, text=True, timeout=timeout)


def _pywb_get(folder, *paths) -> list[dict]:
    r = subprocess.run([sys.executable, "-m", "tests.tools.pywb_get", str(folder), *paths], cwd=REPO,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_pywb_loads_the_package_and_replays_it(cli, shared, tmp_path):
    out, _ = _export(cli, tmp_path, shared)
    folder = tmp_path / "pywb"
    folder.mkdir()
    assert _pywb(folder, "init", "evidence").returncode == 0
    added = _pywb(folder, "add", "--unpack-wacz", "evidence", str(out))
    assert added.returncode == 0, added.stderr
    assert "does not contain any indices" not in added.stderr
    page, image, revisit, missing = _pywb_get(
        folder, f"/evidence/20260101100100id_/{PAGE}", f"/evidence/20260101100200id_/{IMAGE}",
        f"/evidence/20260102100000id_/{PAGE}", "/evidence/20260101100100id_/http://example.org/never")
    assert page["status"] == 200 and base64.b64decode(page["body"]) == PAGE_HTML
    assert image["status"] == 200 and base64.b64decode(image["body"]) == IMAGE_BYTES
    assert revisit["status"] == 200 and base64.b64decode(revisit["body"]) == PAGE_HTML  # the revisit's original
    assert dict((k.lower(), v) for k, v in revisit["headers"])["memento-datetime"] == "Fri, 02 Jan 2026 10:00:00 GMT"
    assert missing["status"] == 404
