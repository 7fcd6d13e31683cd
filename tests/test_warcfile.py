"""WarcSink: naming, rotation, finishing (WarcFile rows + manifest), torn-tail repair, threads."""
import fcntl
import os
import re
import subprocess
import sys
import threading
from io import BytesIO

from sqlalchemy import select
from warcio.archiveiterator import ArchiveIterator

from archiver.capture.warcfile import WarcSink, complete_members_end
from archiver.db.tables import ManifestEntry, WarcFile
from tests.servers.targets import capture_settings

NAME = re.compile(r"^warcs/test-\d{20}-\d{5}-[A-Za-z0-9._-]+\.warc\.gz$")


def resource(sink, n: int, size: int = 200):
    payload = b"%06d" % n + os.urandom(size)  # incompressible: sizes on disk are predictable
    return sink.builder.create_warc_record(f"http://example.org/{n}", "resource", payload=BytesIO(payload),
                                           length=len(payload), warc_content_type="text/plain")


def settings_for(tmp_path, **storage):
    s = capture_settings(tmp_path / "storage")
    return s.model_copy(update={"storage": s.storage.model_copy(update={"warc_prefix": "test", **storage})})


def read_ids(path):
    with open(path, "rb") as fh:
        return [r.rec_headers.get_header("WARC-Record-ID") for r in ArchiveIterator(fh)]


def test_open_then_finished_name_and_refs(tmp_path):
    s = settings_for(tmp_path)
    sink = WarcSink(s)
    [ref] = sink.write_records([resource(sink, 1)])
    assert NAME.match(ref.warc_file)
    root = s.storage.root
    assert (root / (ref.warc_file + ".open")).exists() and not (root / ref.warc_file).exists()
    sink.close()
    assert (root / ref.warc_file).exists() and not list((root / "warcs").glob("*.open"))
    assert read_ids(root / ref.warc_file)[1] == ref.record_id
    assert sink.finished == [ref.warc_file]


def test_rotation_at_max_bytes(tmp_path):
    s = settings_for(tmp_path, warc_max_bytes=3000)
    with WarcSink(s) as sink:
        refs = [sink.write_records([resource(sink, i, 2000)])[0] for i in range(6)]
    files = sorted({r.warc_file for r in refs})
    assert len(files) >= 3
    serials = [int(f.split("-")[2]) for f in files]
    assert serials == sorted(serials) and len(set(serials)) == len(serials)
    for f in files:
        path = s.storage.root / f
        assert path.stat().st_size <= 3000 or len(read_ids(path)) == 2  # one record may exceed on its own
        assert read_ids(path)[0] is not None
    for r in refs:  # each ref is readable at its offset
        with open(s.storage.root / r.warc_file, "rb") as fh:
            fh.seek(r.offset)
            assert next(iter(ArchiveIterator(fh))).rec_headers.get_header("WARC-Record-ID") == r.record_id


def test_finished_files_rows_and_manifest(tmp_path, Session):
    s = settings_for(tmp_path)
    sink = WarcSink(s, Session)
    ref = sink.write_records([resource(sink, 1)])[0]
    with Session() as db:
        row = db.scalar(select(WarcFile).where(WarcFile.path == ref.warc_file))
        assert row.state == "open"
    sink.close()
    with Session() as db:
        row = db.scalar(select(WarcFile).where(WarcFile.path == ref.warc_file))
        assert row.state == "finished" and row.size == (s.storage.root / ref.warc_file).stat().st_size
        entries = db.scalars(select(ManifestEntry)).all()
        assert [e.path for e in entries] == [ref.warc_file] and entries[0].sha256 == row.sha256


