"""Read one record back with one seek, by (warc_file, offset) as stored in the database.

``warc_file`` is relative to ``storage.root`` and must stay inside
``<storage.root>/warcs``: it comes from the database, but a path is never
trusted. A file still being written (``….warc.gz.open``) is read too. ``storage``
is a storage root or a :class:`archiver.store.Store`: with object storage, a file
is read from the local spool while it is there (being written, waiting for its
upload, or kept), else from the store by ranged GETs (:func:`open_warc`).

- :func:`open_record` – the warcio record (headers parsed, streams unread)
- :func:`open_payload` – HTTP headers + the body with chunking and Content-Encoding undone
- :func:`raw_payload` – HTTP headers + the body with chunking undone and Content-Encoding kept;
  its SHA-256 is ``Capture.sha256`` (for a record that is not truncated)

Revisit records hold no payload: :func:`open_payload` and :func:`raw_payload`
follow ``WARC-Refers-To`` through ``locate`` (record id → (warc_file, offset));
:func:`db_locator` builds one over the Capture rows.
"""
from __future__ import annotations

from pathlib import Path
from typing import BinaryIO, Callable

from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import ChunkedDataReader
from warcio.exceptions import ArchiveLoadFailed

from ..errors import ArchiveError
from ..net.decode import DecodedReader
from ..store import Store, as_store
from .warcfile import OPEN_SUFFIX

Locator = Callable[[str], "tuple[str, int] | None"]
DEFAULT_MAX_DECODED = 2_000_000_000  # fetch.max_bytes's default


def confined_warc_path(storage_root: str | Path, warc_file: str) -> Path:
    """Where ``warc_file`` (a path from the database) lives, refused unless inside <root>/warcs.

    The one path guard for WARC files: readers, verification, export and the manifest use it."""
    root = Path(storage_root).resolve()
    base = (root / "warcs").resolve()
    rel = Path(str(warc_file))
    if rel.is_absolute() or ".." in rel.parts or "\x00" in str(warc_file):
        raise ArchiveError(f"refusing WARC path outside the storage root: {warc_file!r}", file=str(warc_file))
    path = (root / rel).resolve()
    if base not in path.parents:
        raise ArchiveError(f"refusing WARC path outside {base}: {warc_file!r}", file=str(warc_file))
    return path


def warc_path(storage_root: str | Path, warc_file: str) -> Path:
    """The existing file for ``warc_file`` (its ``.open`` form while still being written)."""
    path = confined_warc_path(storage_root, warc_file)
    if not path.is_file():
        still_open = path.with_name(path.name + OPEN_SUFFIX)
        if still_open.is_file():
            return still_open
        raise ArchiveError(f"WARC file not found: {warc_file}", file=str(warc_file))
    return path


def open_warc(storage: "str | Path | Store", warc_file: str) -> BinaryIO:
    """The WARC file ``warc_file``, open for reading and seekable: the spool copy under the root
    (finished, else ``.open``), else the object in the store. ArchiveError when it is nowhere."""
    store = as_store(storage)
    path = confined_warc_path(store.root, warc_file)
    for candidate in (path, path.with_name(path.name + OPEN_SUFFIX)):
        try:
            return open(candidate, "rb")
        except (FileNotFoundError, IsADirectoryError):
            continue
    if store.remote:
        try:
            return store.open(warc_file)
        except FileNotFoundError:
            pass
    raise ArchiveError(f"WARC file not found: {warc_file}", file=str(warc_file))


class _RecordStream:
    """A payload stream that closes the WARC file with it."""

    def __init__(self, stream, fh: BinaryIO):
        self._stream = stream
        self._fh = fh

    def read(self, n: int | None = -1) -> bytes:
        if n is None or n < 0:
            return _read_all(self._stream)
        return self._stream.read(n)

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._fh.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __iter__(self):
        while True:
            buf = self._stream.read(65536)
            if not buf:
                return
            yield buf


def _read_all(stream) -> bytes:
    out = bytearray()
    while True:
        buf = stream.read(1 << 20)
        if not buf:
            return bytes(out)
        out += buf


