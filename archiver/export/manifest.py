"""The append-only, hash-chained manifest of finished WARC files.

Every finished WARC file gets one entry: its path (relative to storage.root), sha256
and size. Each entry's hash covers the previous entry's hash, so rewriting, removing or
reordering any entry breaks the chain from there on::

    entry_hash = sha256(prev_hash + path + sha256 + str(size) + added_at_iso)   # first prev_hash: 64 zeros

The chain lives in the ``manifest`` table and, one JSON line per entry appended and
fsynced, in ``<storage.root>/manifest.jsonl``, so the fixity record survives the loss
of the database and a tampered table disagrees with its mirror. With object storage
(``storage.url``) objects cannot be appended to, and each worker has its own spool: the
mirror is one small object per entry, ``manifest/<id, 12 digits>.json``, read in key order.
"""
from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from .. import digests
from ..db.tables import ManifestEntry, WarcFile
from ..errors import ArchiveError, InputError
from .problems import Problem
from ..capture.read import confined_warc_path
from ..store import Store, as_store

GENESIS = "0" * 64
MIRROR = "manifest.jsonl"


def iso(dt: datetime) -> str:
    """The one text form of added_at that goes into the hash (UTC, whole seconds)."""
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def entry_hash(prev_hash: str, path: str, sha256: str, size: int, added_at: datetime) -> str:
    return hashlib.sha256(f"{prev_hash}{path}{sha256}{size}{iso(added_at)}".encode("utf-8")).hexdigest()


def hash_file(path: Path) -> tuple[str, int]:
    """(hex sha256, size), streamed."""
    with open(path, "rb") as fh:
        return digests.file_digest(fh)


