"""`archiver verify`: re-read every stored record and every finished file, trust nothing.

Three layers, each catching what the others cannot:

1. records: every Capture row is re-read with one seek (offset, length), parsed, and
   its block digest, payload digest and our sha256 recomputed and compared with the
   record's headers *and* the database (record id and target URI too);
2. files: every finished WARC file is hashed and compared with its manifest entry, so a
   deleted, truncated, swapped or replaced file shows even where no record points, and in
   the same read its gzip members are walked, so a torn member at the end (a write cut by a
   full disk or a file size limit) shows even when the manifest was computed over it;
3. the manifest itself: its hash chain and its mirror file (manifest.verify_chain).

Everything streams; no file is ever loaded whole. With object storage (``storage.url``) a
file whose ``warc_files.location`` says it was uploaded is read from the store (ranged GETs),
never from a spool copy kept beside it; one not uploaded yet is read from the spool.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path
from typing import Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..db.tables import Capture, WarcFile
from ..errors import ArchiveError, StoreError
from .. import digests
from . import manifest
from .problems import Problem
from ..capture.read import confined_warc_path
from ..store import Store, as_store
from ..capture.warcfile import MemberScanner
from .records import CHUNK, RecordChanged, RecordFacts, RecordTruncated, RecordUnreadable, read_record

WARC_SUFFIXES = (".warc.gz", ".warc")


@dataclass
class VerifyReport:
    records_checked: int = 0
    files_checked: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict:
        return {"ok": self.ok, "records_checked": self.records_checked, "files_checked": self.files_checked,
                "problems": [p.as_dict() for p in self.problems]}


def count_records(session: Session) -> int:
    return session.scalar(select(func.count(Capture.id))) or 0


def verify_storage(session: Session, storage_root: "Path | Store",
                   on_record: Callable[[], None] | None = None) -> VerifyReport:
    """Check every record, file and manifest entry; problems are data, never raised."""
    root = as_store(storage_root)
    report = VerifyReport()
    report.problems.extend(manifest.verify_chain(session, root))
    missing: set[str] = set()
    seen_files: set[str] = set()
    rows = session.scalars(select(Capture).order_by(Capture.warc_file, Capture.offset, Capture.id)
                          .execution_options(yield_per=500))
    for rel, group in groupby(rows, key=lambda c: c.warc_file):
        captures = list(group)
        seen_files.add(rel)
        report.problems.extend(_check_file_records(session, root, rel, captures, missing, on_record))
        report.records_checked += len(captures)
    report.problems.extend(_check_files(session, root, missing, seen_files))
    report.files_checked = len(seen_files)
    return report


def open_stored(session: Session, store: Store, rel: str, location: str | None = ...):
    """The WARC file ``rel`` as verification must read it: from the store when its row says it was
    uploaded (``location``; looked up when not given), else from the spool, else from the store.
    None when it is nowhere; ArchiveError for a path or key that is refused."""
    if location is ...:
        location = session.scalar(select(WarcFile.location).where(WarcFile.path == rel))
    path = confined_warc_path(store.root, rel)
    if location:
        if not store.remote or location != store.url:
            raise ArchiveError(f"stored in {location}, but storage.url is {store.url if store.remote else 'unset'}",
                               file=rel)
        try:
            return store.open(rel)
        except FileNotFoundError:
            return None
    try:
        return open(path, "rb")
    except (FileNotFoundError, IsADirectoryError):
        pass
    if store.remote:
        try:
            return store.open(rel)
        except FileNotFoundError:
            return None
    return None


def _check_file_records(session, root, rel, captures, missing, on_record) -> list[Problem]:
    out: list[Problem] = []
    try:
        fh = open_stored(session, root, rel)
    except (ArchiveError, StoreError) as exc:
        return [Problem("unreadable_record", str(exc), file=rel, capture_id=c.id) for c in captures]
    if fh is None:
        missing.add(rel)
        for _ in captures:
            on_record and on_record()
        return [Problem("missing_file", f"file not found; {len(captures)} record(s) point into it "
                        f"(captures {_ids(captures)})", file=rel, capture_id=captures[0].id)]
    with fh:
        for c in captures:
            out.extend(check_capture(session, fh, c)[1])
            on_record and on_record()
    return out


def _ids(captures) -> str:
    ids = [str(c.id) for c in captures[:10]]
    return ", ".join(ids) + (", ..." if len(captures) > 10 else "")


def check_capture(session: Session, fh, c: Capture, tee=None) -> tuple[RecordFacts | None, list[Problem]]:
    """One record against its database row; ``fh`` is the open WARC file, ``tee`` gets its raw bytes."""
    def p(kind: str, detail: str) -> Problem:
        return Problem(kind, detail, file=c.warc_file, offset=c.offset, capture_id=c.id)

    if hasattr(fh, "expect"):  # a ranged reader: one GET of exactly the record
        fh.seek(c.offset)
        fh.expect(c.length)
    try:
        f = read_record(fh, c.offset, c.length, tee=tee)
    except RecordTruncated as exc:
        return None, [p("truncated", str(exc))]
    except RecordChanged as exc:
        return None, [p("digest_mismatch", str(exc))]
    except RecordUnreadable as exc:
        return None, [p("unreadable_record", str(exc))]
    out = []
    if f.record_id != c.record_id:
        out.append(p("record_mismatch", f"WARC-Record-ID is {f.record_id}, the database says {c.record_id}"))
    if f.target_uri != c.url:
        out.append(p("record_mismatch", f"WARC-Target-URI is {f.target_uri}, the database says {c.url}"))
    if f.block_ok is False:
        out.append(p("digest_mismatch", f"block digest recomputed differs from WARC-Block-Digest {f.block_digest}"))
    if f.payload_ok is False:
        out.append(p("digest_mismatch", f"payload digest recomputed differs from WARC-Payload-Digest "
                                        f"{f.payload_digest}"))
    if c.block_digest and not digests.same(c.block_digest, f.block_digest):
        out.append(p("digest_mismatch", f"WARC-Block-Digest is {f.block_digest}, the database says {c.block_digest}"))
    if c.payload_digest and not digests.same(c.payload_digest, f.payload_digest):
        out.append(p("digest_mismatch", f"WARC-Payload-Digest is {f.payload_digest}, "
                                        f"the database says {c.payload_digest}"))
    if c.sha256 and f.sha256 and c.sha256.lower() != f.sha256:
        out.append(p("digest_mismatch", f"payload sha256 is {f.sha256}, the database says {c.sha256}"))
    if c.is_revisit and c.revisit_of_id:
        original = session.get(Capture, c.revisit_of_id)
        if original is not None and f.refers_to and f.refers_to != original.record_id:
            out.append(p("record_mismatch", f"revisit refers to {f.refers_to}, the database says it repeats "
                                            f"capture {original.id} ({original.record_id})"))
    return f, out


def _check_files(session: Session, root: Store, missing: set[str], seen: set[str]) -> list[Problem]:
    out: list[Problem] = []
    listed = manifest.latest_by_path(session)
    rows = {w.path: w for w in session.scalars(select(WarcFile))}
    on_disk = set(_disk_files(root))
    by_sha = {e.sha256: p for p, e in listed.items()}
    for rel, entry in sorted(listed.items()):
        seen.add(rel)
        try:
            fh = open_stored(session, root, rel, rows[rel].location if rel in rows else None)
        except (ArchiveError, StoreError) as exc:
            out.append(Problem("manifest_mismatch", str(exc), file=rel))
            continue
        if fh is None:
            if rel not in missing:
                out.append(Problem("missing_file", "listed in the manifest but not found", file=rel))
                missing.add(rel)
            continue
        with fh:
            try:
                sha256, size, whole_to = _read_file(fh, rel)
            except StoreError as exc:
                out.append(Problem("unreadable_record", str(exc), file=rel))
                continue
        if whole_to is not None and whole_to != size:
            out.append(Problem("torn_record", f"the file ends in an incomplete gzip member: only its first "
                               f"{whole_to} of {size} bytes are complete records", file=rel, offset=whole_to))
        twin = by_sha.get(sha256) if sha256 != entry.sha256 else None
        if twin:
            out.append(Problem("manifest_mismatch", f"content replaced: it is byte for byte the file the manifest "
                               f"lists as {twin} (files swapped or copied over)", file=rel))
        elif size != entry.size:
            out.append(Problem("manifest_mismatch", f"size is {size} bytes, the manifest says {entry.size}"
                               + (" (truncated)" if size < entry.size else ""), file=rel))
        if sha256 != entry.sha256 and not twin:
            out.append(Problem("manifest_mismatch", f"sha256 is {sha256}, the manifest says {entry.sha256}",
                               file=rel))
        row = rows.get(rel)
        if row is not None and row.sha256 and row.sha256 != entry.sha256:
            out.append(Problem("manifest_mismatch", f"warc_files row says sha256 {row.sha256}, the manifest "
                               f"says {entry.sha256}", file=rel))
        if root.remote and row is not None and row.location:
            out.extend(_check_kept_copy(root, rel, entry.sha256))
    for rel, row in sorted(rows.items()):
        seen.add(rel)
        if row.state == "finished" and rel not in listed:
            out.append(Problem("manifest_mismatch", "finished WARC file has no manifest entry", file=rel))
        elif rel not in listed and rel not in missing and not _exists(root, rel):
            out.append(Problem("missing_file", f"warc_files row ({row.state}) but no file", file=rel))
            missing.add(rel)
    for rel in sorted(on_disk - set(listed) - set(rows) - seen):
        out.append(Problem("unlisted_file", "WARC file on disk that neither the database nor the manifest "
                           "knows", file=rel))
        seen.add(rel)
    return out


def _check_kept_copy(root: Store, rel: str, sha256: str) -> list[Problem]:
    """A spool copy kept beside an uploaded file (storage.keep_local) is read before the object by
    get and replay: it must be the same bytes."""
    try:
        fh = open(confined_warc_path(root.root, rel), "rb")
    except (OSError, ArchiveError):
        return []
    with fh:
        kept, size, _ = _read_file(fh, rel)
    if kept == sha256:
        return []
    return [Problem("manifest_mismatch", f"the spool copy kept in {root.root} has sha256 {kept} ({size} bytes), "
                    f"the manifest says {sha256}", file=rel)]


def _read_file(fh, rel: str) -> tuple[str, int, int | None]:
    """(sha256, size, end of the last complete gzip member or None for plain .warc), in one read."""
    h, size = hashlib.sha256(), 0
    scan = MemberScanner() if rel.endswith(".gz") else None
    while buf := fh.read(CHUNK if not hasattr(fh, "expect") else 1 << 20):
        h.update(buf)
        size += len(buf)
        if scan is not None:
            scan.feed(buf)
    return h.hexdigest(), size, (scan.good if scan is not None else None)


def _exists(root: Store, rel: str) -> bool:
    try:
        if confined_warc_path(root.root, rel).is_file():
            return True
        return root.remote and root.size(rel) is not None
    except (ArchiveError, StoreError):
        return False


def _disk_files(root: Store):
    """WARC files in the spool, and (object storage) in the store."""
    base = root.root / "warcs"
    if base.is_dir():
        for p in base.rglob("*"):
            if p.is_file() and p.name.endswith(WARC_SUFFIXES):
                yield p.relative_to(root.root).as_posix()
    if root.remote:
        for key, _size, _tag in root.list("warcs/"):
            if key.endswith(WARC_SUFFIXES):
                yield key
