"""WarcSink: the only writer of WARC files (rotating WARC/1.1, one gzip member per record).

Files are named ``<prefix>-<YYYYMMDDhhmmssffffff>-<serial>-<host>.warc.gz`` under
``<storage.root>/warcs/``, written as ``….warc.gz.open`` (with an exclusive
``flock`` held) and renamed when finished; a finished file is never written again
and is appended to the hash-chained manifest. Records are first written
(compressed) to a temp file outside the lock, then copied to the WARC file in
one go under the lock, so several fetch threads can share one sink and every
record's offset and length are known.

Crash safety: on start, each leftover ``*.warc.gz.open`` nobody holds a lock on
is repaired: its gzip members are scanned, the torn tail after the last complete
member is cut off, and the file is finished. Records already written are kept. A new
file is locked before it takes its ``.open`` name, so a repair never sees it unlocked.

Object storage (``storage.url``): objects cannot be appended to, so ``<storage.root>/warcs``
is the spool where each worker writes its own files; a finished file is uploaded outside the
writers' lock by :class:`archiver.capture.upload.SpoolUploader`.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import platform
import re
import socket
import tempfile
import threading
import time
import zlib
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO, Callable, Sequence

import requests
import urllib3
import warcio
from warcio.recordbuilder import RecordBuilder
from warcio.warcwriter import WARCWriter

from .. import __version__ as archiver_version
from ..config import Settings
from ..errors import ArchiveError
from ..model import WarcRef
from ..store import open_store
from .upload import SpoolUploader

log = logging.getLogger(__name__)

WARC_VERSION = "WARC/1.1"
CONFORMS_TO = "http://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/"
SPOOL_BYTES = 1 << 20  # records of one exchange staged in memory up to this size
OPEN_SUFFIX = ".open"
CREATING_SUFFIX = ".creating"  # a new file until it is locked (WarcSink._open_new)
_GZIP_LEVEL = 4  # the default of storage.warc_gzip_level (warcio and wget use 9: several times slower for a few %)
# WARC 1.1 §5.9: WARC-Payload-Digest "shall not be used on records without a well-defined payload";
# a metadata block (warc-fields, a PEM chain) has none. warcio adds one to every type but these.
_NO_PAYLOAD_DIGEST = ("warcinfo", "revisit", "metadata")


class _Builder(RecordBuilder):
    NO_PAYLOAD_DIGEST_TYPES = _NO_PAYLOAD_DIGEST


class _Writer(WARCWriter):
    NO_PAYLOAD_DIGEST_TYPES = _NO_PAYLOAD_DIGEST


_writers = threading.local()


def _writer_to(out) -> _Writer:
    """This thread's warcio writer, writing to ``out`` (warcio asks the host name of the system
    for every writer it builds: one per record was a system call per record)."""
    w = getattr(_writers, "w", None)
    if w is None:
        w = _writers.w = _Writer(out, gzip=False, warc_version=WARC_VERSION)
    w.out = out
    return w


class _GzipMember:
    """File-like that compresses everything written to it into one gzip member."""

    def __init__(self, out: BinaryIO, level: int = _GZIP_LEVEL):
        self._out = out
        self._z = zlib.compressobj(level, zlib.DEFLATED, zlib.MAX_WBITS + 16)

    def write(self, data: bytes) -> int:
        self._out.write(self._z.compress(data))
        return len(data)

    def flush(self) -> None:  # called by warcio after each record; the member ends in finish()
        pass

    def finish(self) -> None:
        self._out.write(self._z.flush())


def software_versions() -> str:
    return (f"archiver/{archiver_version} warcio/{_version(warcio)} requests/{requests.__version__} "
            f"urllib3/{urllib3.__version__} python/{platform.python_version()}")


def _version(module) -> str:
    try:
        from importlib.metadata import version
        return version(module.__name__)
    except Exception:  # pragma: no cover
        return getattr(module, "__version__", "unknown")


def parse_warc_date(value: str | None) -> datetime:
    if not value:
        return datetime.now(timezone.utc)
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def ref_from_record(record, warc_file: str, offset: int, length: int, **extra: Any) -> WarcRef:
    """The WarcRef for a record we just wrote (headers only; ``extra`` adds what headers do not say)."""
    h = record.rec_headers
    http = record.http_headers
    payload_length = extra.pop("payload_length", None)
    if payload_length is None and record.payload_length is not None and record.payload_length >= 0:
        payload_length = record.payload_length
    kwargs = dict(
        warc_file=warc_file, offset=offset, length=length,
        record_id=h.get_header("WARC-Record-ID"), url=h.get_header("WARC-Target-URI") or "",
        captured_at=parse_warc_date(h.get_header("WARC-Date")),
        http_status=int(http.get_statuscode()) if http is not None and http.get_statuscode().isdigit() else None,
        content_type=http.get_header("Content-Type") if http is not None else None,
        payload_digest=h.get_header("WARC-Payload-Digest"), block_digest=h.get_header("WARC-Block-Digest"),
        payload_length=payload_length, truncated=bool(h.get_header("WARC-Truncated")),
        is_revisit=record.rec_type == "revisit", revisit_of=h.get_header("WARC-Refers-To"),
        ip_address=h.get_header("WARC-IP-Address"))
    kwargs.update(extra)
    return WarcRef(**kwargs)


class WarcSink:
    """Append records to the current WARC file; rotate, finish, and repair torn files."""

    def __init__(self, settings: Settings, sessionmaker: Callable | None = None, *,
                 hostname: str | None = None, repair: bool = True):
        self.settings = settings
        self.root = Path(settings.storage.root)
        self.dir = self.root / "warcs"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.sessionmaker = sessionmaker
        self.hostname = re.sub(r"[^A-Za-z0-9.-]", "_", hostname or socket.gethostname()) or "host"
        self.builder = _Builder(warc_version=WARC_VERSION)
        self._lock = threading.Lock()
        self._fh: BinaryIO | None = None
        self._name: str | None = None
        self._hash = None
        self._size = 0
        self._records = 0
        self._serial = 0
        self.finished: list[str] = []  # relative paths finished by this sink, in order
        self.store = open_store(settings.storage)
        self.uploads = SpoolUploader(self.store, self.dir, settings.storage.keep_local, sessionmaker)
        if repair:
            self.repaired = repair_open_files(self.dir, self.root, self._record_finished)
            if self.store.remote:
                self.uploads.queue_leftovers(self._record_finished)
                self.uploads.run()

    # ---- writing ---------------------------------------------------------------------------

    def write_records(self, records: Sequence, extras: Sequence[dict] | None = None) -> list[WarcRef]:
        """Write warcio records (built with ``self.builder``) contiguously; one WarcRef each."""
        extras = list(extras or [{} for _ in records])
        # compressed in memory up to SPOOL_BYTES, on disk past that: creating a file per page on
        # the data disk cost ~0.4 ms a page (O_TMPFILE on ext4), most of a small page's writing
        with tempfile.SpooledTemporaryFile(SPOOL_BYTES, dir=self.dir, prefix=".rec-") as tmp:
            spans = []
            for rec in records:
                start = tmp.tell()
                member = _GzipMember(tmp, self.settings.storage.warc_gzip_level)
                _writer_to(member).write_record(rec)
                member.finish()
                spans.append((start, tmp.tell() - start))
            total = tmp.tell()
            with self._lock:
                self._ensure_room(total)
                base = self._size
                self._append(tmp, base, total)
                self._size += total
                self._records += len(records)
                rel = self._rel(self._name)
            if self.uploads.waiting:  # a rotation finished a file: upload it outside the writers' lock
                self.uploads.run()
        return [ref_from_record(rec, rel, base + start, length, **extra)
                for rec, (start, length), extra in zip(records, spans, extras)]

    def _append(self, tmp: BinaryIO, base: int, total: int) -> None:
        """Copy the staged records to the end of the current file, or leave the file as it was.

        A failed write (no space left, a file size limit) may have put part of the records on
        disk: the file is cut back to ``base``, the last good record's end, so no offset after it
        is ever wrong; if even that fails, the file is given up (finished as it is: repair on the
        next start cuts any torn tail) and the next write starts a new one. An offset is only
        handed out once the bytes are flushed and the file's size is what we expect."""
        h = self._hash.copy()
        tmp.seek(0)
        try:
            while buf := tmp.read(1 << 20):
                _write_all(self._fh, buf)
                h.update(buf)
            if self._fh.tell() != base + total:
                raise OSError(f"{self._name} is {self._fh.tell()} bytes after a write, expected {base + total}")
        except OSError as exc:
            self._cut_back(base)
            raise ArchiveError(f"writing a record to {self._name} failed ({exc}); the file was cut back to "
                               f"its last complete record", file=self._name) from exc
        self._hash = h

    def _cut_back(self, base: int) -> None:
        try:
            self._fh.truncate(base)
            self._fh.seek(base)
            os.fsync(self._fh.fileno())
            if os.fstat(self._fh.fileno()).st_size == base:
                return
        except OSError:
            pass
        log.error("could not cut %s back to %d bytes: starting a new WARC file", self._name, base)
        fh, name = self._fh, self._name
        self._fh = self._name = None
        try:
            fh.close()  # releases the lock: the next start's repair finishes it, torn tail cut
        except OSError:
            pass
        log.warning("%s left open for repair", name)

    def close(self) -> None:
        """Finish the current file (if any)."""
        with self._lock:
            if self._fh is not None:
                self._finish_current()
        self.uploads.run()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def current_file(self) -> str | None:
        return self._rel(self._name) if self._name else None

    # ---- files ------------------------------------------------------------------------------

    def _rel(self, name: str) -> str:
        return f"warcs/{name}"

    def _ensure_room(self, incoming: int) -> None:
        if self._fh is not None and self._records and self._size + incoming > self.settings.storage.warc_max_bytes:
            self._finish_current()
        if self._fh is None:
            self._open_new()

    def _open_new(self) -> None:
        # Created under a name repair() does not look at, locked, then given its ``.open`` name:
        # a sink starting in another process (a fetch lane, a worker) repairs every ``.open`` file
        # nobody holds, and between creating a file and locking it (a GIL switch away, under load)
        # it would take this one for a crash's empty leftover and delete it under its writer
        # (tests/test_warcfile.py shows it; the likely cause of a lane test's `verify` failure)
        while True:
            stamp = datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S%f")
            name = f"{self.settings.storage.warc_prefix}-{stamp}-{self._serial:05d}-{self.hostname}.warc.gz"
            self._serial += 1
            path = self.dir / (name + OPEN_SUFFIX)
            if (self.dir / name).exists():
                continue
            creating = self.dir / f"{name}.{os.getpid()}{CREATING_SUFFIX}"
            try:
                fh = open(creating, "xb", buffering=0)  # unbuffered: a failed write leaves nothing pending
            except FileExistsError:
                continue
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # repair() skips files someone holds
            try:
                os.link(creating, path)  # (never replaces a file of the same name, unlike a rename)
                creating.unlink()
                break
            except FileExistsError:
                pass
            except OSError:  # a filesystem without hard links (some network shares): checked, then renamed
                if not path.exists():
                    os.rename(creating, path)
                    break
            fh.close()  # the name was taken meanwhile: another one
            creating.unlink()
        self._fh, self._name, self._hash, self._size, self._records = fh, name, hashlib.sha256(), 0, 0
        info = self.builder.create_warcinfo_record(name, self._warcinfo())
        with tempfile.TemporaryFile(dir=self.dir) as tmp:
            member = _GzipMember(tmp, self.settings.storage.warc_gzip_level)
            _writer_to(member).write_record(info)
            member.finish()
            tmp.seek(0)
            data = tmp.read()
        _write_all(fh, data)
        self._hash.update(data)
        self._size = len(data)
        self._db_open(self._rel(name))

    def _warcinfo(self) -> dict:
        red = self.settings.redacted()
        return {
            "software": software_versions(),
            "format": "WARC File Format 1.1",
            "conformsTo": CONFORMS_TO,
            "hostname": socket.gethostname(),
            "operator": "archiver",
            "configuration": json.dumps({"fetch": red["fetch"], "resolver": red["resolver"]},
                                        sort_keys=True, separators=(",", ":")),
        }

    def _finish_current(self) -> None:
        fh, name = self._fh, self._name
        fh.flush()
        os.fsync(fh.fileno())
        final = self.dir / name
        os.rename(self.dir / (name + OPEN_SUFFIX), final)
        _fsync_dir(self.dir)
        self._fh = self._name = None
        try:  # the flock is held until the file is recorded: a sink starting meanwhile leaves it alone
            self._record_finished(self._rel(name), self._size, self._hash.hexdigest())
        finally:
            fh.close()  # releases the flock

    def _record_finished(self, rel: str, size: int, sha256: str) -> None:
        """Mark the WarcFile row finished and append the file to the manifest."""
        self.finished.append(rel)
        if self.sessionmaker is not None:
            self._db_finished(rel, size, sha256)
        if self.store.remote:
            self.uploads.waiting.append((rel, size, sha256))

    def _db_finished(self, rel: str, size: int, sha256: str) -> None:
        from sqlalchemy import select

        from ..db.tables import WarcFile
        from ..export.manifest import append_entry

        with self.sessionmaker() as session:
            row = session.scalar(select(WarcFile).where(WarcFile.path == rel))
            if row is None:
                row = WarcFile(path=rel)
                session.add(row)
            row.state, row.finished_at, row.size, row.sha256 = "finished", datetime.now(timezone.utc), size, sha256
            session.flush()
            append_entry(session, self.store, rel, sha256=sha256, size=size)  # commits

    def _db_open(self, rel: str) -> None:
        if self.sessionmaker is None:
            return
        from ..db.tables import WarcFile
        with self.sessionmaker() as session:
            session.add(WarcFile(path=rel, state="open"))
            session.commit()


