"""`archiver verify`: a clean archive passes; every kind of damage is found and named."""
from __future__ import annotations

import shutil

import pytest
from sqlalchemy import update

from archiver.db.tables import Capture, ManifestEntry
from tests.evidence_fixtures import WARC1, WARC2, build_evidence


@pytest.fixture
def ev(cli, Session, settings):
    return build_evidence(Session, settings.storage.root)


def _problems(cli):
    r = cli("verify", "--json")
    doc = r.json()
    assert r.code == (0 if doc["ok"] else 1)
    return doc


def _kinds(doc, **where):
    return {p["kind"] for p in doc["problems"] if all(p.get(k) == v for k, v in where.items())}


def test_clean_archive_verifies(cli, ev):
    doc = _problems(cli)
    assert doc == {"ok": True, "records_checked": 5, "files_checked": 2, "problems": []}
    r = cli("verify")
    assert r.code == 0 and "5 records in 2 files verified" in r.out


@pytest.mark.tampers
def test_flipped_byte_is_found(cli, ev):
    path = ev.root / WARC1
    data = bytearray(path.read_bytes())
    rec = ev.records["page"]
    data[rec["offset"] + rec["length"] // 2] ^= 0x40
    path.write_bytes(bytes(data))
    doc = _problems(cli)
    assert not doc["ok"]
    assert "manifest_mismatch" in _kinds(doc, file=WARC1)
    assert _kinds(doc, capture_id=ev.captures["page"]) & {"digest_mismatch", "unreadable_record"}
    r = cli("verify")
    assert r.code == 1 and "manifest_mismatch" in r.out and WARC1.split("/")[-1][:20] in r.out


@pytest.mark.tampers
def test_truncated_file_is_found(cli, ev):
    path = ev.root / WARC1
    rec = ev.records["pdf"]
    with open(path, "r+b") as fh:
        fh.truncate(rec["offset"] + rec["length"] - 40)
    doc = _problems(cli)
    assert _kinds(doc, capture_id=ev.captures["pdf"]) == {"truncated"}
    assert "manifest_mismatch" in _kinds(doc, file=WARC1)
    assert not _kinds(doc, capture_id=ev.captures["page"])  # records before the cut are fine


@pytest.mark.tampers
def test_deleted_file_is_found(cli, ev):
    (ev.root / WARC2).unlink()
    doc = _problems(cli)
    assert _kinds(doc, file=WARC2) == {"missing_file"}
    assert _kinds(doc, capture_id=ev.captures["revisit"]) == {"missing_file"}


@pytest.mark.tampers
def test_swapped_files_are_found(cli, ev):
    a, b = ev.root / WARC1, ev.root / WARC2
    tmp = a.with_suffix(".tmp")
    a.rename(tmp)
    b.rename(a)
    tmp.rename(b)
    doc = _problems(cli)
    assert "manifest_mismatch" in _kinds(doc, file=WARC1) and "manifest_mismatch" in _kinds(doc, file=WARC2)
    assert any(p["file"] == WARC1 and WARC2 in p["detail"] and "swapped" in p["detail"] for p in doc["problems"])
    assert _kinds(doc, capture_id=ev.captures["revisit"])  # its offset now lands in the other file


@pytest.mark.tampers
def test_tampered_manifest_row_is_found(cli, ev, Session):
    with Session() as s:
        s.execute(update(ManifestEntry).where(ManifestEntry.path == WARC2).values(size=1))
        s.commit()
    doc = _problems(cli)
    assert "chain_broken" in _kinds(doc, file=WARC2)


@pytest.mark.tampers
def test_database_rows_are_checked_against_the_records(cli, ev, Session):
    with Session() as s:
        s.execute(update(Capture).where(Capture.id == ev.captures["pdf"]).values(sha256="0" * 64))
        s.execute(update(Capture).where(Capture.id == ev.captures["image"]).values(record_id="<urn:uuid:x>"))
        s.execute(update(Capture).where(Capture.id == ev.captures["hop"]).values(offset=7))
        s.commit()
    doc = _problems(cli)
    assert _kinds(doc, capture_id=ev.captures["pdf"]) == {"digest_mismatch"}
    assert _kinds(doc, capture_id=ev.captures["image"]) == {"record_mismatch"}
    assert _kinds(doc, capture_id=ev.captures["hop"]) == {"unreadable_record"}


@pytest.mark.tampers
def test_unlisted_file_is_found(cli, ev):
    shutil.copy(ev.root / WARC2, ev.root / "warcs" / "stray.warc.gz")
    doc = _problems(cli)
    assert _kinds(doc, file="warcs/stray.warc.gz") == {"unlisted_file"}
    assert doc["files_checked"] == 3


def test_digest_strings_in_any_encoding():
    import base64
    import hashlib

    from archiver import digests

    raw = hashlib.sha1(b"x").digest()
    b32 = "sha1:" + base64.b32encode(raw).decode()
    assert digests.same(b32, "sha1:" + raw.hex()) and digests.same(b32, "SHA-1:" + base64.b64encode(raw).decode())
    assert not digests.same(b32, "sha1:" + hashlib.sha1(b"y").hexdigest())
    assert digests.matches(b32, {"sha1": raw}) is True and digests.matches("md5:zz", {"sha1": raw}) is None
