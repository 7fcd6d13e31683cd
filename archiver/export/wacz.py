"""Write the evidence of an activity or a report as a WACZ 1.1.1 package.

    archive/data.warc.gz      the records, each once, copied byte for byte (gzip members), ZIP_STORED
    indexes/index.cdx.gz      their CDXJ lines, sorted, in gzip blocks of 300 lines, ZIP_STORED
    indexes/index.idx         one line per block: first key, offset, length, sha256 (the block index)
    pages/pages.jsonl         one page per target record, at its index line's timestamp (the record's
                              WARC-Date: for a copy recovered from an archive, when we copied it; the
                              summary gives the archive's date); a page loaded in the browser is
                              marked ``"browser": true`` with the URIs of its ``screenshot``,
                              ``thumbnail``, ``dom`` (and ``pdf``) resource records
    evidence/summary.json     what was cited, how it resolved, what was captured, digests
    evidence/summary.html     the same for people: standalone, escaped, no scripts
    datapackage.json          resources with sha256 and size (Frictionless data package)
    datapackage-digest.json   sha256 of datapackage.json (+ signedData when a key is configured)

Each record is read with one seek and copied while it is re-verified (records.read_record
tees the raw bytes into the zip): a record that no longer matches the database stops the
export with one line instead of being packaged as evidence. Two captures can be rows for
the same record (two links whose targets end at one URL share its capture): the record is
packaged once and both rows point at it. The package is written to a ``.part`` file and
renamed when complete.

The index is what py-wacz writes (``index.cdx.gz`` + ``index.idx``, by cdxj-indexer's own
block writer): ReplayWeb.page loads ``*.idx`` (or ``*.cdx``/``*.cdxj``), pywb's
``wb-manager add --unpack-wacz`` reads ``*.cdx``/``*.cdx.gz`` only, so a lone
``index.cdxj`` opens in the first and not in the second.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

from sqlalchemy.orm import Session

from .. import digests
from ..errors import ArchiveError, InputError, IntegrityError
from . import cdxj, sign, summary
from .evidence import Selection
from .manifest import iso
from .postkey import post_fields
from ..capture.read import confined_warc_path
from ..db.queries import VIEW_ROLES
from ..errors import StoreError
from ..store import Store, as_store, check_key
from .verify import check_capture, open_stored

WACZ_VERSION = "1.1.1"
WARC_NAME = "data.warc.gz"
WARC_PATH = f"archive/{WARC_NAME}"
INDEX_PATH = "indexes/index.cdx.gz"
IDX_PATH = "indexes/index.idx"
INDEX_BLOCK_LINES = 300  # py-wacz's (cdxj-indexer's DEFAULT_NUM_LINES)
PAGES_PATH = "pages/pages.jsonl"
ZIP64_AT = (1 << 31) - 1


@dataclass
class ExportResult:
    path: "Path | str"  # where the package is: a local path, or a URL in the store
    records: int
    pages: int
    bytes: int
    signed: bool
    datapackage_hash: str

    def as_dict(self) -> dict:
        return {"path": str(self.path), "records": self.records, "pages": self.pages, "bytes": self.bytes,
                "signed": self.signed, "datapackage_hash": self.datapackage_hash}


def export_wacz(session: Session, storage_root: "Path | Store", selection: Selection, out: Path, *,
                software: str, signing_key: Path | None = None,
                progress: Callable[[int, int], None] | None = None) -> ExportResult:
    """Write the package; ``progress(done, total)`` is called with bytes of records copied."""
    out = Path(out)
    if not out.name.endswith(".wacz"):
        raise InputError(f"output file must end in .wacz: {out}")
    if not out.parent.is_dir():
        raise InputError(f"output folder does not exist: {out.parent}")
    key = sign.load_key(signing_key) if signing_key else None  # fail before any work
    now = datetime.now(timezone.utc).replace(microsecond=0)
    created = iso(now)
    tmp = out.with_name(out.name + ".part")
    try:
        with zipfile.ZipFile(tmp, "w", allowZip64=True) as zf:
            pkg = _Package(zf, now)
            lines, placed, pages = _write_records(pkg, session, as_store(storage_root), selection, progress)
            _write_index(pkg, lines)
            header = {"format": "json-pages-1.0", "id": "pages", "title": selection.title}
            pkg.add(PAGES_PATH, "".join(json.dumps(d, ensure_ascii=False) + "\n"
                                        for d in [header, *pages]).encode("utf-8"))
            for path, write in (("evidence/summary.json", summary.write_json),
                                ("evidence/summary.html", summary.write_html)):
                with pkg.stream(path) as put:  # written as it is made: never the whole summary at once
                    write(summary.build(session, selection, placed, created, software), put)
            datapackage = _datapackage(selection, pkg.resources, pages, created, software)
            pkg.add("datapackage.json", datapackage, listed=False)
            digest = {"path": "datapackage.json", "hash": digests.hash_string(datapackage)}
            if key is not None:
                digest["signedData"] = sign.sign(key, digest["hash"], created, software)
            pkg.add("datapackage-digest.json", json.dumps(digest, indent=2).encode("utf-8"), listed=False)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return ExportResult(out, len(lines), len(pages), out.stat().st_size, key is not None, digest["hash"])


def export_to_store(session: Session, store: Store, selection: Selection, name: str, **kwargs) -> ExportResult:
    """Write the package as ``exports/<name>`` in the store: built in the spool folder
    ``<storage.root>/exports``, then put in the store (checked by its sha256) and, when the store
    is remote, the spool copy removed. ``path`` of the result is where it is stored."""
    key = check_key(f"exports/{name}")
    spool = store.root / "exports"
    spool.mkdir(parents=True, exist_ok=True)
    local = spool / name
    result = export_wacz(session, store, selection, local, **kwargs)
    if not store.remote:
        return result
    try:
        with open(local, "rb") as fh:
            sha256, _size = digests.file_digest(fh)
        store.put_file(local, key, sha256=sha256)
    finally:
        local.unlink(missing_ok=True)
    result.path = f"{store.url}/{key}"  # a URL, not a local path
    return result


class _Package:
    """The zip being written, and the datapackage resource entry of everything put in it."""

    def __init__(self, zf: zipfile.ZipFile, now: datetime):
        self.zf, self.date_time, self.resources = zf, now.timetuple()[:6], []

    def info(self, path: str, compress: int) -> zipfile.ZipInfo:
        zi = zipfile.ZipInfo(path, date_time=self.date_time)
        zi.compress_type = compress
        zi.external_attr = 0o644 << 16
        return zi

    def add(self, path: str, data: bytes, listed: bool = True, compress: int = zipfile.ZIP_DEFLATED) -> None:
        self.zf.writestr(self.info(path, compress), data)
        if listed:
            self.listed(path, digests.hash_string(data), len(data))

    @contextmanager
    def stream(self, path: str, compress: int = zipfile.ZIP_DEFLATED) -> Iterator[Callable[[str], None]]:
        """A member written a piece at a time: yields ``put(text)``, which encodes, hashes and writes."""
        digest, size = hashlib.sha256(), 0
        with self.zf.open(self.info(path, compress), "w", force_zip64=True) as w:
            def put(text: str) -> None:
                nonlocal size
                data = text.encode("utf-8")
                w.write(data)
                digest.update(data)
                size += len(data)

            yield put
        self.listed(path, "sha256:" + digest.hexdigest(), size)

    def listed(self, path: str, hash_: str, size: int) -> None:
        self.resources.append({"name": path.rsplit("/", 1)[-1].lower(), "path": path, "hash": hash_,
                               "bytes": size})


def _write_index(pkg: _Package, lines: list[str]) -> None:
    """indexes/index.cdx.gz and indexes/index.idx, as py-wacz writes them (cdxj-indexer's writers)."""
    from cdxj_indexer.main import CompressedWriter, SortingWriter

    blocks, idx = io.BytesIO(), io.StringIO()
    writer = SortingWriter(CompressedWriter(idx, blocks, num_lines=INDEX_BLOCK_LINES,
                                            data_out_name=INDEX_PATH.rsplit("/", 1)[-1], digest_records=True))
    for x in lines:
        writer.write(x + "\n")
    if lines:
        writer.flush()
    else:  # nothing captured: the writers would emit a block with an empty key; write an empty index
        blocks.write(gzip.compress(b"", mtime=0))
        idx.write(json.dumps({"format": "cdxj-gzip-1.0", "filename": INDEX_PATH.rsplit("/", 1)[-1]})
                  .join(["!meta 0 ", "\n"]))
    pkg.add(INDEX_PATH, blocks.getvalue(), compress=zipfile.ZIP_STORED)  # read by range, block by block
    pkg.add(IDX_PATH, idx.getvalue().encode("utf-8"))


def _write_records(pkg: _Package, session: Session, root: Store, selection: Selection,
                   progress: Callable[[int, int], None] | None = None):
    lines, placed, pages = [], {}, []
    digest, pos = hashlib.sha256(), 0
    packaged: dict[tuple[str, int], tuple[int, int]] = {}  # (warc_file, offset) -> where it is in the package
    total = sum(c.length for c in _distinct(selection.captures))
    handles: dict[str, object] = {}
    # what the browser showed of each page (screenshot, DOM... resource records, by the page's capture id)
    views = {}
    for c in selection.captures:
        if c.parent_id is not None and c.role in VIEW_ROLES:
            views.setdefault(c.parent_id, {})[c.role] = c.url
    by_id = {c.id: c for c in selection.captures}
    try:
        with pkg.zf.open(pkg.info(WARC_PATH, zipfile.ZIP_STORED), "w", force_zip64=total > ZIP64_AT) as w:
            def tee(data: bytes) -> None:
                nonlocal pos
                w.write(data)
                digest.update(data)
                pos += len(data)

            for c in selection.captures:
                fh = handles.get(c.warc_file) or handles.setdefault(c.warc_file, _open(session, root, c))
                key = (c.warc_file, c.offset)
                start = pos
                again = key in packaged  # another row for a record already packaged: verify, do not copy
                facts, problems = check_capture(session, fh, c, tee=None if again else tee)
                if problems:
                    raise IntegrityError(f"capture {c.id} failed verification, nothing exported: "
                                         f"{problems[0].line()} (run `archiver verify`)")
                if again:
                    placed[c.id] = packaged[key]
                    continue
                placed[c.id] = packaged[key] = (start, pos - start)
                post = post_fields(fh, c.offset + c.length, facts.record_id, c.url) \
                    if c.role == "browser" and facts.rec_type == "response" else None
                lines.append(cdxj.line(facts, start, pos - start, WARC_NAME, post))
                if progress is not None:
                    progress(pos, total)
                if c.role == "target":
                    title = _title(c, by_id)
                    # the page's ts is its index line's (the record's WARC-Date), so replay finds it exactly
                    page = {"id": str(c.id), "url": c.url, "ts": _page_ts(facts.date, c), "title": title}
                    if c.id in views:  # loaded in a browser: where its screenshot and DOM are in the WARC
                        page["browser"] = True
                        page.update({role: uri for role, uri in sorted(views[c.id].items())})
                    pages.append(page)
    finally:
        for fh in handles.values():
            fh.close()
    pkg.listed(WARC_PATH, "sha256:" + digest.hexdigest(), pos)
    return lines, placed, pages


def _distinct(captures):
    seen = set()
    for c in captures:
        if (c.warc_file, c.offset) not in seen:
            seen.add((c.warc_file, c.offset))
            yield c


def _page_ts(warc_date: str | None, c) -> str:
    if not warc_date:
        return iso(c.captured_at)
    return iso(datetime.fromisoformat(warc_date.replace("Z", "+00:00")).replace(microsecond=0))


def _title(c, by_id: dict) -> str:
    """The page title we extracted; a revisit shows its original's (in the selection too)."""
    for cap in (c, by_id.get(c.revisit_of_id)):
        if cap is not None and cap.title:
            return cap.title
    return c.url


def _open(session: Session, root: Store, c):
    try:
        fh = open_stored(session, root, c.warc_file)
    except (OSError, ArchiveError, StoreError) as exc:
        raise IntegrityError(f"capture {c.id}: cannot open {c.warc_file} ({type(exc).__name__}); "
                             "run `archiver verify`") from exc
    if fh is None:
        raise IntegrityError(f"capture {c.id}: {c.warc_file} not found; run `archiver verify`")
    return fh


def _scope(selection: Selection) -> str:
    if selection.kind == "report":
        return f"report {selection.report.id}"
    return f"activity {selection.activity_ordinal} (id {selection.id}) of report {selection.report.id}"


def _datapackage(selection: Selection, resources: list[dict], pages: list[dict], created: str,
                 software: str) -> bytes:
    pkg = {"profile": "data-package", "wacz_version": WACZ_VERSION, "title": selection.title,
           "description": f"Evidence preserved by archiver for {_scope(selection)}. "
                          "Read evidence/summary.html first.",
           "created": created, "software": software, "resources": resources}
    if pages:
        pkg["mainPageUrl"], pkg["mainPageDate"] = pages[0]["url"], pages[0]["ts"]
    pkg["archiver"] = {"scope": selection.kind, "id": selection.id, "report_id": selection.report.id}
    return json.dumps(pkg, indent=2, ensure_ascii=False).encode("utf-8")
