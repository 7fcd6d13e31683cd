"""ArchiveTeam URLTeam dumps: import once into an indexed table, look up with one query.

Accepted input (all detected from the bytes, not the file name):

* the legacy ``shortcode|url`` lines and terroroftinytown's BEACON export
  (``#FORMAT``/``#PREFIX``/... header lines, a blank line, then mappings);
* newer exports without ``#PREFIX`` whose keys are full short URLs
  (``https://goo.gl/<code>?si=1|<url>``: the ``?si=1``/``?d=1`` is dropped);
* plain, xz, gzip, bzip2, or zip (every member, each itself possibly xz/gz).

Keys are stored as ``host/path`` (:func:`short_key`: no scheme, host lower-case
without ``www.``, code case kept), so ``https://goo.gl/mMTrEZ`` and
``goo.gl/mMTrEZ`` meet.  A ``code|url`` file without ``#PREFIX`` gets the
``prefix`` given to :func:`import_dump` (CLI ``--prefix``); when none is given we
assume ``https://goo.gl/``, the shortener this project is about.

A code may map to several URLs (URLTeam says so): every line is kept.  Lines are
UTF-8, falling back to latin-1 line by line (the exporter's own fallback).
Importing streams the file and inserts batches of ``BATCH`` rows with one
executemany each, so memory stays flat for dumps of tens of millions of lines;
the same file (by sha256) is imported only once.
"""
from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import logging
import lzma
import os
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Callable, Iterator

from sqlalchemy import insert, select

from ..bounded import OVERLONG as OVERLONG_LINE, bounded_lines
from ..db.tables import DumpEntry, DumpSource
from ..errors import InputError
from .cdx import split_url

log = logging.getLogger(__name__)

BATCH = 10_000
# Core insert on the table: executemany without the ORM's per-row bookkeeping (3x faster on 10M rows).
_INSERT = insert(DumpEntry.__table__)
DEFAULT_PREFIX = "https://goo.gl/"
MAX_KEY = 512
MAX_LINE = 1 << 16  # bytes; a longer line is no short-link mapping: skipped unread (counted)
OVERLONG = "overlong"  # iter_mappings' target for such a line
_DROP_QUERIES = ("si=1", "d=1")


def short_key(url: str) -> str | None:
    """``host/path[?query]`` of a short URL, the form dump keys and lookups share."""
    try:
        host, path, query = split_url(url.strip())
    except ValueError:
        return None
    if not host:
        return None
    key = host + path
    if query and query not in _DROP_QUERIES:
        key += "?" + query
    return key


@dataclass(frozen=True)
class ImportResult:
    dump_id: int
    name: str
    path: str
    sha256: str
    entries: int
    skipped_lines: int
    already: bool  # this file (same sha256) had been imported before
    prefix: str | None
    overlong_lines: int = 0  # lines longer than MAX_LINE bytes, skipped unread (not in skipped_lines)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _open_decompressed(raw: IO[bytes], name: str) -> Iterator[tuple[str, IO[bytes]]]:
    """Yield (member name, decompressed binary stream) by magic bytes; zip members recursively."""
    buffered = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw, 1 << 16)
    magic = buffered.peek(6)[:6]
    if magic.startswith(b"\xfd7zXZ\x00"):
        yield name, io.BufferedReader(lzma.open(buffered), 1 << 20)  # fast readline
    elif magic.startswith(b"\x1f\x8b"):
        yield name, io.BufferedReader(gzip.open(buffered), 1 << 20)
    elif magic.startswith(b"BZh"):
        yield name, io.BufferedReader(bz2.open(buffered), 1 << 20)
    elif magic.startswith(b"PK\x03\x04"):
        with zipfile.ZipFile(buffered) as zf:
            for info in zf.infolist():
                if info.is_dir() or ".meta.json" in info.filename:
                    continue
                with zf.open(info) as member:
                    yield from _open_decompressed(member, info.filename)
    else:
        yield name, buffered


def _decode(line: bytes) -> str:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        return line.decode("latin-1")


def _parse_header(lines: Iterator) -> tuple[dict[str, str], object | None]:
    """Read ``#KEY: value`` lines up to the blank line; returns (header, first data line or None)."""
    header: dict[str, str] = {}
    while True:
        line = next(lines, b"")
        if line is OVERLONG_LINE:
            return header, OVERLONG
        if not line:
            return header, None
        s = line.strip()
        if s.startswith(b"#"):
            k, _, v = _decode(s[1:]).partition(":")
            header[k.strip().upper()] = v.strip()
            continue
        if not s and header:
            continue  # the blank line after the header
        return header, line