def test_torn_tail_is_repaired_on_start(tmp_path, Session):
    s = settings_for(tmp_path)
    sink = WarcSink(s, Session)
    refs = [sink.write_records([resource(sink, i)])[0] for i in range(3)]
    open_path = s.storage.root / (refs[0].warc_file + ".open")
    # simulate a crash: the process dies mid-record (half a gzip member, then garbage)
    sink._fh.flush()
    good_size = open_path.stat().st_size
    with open(open_path, "ab") as fh:
        member = BytesIO()
        from archiver.capture.warcfile import _GzipMember
        from warcio.warcwriter import WARCWriter
        gz = _GzipMember(member)
        WARCWriter(gz, gzip=False, warc_version="1.1").write_record(resource(sink, 99, 5000))
        gz.finish()
        fh.write(member.getvalue()[: len(member.getvalue()) // 2])
    fcntl.flock(sink._fh.fileno(), fcntl.LOCK_UN)  # the dead process no longer holds its lock
    sink._fh.close()
    sink._fh = None

    sink2 = WarcSink(s, Session)
    assert sink2.repaired == [refs[0].warc_file]
    final = s.storage.root / refs[0].warc_file
    assert final.stat().st_size == good_size and not open_path.exists()
    assert read_ids(final)[1:] == [r.record_id for r in refs]
    assert subprocess.run([sys.executable, "-m", "warcio.cli", "check", str(final)]).returncode == 0
    with Session() as db:
        assert db.scalar(select(WarcFile.state).where(WarcFile.path == refs[0].warc_file)) == "finished"
        assert db.scalar(select(ManifestEntry.path)) == refs[0].warc_file
    sink2.close()


def test_garbage_only_tail_and_live_files_left_alone(tmp_path):
    s = settings_for(tmp_path)
    live = WarcSink(s)
    ref = live.write_records([resource(live, 1)])[0]
    live._fh.flush()
    other = WarcSink(s)  # another process starting while `live` writes
    assert other.repaired == []
    assert (s.storage.root / (ref.warc_file + ".open")).exists()
    live.close()
    other.close()
    # garbage after complete members is cut
    path = s.storage.root / ref.warc_file
    data = path.read_bytes()
    assert complete_members_end(BytesIO(data + b"\x1f\x8bgarbage")) == len(data)
    assert complete_members_end(BytesIO(b"not gzip at all")) == 0


def test_threads_share_one_sink(tmp_path):
    s = settings_for(tmp_path)
    sink = WarcSink(s)
    refs, lock = [], threading.Lock()

    def work(k):
        for i in range(20):
            r = sink.write_records([resource(sink, k * 100 + i, 3000)])
            with lock:
                refs.extend(r)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sink.close()
    path = s.storage.root / refs[0].warc_file
    assert sorted(read_ids(path)[1:]) == sorted(r.record_id for r in refs)
    spans = sorted((r.offset, r.length) for r in refs)
    for (o1, l1), (o2, _) in zip(spans, spans[1:]):
        assert o1 + l1 == o2  # contiguous, never interleaved


def test_gzip_level_is_the_configured_one_and_members_stay_standard(tmp_path):
    """storage.warc_gzip_level trades size for speed; any level reads back with warcio and gzip."""
    import gzip

    text = b"<p>The ministry published the plan for water and gas contracts.</p>\n" * 400
    sizes = {}
    for level in (1, 9):
        s = settings_for(tmp_path / str(level), warc_gzip_level=level)
        sink = WarcSink(s)
        rec = sink.builder.create_warc_record("http://example.org/p", "resource", payload=BytesIO(text),
                                              length=len(text), warc_content_type="text/html")
        [ref] = sink.write_records([rec])
        sink.close()
        sizes[level] = ref.length
        path = s.storage.root / ref.warc_file
        with open(path, "rb") as fh:
            [_, got] = [r.content_stream().read() for r in ArchiveIterator(fh)]
        assert got == text
        assert text in gzip.decompress(path.read_bytes())
    assert sizes[1] > sizes[9]


def test_a_sink_starting_meanwhile_never_takes_a_file_being_created_for_a_leftover(tmp_path, monkeypatch):
    """Another process's sink repairs every ``.open`` file nobody holds when it starts. Between
    creating a new file and locking it (a GIL switch away under load) such a repair must not see
    it: it would take the empty file for a crash's leftover and delete it under its writer."""
    import archiver.capture.warcfile as wf

    s = settings_for(tmp_path)
    sink = WarcSink(s)
    real, repaired, started = fcntl.flock, [], []

    def flock_with_a_repair_first(fd, op):
        if not started:  # the first lock a new file takes: another sink starts right before it
            started.append(True)
            repaired.append(wf.repair_open_files(sink.dir, sink.root, lambda *a: None))
        return real(fd, op)

    monkeypatch.setattr(wf.fcntl, "flock", flock_with_a_repair_first)
    [ref] = sink.write_records([resource(sink, 1)])
    monkeypatch.setattr(wf.fcntl, "flock", real)
    sink.close()
    assert repaired == [[]]  # it found nothing to repair
    assert read_ids(s.storage.root / ref.warc_file)[1] == ref.record_id
    assert not list((s.storage.root / "warcs").glob("*.creating")) and not list(sink.dir.glob("*.open"))


def test_without_hard_links_a_new_file_is_renamed_into_place(tmp_path, monkeypatch):
    """Some network shares refuse hard links: the new file is then renamed to its .open name."""
    import archiver.capture.warcfile as wf

    def no_links(src, dst):
        raise PermissionError(1, "Operation not permitted")

    s = settings_for(tmp_path)
    sink = WarcSink(s)
    monkeypatch.setattr(wf.os, "link", no_links)
    [ref] = sink.write_records([resource(sink, 1)])
    sink.close()
    assert read_ids(s.storage.root / ref.warc_file)[1] == ref.record_id
    assert not list(sink.dir.glob("*.creating")) and not list(sink.dir.glob("*.open"))