def _lock(session: Session) -> None:
    """Serialise appenders so that two never chain onto the same predecessor."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(7224319)"))
    # SQLite serialises writers on the database file; the unique entry_hash catches the rest.


def append_entry(session: Session, storage_root: "Path | Store", rel_path: str, *, sha256: str | None = None,
                 size: int | None = None) -> ManifestEntry:
    """Record a finished WARC file in the chain and its mirror; mark its WarcFile finished.

    ``sha256``/``size``: the digest the writer computed while writing (WarcSink does), so a
    finished gigabyte file is not read again under the writer's lock; used only when the
    size on disk agrees, otherwise the file is hashed. Commits: an entry is its own unit of
    work and must be durable before its mirror line is written (a crash in between leaves a
    difference `archiver verify` reports).
    """
    rel_path = Path(rel_path).as_posix()
    store = as_store(storage_root)
    try:
        path = confined_warc_path(store.root, rel_path)
    except ArchiveError as exc:
        raise InputError(str(exc)) from exc
    if not path.is_file():
        raise InputError(f"manifest: no such file under the storage root: {rel_path}")
    if sha256 is None or size is None or path.stat().st_size != size:
        sha256, size = hash_file(path)
    _lock(session)
    last = session.scalars(select(ManifestEntry).order_by(ManifestEntry.id.desc()).limit(1)).first()
    prev = last.entry_hash if last else GENESIS
    added = datetime.now(timezone.utc).replace(microsecond=0)
    entry = ManifestEntry(path=rel_path, sha256=sha256, size=size, added_at=added, prev_hash=prev,
                          entry_hash=entry_hash(prev, rel_path, sha256, size, added))
    session.add(entry)
    wf = session.scalars(select(WarcFile).where(WarcFile.path == rel_path)).first()
    if wf is not None:
        wf.state, wf.sha256, wf.size = "finished", sha256, size
        wf.finished_at = wf.finished_at or added
    session.commit()
    if store.remote:
        store.put_bytes(_mirror_key(entry.id), (json.dumps(as_line(entry), sort_keys=True) + "\n").encode("utf-8"))
    else:
        _append_mirror(store.root / MIRROR, entry)
    return entry


def _mirror_key(entry_id: int) -> str:
    return f"manifest/{entry_id:012d}.json"


def as_line(entry: ManifestEntry) -> dict:
    return {"id": entry.id, "path": entry.path, "sha256": entry.sha256, "size": entry.size,
            "added_at": iso(entry.added_at), "prev_hash": entry.prev_hash, "entry_hash": entry.entry_hash}


def _append_mirror(path: Path, entry: ManifestEntry) -> None:
    line = json.dumps(as_line(entry), sort_keys=True) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


def read_mirror(storage_root: "Path | Store") -> Iterator[tuple[int, dict | None]]:
    """(line number, entry or None when the line is not valid JSON) from the mirror file
    (from the mirror objects, one line each, when the store is remote)."""
    store = as_store(storage_root)
    if store.remote:
        yield from _read_remote_mirror(store)
        return
    path = store.root / MIRROR
    if not path.exists():
        return
    with open(path, "rb") as fh:
        for n, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            try:
                doc = json.loads(raw)
                yield n, doc if isinstance(doc, dict) else None
            except ValueError:
                yield n, None


def _read_remote_mirror(store: Store) -> Iterator[tuple[int, dict | None]]:
    for n, (key, size, _tag) in enumerate(store.list("manifest/"), 1):
        if size > 1 << 16:  # an entry is ~400 bytes: a huge object is not one of ours
            yield n, None
            continue
        with store.open(key) as fh:
            raw = fh.read(1 << 16)
        try:
            doc = json.loads(raw)
            yield n, doc if isinstance(doc, dict) else None
        except ValueError:
            yield n, None


def entries(session: Session) -> list[ManifestEntry]:
    return list(session.scalars(select(ManifestEntry).order_by(ManifestEntry.id)))


def latest_by_path(session: Session) -> dict[str, ManifestEntry]:
    """The newest entry for each file (a file re-finished after repair gets a new one)."""
    return {e.path: e for e in entries(session)}


def verify_chain(session: Session, storage_root: "Path | Store") -> list[Problem]:
    """Check the table's chain, and the table against its mirror file (not the WARC files)."""
    problems: list[Problem] = []
    rows = entries(session)
    prev = GENESIS
    for e in rows:
        if e.prev_hash != prev:
            problems.append(Problem("chain_broken", f"manifest entry {e.id}: prev_hash does not link to the "
                                    "entry before it (an entry was removed, inserted or reordered)", file=e.path))
        if entry_hash(e.prev_hash, e.path, e.sha256, e.size, e.added_at) != e.entry_hash:
            problems.append(Problem("chain_broken", f"manifest entry {e.id}: entry_hash does not match its "
                                    "fields (the row was modified)", file=e.path))
        prev = e.entry_hash
    mirror = list(read_mirror(storage_root))
    if rows and not mirror:
        problems.append(Problem("manifest_mismatch", f"{MIRROR} is missing or empty but the database "
                                f"holds {len(rows)} manifest entries"))
        return problems
    for i, (n, doc) in enumerate(mirror):
        if doc is None:
            problems.append(Problem("manifest_mismatch", f"{MIRROR} line {n} is not a JSON object"))
            continue
        if i >= len(rows):
            problems.append(Problem("manifest_mismatch", f"{MIRROR} line {n} has no entry in the database "
                                    f"(entry_hash {str(doc.get('entry_hash'))[:12]}...)", file=doc.get("path")))
            continue
        want = as_line(rows[i])
        diff = sorted(k for k in want if k != "id" and doc.get(k) != want[k])
        if diff:
            problems.append(Problem("manifest_mismatch", f"manifest entry {rows[i].id} differs from {MIRROR} "
                                    f"line {n} in {', '.join(diff)}", file=rows[i].path))
    for e in rows[len(mirror):]:
        problems.append(Problem("manifest_mismatch", f"manifest entry {e.id} is missing from {MIRROR}",
                                file=e.path))
    return problems