def open_record(storage_root: "str | Path | Store", warc_file: str, offset: int):
    """The warcio ArcWarcRecord at ``offset`` (one seek). Its streams read from the open file."""
    fh = open_warc(storage_root, warc_file)
    try:
        fh.seek(int(offset))
        # Each record is its own gzip member: anything else at the offset is a wrong offset, not a
        # stream to scan (warcio would otherwise skip ahead and return some later record).
        if str(warc_file).endswith(".gz") and fh.read(2) != b"\x1f\x8b":
            raise ValueError("not the start of a gzip member")
        fh.seek(int(offset))
        record = next(iter(ArchiveIterator(fh, check_digests=False)))
    except (StopIteration, ArchiveLoadFailed, ValueError, OSError, EOFError) as exc:
        fh.close()
        raise ArchiveError(f"no WARC record at {warc_file}:{offset} ({exc or type(exc).__name__})",
                           file=warc_file, offset=offset) from exc
    record._archiver_fh = fh  # keeps the file open as long as the record lives
    return record


def _follow(storage_root, warc_file, offset, locate: Locator | None):
    record = open_record(storage_root, warc_file, offset)
    headers = record.http_headers
    seen = 0
    while record.rec_type == "revisit":
        target = record.rec_headers.get_header("WARC-Refers-To")
        where = locate(target) if (locate and target) else None
        record._archiver_fh.close()
        if where is None or seen > 5:
            raise ArchiveError(f"revisit record at {warc_file}:{offset} refers to {target}, which was not found",
                               file=warc_file, offset=offset)
        record = open_record(storage_root, where[0], where[1])
        seen += 1
    if record.rec_type not in ("response", "resource"):
        record._archiver_fh.close()
        raise ArchiveError(f"record at {warc_file}:{offset} is a {record.rec_type} record, not a response",
                           file=warc_file, offset=offset)
    return headers if headers is not None else record.http_headers, record


def open_payload(storage_root: "str | Path | Store", warc_file: str, offset: int, *, locate: Locator | None = None,
                 max_bytes: int = DEFAULT_MAX_DECODED):
    """(HTTP headers, payload stream) with chunking and Content-Encoding undone. Close the stream.

    At most ``max_bytes`` decoded bytes come out (pass ``fetch.max_bytes``): the record holds the
    body as sent, and a few MB of gzip can inflate to gigabytes. The stream's ``truncated`` says
    when the body decoded to more; decoding is ours (archiver.net.decode), not warcio's, which
    inflates without a bound."""
    headers, record = _follow(storage_root, warc_file, offset, locate)
    http = record.http_headers
    coding = http.get_header("Content-Encoding") if http is not None else None
    stream = _RecordStream(_dechunked(record), record._archiver_fh)
    return headers, DecodedReader(stream, coding, max_bytes)


def raw_payload(storage_root: "str | Path | Store", warc_file: str, offset: int, *, locate: Locator | None = None):
    """(HTTP headers, payload stream) as sent: chunking undone, Content-Encoding kept. Close the stream."""
    headers, record = _follow(storage_root, warc_file, offset, locate)
    return headers, _RecordStream(_dechunked(record), record._archiver_fh)


def _dechunked(record):
    stream = record.raw_stream
    http = record.http_headers
    if http is not None and "chunked" in (http.get_header("Transfer-Encoding") or "").lower():
        stream = ChunkedDataReader(stream, raise_exceptions=False)
    return stream


def locate_record(session, record_id: str) -> "tuple[str, int] | None":
    """(warc_file, offset) of the record with this WARC-Record-ID, from the Capture rows."""
    from sqlalchemy import select

    from ..db.tables import Capture

    row = session.execute(select(Capture.warc_file, Capture.offset)
                          .where(Capture.record_id == record_id).limit(1)).first()
    return (row[0], row[1]) if row else None


def db_locator(sessionmaker) -> Locator:
    """A Locator that opens its own session for each lookup."""

    def locate(record_id: str):
        with sessionmaker() as session:
            return locate_record(session, record_id)
    return locate
