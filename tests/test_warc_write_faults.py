"""A WARC write that fails half-way (disk full, file size limit) never leaves a wrong offset behind,
and `verify` notices a torn gzip member at the end of a finished file (issue 9)."""
from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap

import pytest
from sqlalchemy import func, select

from archiver.capture.warcfile import complete_members_end
from archiver.db.tables import Capture
from archiver.errors import ArchiveError
from archiver.export.records import read_record
from archiver.export.verify import verify_storage
from tests.stores import Records, capture_row


class _FullDisk:
    """A file that writes part of the next buffer and then fails with ENOSPC, once."""

    def __init__(self, fh, after: int):
        self._fh, self._after, self.failed = fh, after, False

    def write(self, data):
        if not self.failed and len(data) > self._after:
            self._fh.write(data[: self._after])
            self.failed = True
            raise OSError(errno.ENOSPC, "No space left on device")
        return self._fh.write(data)

    def __getattr__(self, name):
        return getattr(self._fh, name)


def test_a_failed_write_is_cut_back_and_later_offsets_are_right(tmp_path, settings, Session):
    body = os.urandom(20000)  # incompressible: the record is bigger than the failing write
    with Records(settings, Session) as w:
        first = w.response("http://a.example/1", body)
        w.sink._fh = _FullDisk(w.sink._fh, after=5000)
        with pytest.raises(ArchiveError, match="cut back"):
            w.response("http://a.example/2", body)
        assert w.sink._fh.failed
        third = w.response("http://a.example/3", body)
        assert third.offset == first.offset + first.length  # the torn bytes are gone
    path = tmp_path / "storage" / third.warc_file
    with open(path, "rb") as fh:
        assert complete_members_end(fh) == path.stat().st_size
        for ref in (first, third):
            facts = read_record(fh, ref.offset, ref.length)
            assert facts.record_id == ref.record_id and facts.block_ok and facts.payload_ok
    with Session() as s:
        s.add_all([capture_row(first), capture_row(third)])
        s.commit()
        report = verify_storage(s, tmp_path / "storage")
    assert report.ok, [p.line() for p in report.problems]


def test_file_size_limit_in_a_real_process(tmp_path, settings, Session, config_file):
    """`ulimit -f`: the kernel refuses writes past the limit (EFBIG); the writer cuts back each time."""
    script = textwrap.dedent(f"""
        import os, resource, signal, sys
        sys.path.insert(0, {str(os.getcwd())!r})
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        from archiver.config import load_settings
        from archiver.db.session import make_engine, make_sessionmaker
        from archiver.errors import ArchiveError
        from tests.stores import Records, capture_row
        settings = load_settings({str(config_file)!r}, env={{}})
        Session = make_sessionmaker(make_engine(settings))
        ok = failed = 0
        db = settings.database.url.removeprefix("sqlite:///")
        limit = max(os.path.getsize(db) if os.path.exists(db) else 0, 0) + 300_000  # the database still fits
        with Records(settings, Session) as w:
            hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
            refs = []
            for i in range(60):
                try:
                    refs.append(w.response(f"http://limit.example/{{i}}", os.urandom(9000)))
                    ok += 1
                except ArchiveError:
                    failed += 1
            resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
        with Session() as s:
            s.add_all(capture_row(r) for r in refs)
            s.commit()
        print(ok, failed)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert out.returncode == 0, out.stderr
    ok, failed = map(int, out.stdout.split())
    assert ok > 5 and failed > 0
    for path in (tmp_path / "storage" / "warcs").glob("*.warc.gz"):
        with open(path, "rb") as fh:
            assert complete_members_end(fh) == path.stat().st_size, path.name
    with Session() as s:
        assert s.scalar(select(func.count()).select_from(Capture)) == ok
        report = verify_storage(s, tmp_path / "storage")
    assert report.ok, [p.line() for p in report.problems]


@pytest.mark.tampers
def test_verify_finds_a_torn_member_the_manifest_was_computed_over(tmp_path, settings, Session):
    with Records(settings, Session) as w:
        ref = w.response("http://torn.example/", b"<html>evidence</html>")
        member = open(tmp_path / "storage" / (ref.warc_file + ".open"), "rb").read()[ref.offset:]
        torn = member[: len(member) // 2]  # what a write cut by a size limit leaves
        w.sink._fh.write(torn)
        w.sink._hash.update(torn)
        w.sink._size += len(torn)
    with Session() as s:
        s.add(capture_row(ref))
        s.commit()
        report = verify_storage(s, tmp_path / "storage")
    kinds = [p.kind for p in report.problems]
    assert kinds == ["torn_record"], [p.line() for p in report.problems]
    assert report.problems[0].offset == ref.offset + ref.length