def _write_all(fh, data: bytes) -> None:
    """Write all of ``data`` to an unbuffered file (a raw write may take only part of it)."""
    view = memoryview(data)
    while view:
        n = fh.write(view)
        if not n:
            raise OSError("short write")
        view = view[n:]


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class MemberScanner:
    """Finds where the last complete gzip member ends in a stream fed piece by piece (bounded
    memory): ``good`` is the offset just after it. A file of WARC records stored one gzip
    member each is whole exactly when ``good`` equals its size."""

    def __init__(self) -> None:
        self.good = 0
        self._base = 0  # stream offset of the data not yet consumed
        self._d = zlib.decompressobj(zlib.MAX_WBITS + 16)
        self._broken = False

    def feed(self, data: bytes) -> None:
        while data and not self._broken:
            try:
                self._d.decompress(data, 1 << 16)  # bounded output; the rest waits in unconsumed_tail
            except zlib.error:
                self._broken = True  # nothing after this point is a complete member
                return
            if self._d.eof:
                rest = self._d.unused_data
                self.good = self._base = self._base + len(data) - len(rest)
                data = rest
                self._d = zlib.decompressobj(zlib.MAX_WBITS + 16)
            else:
                tail = self._d.unconsumed_tail
                self._base += len(data) - len(tail)
                data = tail


