"""The hash-chained manifest: append, mirror, and every way of tampering with it."""
from __future__ import annotations

import hashlib
import json

import pytest
from sqlalchemy import select, update

from archiver.db.tables import ManifestEntry, WarcFile
from archiver.errors import InputError
from archiver.export import manifest
from archiver.export.manifest import GENESIS, append_entry, verify_chain


@pytest.fixture
def root(settings):
    r = settings.storage.root
    (r / "warcs").mkdir(parents=True, exist_ok=True)
    return r


def _file(root, name, data):
    p = root / "warcs" / name
    p.write_bytes(data)
    return f"warcs/{name}"


@pytest.mark.tampers  # its files are stand-in bytes, not WARC records
def test_append_chains_entries_and_mirrors_them(Session, root):
    a = _file(root, "a.warc.gz", b"first file")
    b = _file(root, "b.warc.gz", b"second file, longer")
    with Session() as s:
        s.add(WarcFile(path=b, state="open"))
        s.commit()
        e1 = append_entry(s, root, a)
        e2 = append_entry(s, root, b)
    assert e1.prev_hash == GENESIS and e2.prev_hash == e1.entry_hash
    assert e1.sha256 == hashlib.sha256(b"first file").hexdigest() and e1.size == 10
    expected = hashlib.sha256(
        (e1.prev_hash + a + e1.sha256 + "10" + e1.added_at.strftime("%Y-%m-%dT%H:%M:%SZ")).encode()).hexdigest()
    assert e1.entry_hash == expected
    lines = [json.loads(x) for x in (root / "manifest.jsonl").read_text().splitlines()]
    assert [x["entry_hash"] for x in lines] == [e1.entry_hash, e2.entry_hash]
    with Session() as s:
        wf = s.scalars(select(WarcFile).where(WarcFile.path == b)).one()
        assert (wf.state, wf.sha256, wf.size) == ("finished", e2.sha256, e2.size)
        assert verify_chain(s, root) == []


@pytest.mark.tampers  # its files are stand-in bytes, not WARC records
def test_refuses_paths_outside_the_root_and_missing_files(Session, root):
    with Session() as s:
        with pytest.raises(InputError):
            append_entry(s, root, "../etc/passwd")
        with pytest.raises(InputError):
            append_entry(s, root, "warcs/nope.warc.gz")


def _three(Session, root):
    with Session() as s:
        return [append_entry(s, root, _file(root, f"{n}.warc.gz", n.encode() * 50)).id for n in "xyz"]


@pytest.mark.tampers
def test_modified_row_breaks_the_chain_and_disagrees_with_the_mirror(Session, root):
    ids = _three(Session, root)
    with Session() as s:
        s.execute(update(ManifestEntry).where(ManifestEntry.id == ids[1]).values(sha256="0" * 64))
        s.commit()
        kinds = {(p.kind, p.file) for p in verify_chain(s, root)}
    assert ("chain_broken", "warcs/y.warc.gz") in kinds
    assert ("manifest_mismatch", "warcs/y.warc.gz") in kinds


@pytest.mark.tampers
def test_rehashed_row_still_breaks_the_link_to_the_next(Session, root):
    ids = _three(Session, root)
    with Session() as s:
        e = s.get(ManifestEntry, ids[1])
        e.sha256 = "1" * 64
        e.entry_hash = manifest.entry_hash(e.prev_hash, e.path, e.sha256, e.size, e.added_at)
        s.commit()
        problems = verify_chain(s, root)
    assert any(p.kind == "chain_broken" and p.file == "warcs/z.warc.gz" for p in problems)


@pytest.mark.tampers
def test_deleted_row_and_mirror_problems(Session, root):
    ids = _three(Session, root)
    with Session() as s:
        s.delete(s.get(ManifestEntry, ids[1]))
        s.commit()
        assert any(p.kind == "chain_broken" for p in verify_chain(s, root))
    mirror = root / "manifest.jsonl"
    mirror.unlink()
    with Session() as s:
        problems = verify_chain(s, root)
    assert any(p.kind == "manifest_mismatch" and "missing" in p.detail for p in problems)


@pytest.mark.tampers
def test_extra_and_garbled_mirror_lines(Session, root):
    _three(Session, root)
    mirror = root / "manifest.jsonl"
    with open(mirror, "a") as fh:
        fh.write('{"path": "warcs/evil.warc.gz", "entry_hash": "00"}\nnot json\n')
    with Session() as s:
        problems = verify_chain(s, root)
    assert [p.kind for p in problems] == ["manifest_mismatch", "manifest_mismatch"]


@pytest.mark.tampers
def test_writer_digest_is_used_only_when_the_size_on_disk_agrees(Session, root):
    a = _file(root, "a.warc.gz", b"0123456789")
    with Session() as s:
        e = append_entry(s, root, a, sha256="f" * 64, size=10)  # the writer's own digest: taken as given
        assert e.sha256 == "f" * 64
        b = _file(root, "b.warc.gz", b"grew after the writer hashed it")
        e2 = append_entry(s, root, b, sha256="f" * 64, size=10)  # sizes disagree: hashed from disk
        assert e2.sha256 == hashlib.sha256(b"grew after the writer hashed it").hexdigest() and e2.size == 31


def test_sink_records_finished_files_with_their_true_digest(Session, root, settings):
    from archiver.capture.warcfile import WarcSink

    sink = WarcSink(settings, Session)
    rec = sink.builder.create_warc_record("https://example.org/", "resource", payload=__import__("io").BytesIO(b"x"),
                                          warc_content_type="text/plain")
    sink.write_records([rec])
    sink.close()
    with Session() as s:
        [entry] = s.scalars(select(ManifestEntry)).all()
        data = (root / entry.path).read_bytes()
        assert entry.sha256 == hashlib.sha256(data).hexdigest() and entry.size == len(data)
        assert verify_chain(s, root) == []
