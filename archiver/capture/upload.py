"""SpoolUploader: finished WARC files from a worker's spool (``<storage.root>/warcs``) to the object store.

A finished file is uploaded, checked (archiver.store.s3: its size, and its bytes read back
against the sha256 computed while writing), its ``warc_files.location`` set, and only then is
the spool copy removed (``storage.keep_local`` keeps it). One uploader thread at a time per sink,
and an exclusive ``flock`` per file, so two sinks on one spool never upload or remove a file
twice. A file whose upload failed stays in the spool (one error line) and, like one a killed pass
left behind (finished, or ``.open`` and repaired by the sink), goes up when the next sink starts.
"""
from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import threading
from pathlib import Path
from typing import BinaryIO, Callable

from ..errors import StoreError
from ..store import Store

log = logging.getLogger(__name__)


class SpoolUploader:
    def __init__(self, store: Store, spool: Path, keep_local: bool, sessionmaker: Callable | None = None):
        self.store, self.dir, self.keep_local, self.sessionmaker = store, Path(spool), keep_local, sessionmaker
        self.waiting: list[tuple[str, int, str]] = []  # (rel, size, sha256) of finished files to upload
        self.uploaded: list[str] = []
        self.failures: list[str] = []
        self._lock = threading.Lock()

    def run(self) -> list[str]:
        """Upload the files finished so far (one thread at a time; writers go on meanwhile)."""
        done = []
        with self._lock:
            while self.waiting:
                rel, size, sha256 = self.waiting.pop(0)
                if self._upload(rel, size, sha256):
                    done.append(rel)
        return done

    def _upload(self, rel: str, size: int, sha256: str) -> bool:
        path = self.dir / Path(rel).name
        try:
            fh = open(path, "rb")
        except FileNotFoundError:
            return False  # another sink on this spool uploaded it
        with fh:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # one uploader per file
            except OSError:
                return False
            if not path.exists():
                return False
            try:
                if os.fstat(fh.fileno()).st_size != size:
                    raise StoreError(f"{rel} is {os.fstat(fh.fileno()).st_size} bytes, {size} when it was finished")
                self.store.put_file(path, rel, sha256=sha256)
                self._set_location(rel, self.store.url)
            except (StoreError, OSError) as exc:
                log.error("could not upload %s to %s (%s); it stays in %s and is uploaded when the next "
                          "pass starts", rel, self.store.url, exc, self.dir)
                self.failures.append(rel)
                return False
            if not self.keep_local:
                path.unlink()
                _fsync_dir(self.dir)
        self.uploaded.append(rel)
        return True

    def _set_location(self, rel: str, location: str) -> None:
        if self.sessionmaker is None:
            return
        from sqlalchemy import update

        from ..db.tables import WarcFile
        with self.sessionmaker() as session:
            session.execute(update(WarcFile).where(WarcFile.path == rel).values(location=location))
            session.commit()

    def queue_leftovers(self, record_finished: Callable[[str, int, str], None]) -> None:
        """Queue the finished files in the spool not yet in the store: a failed upload, or a pass
        killed between finishing a file and uploading it (or between renaming it and recording it,
        when ``record_finished`` records it now)."""
        rows = {}
        if self.sessionmaker is not None:
            from sqlalchemy import select

            from ..db.tables import WarcFile
            with self.sessionmaker() as session:
                for path in sorted(self.dir.glob("*.warc.gz")):
                    row = session.scalar(select(WarcFile).where(WarcFile.path == _rel(path)))
                    if row is not None:
                        rows[row.path] = (row.state, row.sha256, row.size, row.location)
        for path in sorted(self.dir.glob("*.warc.gz")):
            rel = _rel(path)
            state, sha256, size, location = rows.get(rel, (None, None, None, None))
            if location:  # uploaded and checked; only its spool copy is left
                if not self.keep_local and self.store.size(rel) == path.stat().st_size:
                    path.unlink(missing_ok=True)
                continue
            if state == "finished" and sha256 and size == path.stat().st_size:
                self.waiting.append((rel, size, sha256))
                continue
            with open(path, "rb") as fh:
                try:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    continue  # a live sink is finishing or uploading it
                sha256, size = _sha256_of(fh)
                if state == "finished":  # the spool copy differs from what was recorded: never upload it
                    log.error("%s differs from its warc_files row (sha256 %s, %s bytes): not uploaded; "
                              "run `archiver verify`", rel, sha256, size)
                    continue
                record_finished(rel, size, sha256)  # queues it


def _rel(path: Path) -> str:
    return f"warcs/{path.name}"


def _sha256_of(fh: BinaryIO) -> tuple[str, int]:
    h, size = hashlib.sha256(), 0
    while buf := fh.read(1 << 20):
        h.update(buf)
        size += len(buf)
    return h.hexdigest(), size


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