def iter_mappings(stream: IO[bytes], prefix: str | None) -> Iterator[tuple[str | None, str | None, dict]]:
    """(key, target, header) for every line; (None, None, header) for a line we cannot use, and
    (None, OVERLONG, header) for a line longer than MAX_LINE bytes."""
    lines = bounded_lines(stream, MAX_LINE)
    header, first = _parse_header(lines)
    pfx = header.get("PREFIX") or prefix or DEFAULT_PREFIX
    pfx_key = short_key(pfx if "://" in pfx else "https://" + pfx)
    if pfx_key and not pfx_key.endswith("/"):
        pfx_key += "/"

    def all_lines():
        if first is not None:
            yield first
        yield from lines

    for raw in all_lines():
        if raw is OVERLONG_LINE or raw is OVERLONG:
            yield None, OVERLONG, header
            continue
        raw = raw.rstrip(b"\r\n")
        if not raw.strip() or raw.startswith(b"#"):
            continue
        code_b, sep, target_b = raw.partition(b"|")
        if not sep:
            yield None, None, header
            continue
        code, target = _decode(code_b).strip(), _decode(target_b).strip().replace("\x00", "")
        if code.lower().startswith(("http://", "https://")):
            key = short_key(code)
        else:
            key = (pfx_key or "") + code.lstrip("/").split("?", 1)[0]
        if not key or not target or not code or len(key) > MAX_KEY:
            yield None, None, header
            continue
        yield key, target, header


def import_dump(session_factory, path: str | os.PathLike, *, name: str | None = None,
                prefix: str | None = None, progress: Callable[[int], None] | None = None) -> ImportResult:
    """Import one dump file (once: a file already imported, by sha256, adds nothing)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"dump file not found: {path}")
    sha = file_sha256(path)
    name = name or path.name
    with session_factory() as session:
        existing = session.scalars(select(DumpSource).where(DumpSource.sha256 == sha)).first()
        if existing is not None:
            return ImportResult(existing.id, existing.name, existing.path, sha, existing.entries, 0, True,
                                existing.prefix)
        src = DumpSource(name=name, path=str(path.resolve()), sha256=sha, prefix=None, header={}, entries=0)
        session.add(src)
        session.flush()
        entries = skipped = overlong = 0
        header: dict = {}
        rows: list[dict] = []
        try:
            with open(path, "rb") as raw:
                for _member, stream in _open_decompressed(raw, path.name):
                    for key, target, header in iter_mappings(stream, prefix):
                        if key is None:
                            if target is OVERLONG:
                                overlong += 1
                            else:
                                skipped += 1
                            continue
                        rows.append({"dump_id": src.id, "key": key, "target": target})
                        if len(rows) >= BATCH:
                            session.execute(_INSERT, rows)
                            entries += len(rows)
                            rows = []
                            if progress:
                                progress(entries)
        except (OSError, EOFError, lzma.LZMAError, zipfile.BadZipFile) as exc:
            session.rollback()
            raise InputError(f"cannot read dump {path}: {exc}") from exc
        if rows:
            session.execute(_INSERT, rows)
            entries += len(rows)
            if progress:
                progress(entries)
        src.entries = entries
        src.header = header
        src.prefix = header.get("PREFIX") or prefix or (DEFAULT_PREFIX if entries else None)
        session.commit()
        log.info("dump %s: %d entries, %d lines skipped, %d longer than %d bytes", path, entries, skipped,
                 overlong, MAX_LINE)
        return ImportResult(src.id, name, src.path, sha, entries, skipped, False, src.prefix, overlong)


@dataclass(frozen=True)
class DumpHit:
    source: str
    target: str
    dump_id: int


def lookup(session, short_url: str) -> list[DumpHit]:
    """Every target the imported dumps give for ``short_url``, in file order (one indexed query)."""
    key = short_key(short_url)
    if not key:
        return []
    rows = session.execute(
        select(DumpSource.name, DumpEntry.target, DumpEntry.dump_id)
        .join(DumpSource, DumpSource.id == DumpEntry.dump_id)
        .where(DumpEntry.key == key).order_by(DumpEntry.id)).all()
    return [DumpHit(n, t, d) for n, t, d in rows]


_IMPORTED: set[tuple[str, str, int, int]] = set()  # (database, path, size, mtime_ns) known imported
_LOCK = threading.Lock()


def ensure_dumps_imported(session_factory, settings) -> list[ImportResult]:
    """Import the configured ``resolver.dumps`` files not imported yet (cheap when all are)."""
    results = []
    with _LOCK:
        for p in settings.resolver.dumps:
            p = Path(p)
            try:
                st = p.stat()
            except OSError as exc:
                log.warning("dump %s: %s", p, exc)
                continue
            marker = (settings.database_url, str(p.resolve()), st.st_size, st.st_mtime_ns)
            if marker in _IMPORTED:
                continue
            results.append(import_dump(session_factory, p))
            _IMPORTED.add(marker)
    return results