def complete_members_end(fh: BinaryIO) -> int:
    """Offset just after the last complete gzip member of a file (streaming; bounded memory)."""
    fh.seek(0)
    scan = MemberScanner()
    while buf := fh.read(1 << 20):
        scan.feed(buf)
    return scan.good


def repair_open_files(warc_dir: Path, root: Path, on_finished: Callable[[str, int, str], None]) -> list[str]:
    """Finish every ``*.warc.gz.open`` left by a crash (skipping files another process holds)."""
    repaired = []
    for path in warc_dir.glob("*.warc.gz.*" + CREATING_SUFFIX):  # a crash before a new file was named:
        try:  # empty (nothing is written before the .open name); a live one exists for microseconds
            if time.time() - path.stat().st_mtime > 3600:
                path.unlink()
        except OSError:
            continue
    for path in sorted(warc_dir.glob("*.warc.gz" + OPEN_SUFFIX)):
        try:
            fh = open(path, "r+b")
        except OSError:
            continue
        with fh:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # a live writer holds it
            end = complete_members_end(fh)
            if end == 0:
                log.warning("removing %s: no complete record in it", path.name)
                path.unlink()
                continue
            fh.truncate(end)
            fh.flush()
            os.fsync(fh.fileno())
            fh.seek(0)
            h = hashlib.sha256()
            for buf in iter(lambda: fh.read(1 << 20), b""):
                h.update(buf)
            final = path.with_name(path.name[: -len(OPEN_SUFFIX)])
            if final.exists():
                raise ArchiveError(f"cannot repair {path.name}: {final.name} already exists", file=str(path))
            os.rename(path, final)
            _fsync_dir(warc_dir)
            rel = final.relative_to(root).as_posix()
            log.warning("repaired %s: kept %d bytes of complete records", final.name, end)
            on_finished(rel, end, h.hexdigest())
            repaired.append(rel)
    return repaired
