"""`archiver verify-export FILE`: check a WACZ package offline, with nothing but the file.

In order: the datapackage's resources (every file present, listed, with its sha256 and
size), datapackage-digest.json (the hash of datapackage.json) and its anonymous signature
if there is one, the block index (``*.idx``: each block of ``index.cdx.gz`` at its offset,
length and sha256), then every CDXJ line: the record at its offset is parsed and its
digests recomputed and compared with the index and the record headers, and with the
sha256 and record ids that evidence/summary.json states.
"""
from __future__ import annotations

import gzip
import io
import json
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from .. import digests
from ..bounded import OVERLONG, bounded_lines, read_capped
from ..errors import InputError
from ..net.decode import Decoder, DecodeError
from . import cdxj, sign
from .problems import Problem
from .records import RecordChanged, RecordFacts, RecordTruncated, RecordUnreadable, read_record

META = ("datapackage.json", "datapackage-digest.json")
# A package is untrusted: a member of a few MB may inflate to gigabytes. Whole-read members
# (JSON, *.idx) and index lines are read with these bounds, declared sizes checked first.
MAX_JSON_BYTES = 64 << 20  # datapackage.json, its digest, evidence/summary.json, a *.idx
MAX_INDEX_LINE = 1 << 20  # one CDXJ line
MAX_BLOCK = 64 << 20  # one gzip block of index.cdx.gz as an *.idx line gives it
SUMMARY = "evidence/summary.json"
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError)


@dataclass
class PackageReport:
    path: Path
    resources_checked: int = 0
    records_checked: int = 0
    signed: bool = False
    public_key: str | None = None
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, kind: str, detail: str, file: str | None = None, offset: int | None = None) -> None:
        self.problems.append(Problem(kind, detail, file=file, offset=offset))

    def as_dict(self) -> dict:
        return {"ok": self.ok, "file": str(self.path), "resources_checked": self.resources_checked,
                "records_checked": self.records_checked, "signed": self.signed, "public_key": self.public_key,
                "problems": [p.as_dict() for p in self.problems]}

    def lines(self) -> list[str]:
        if self.problems:
            return [f"problem: {p.line()}" for p in self.problems]
        sig = f", signature valid (publicKey {self.public_key})" if self.signed else ", not signed"
        return [f"ok: {self.path}: {self.resources_checked} resources and {self.records_checked} records "
                f"verified{sig}"]


def verify_package(path: Path, *, fh=None, label: str | None = None) -> PackageReport:
    """Check the package at ``path``, or in ``fh`` (seekable: a stored package read by range), shown as ``label``."""
    path = Path(path)
    if fh is None and path.is_dir():
        raise InputError(f"{path} is a folder, not a .wacz file")
    if fh is None and not path.is_file():
        raise InputError(f"no such file: {path}")
    report = PackageReport(label or path)
    try:
        zf = zipfile.ZipFile(fh if fh is not None else path)
    except (zipfile.BadZipFile, OSError) as exc:
        report.add("unreadable_package", f"not a ZIP/WACZ file ({exc})")
        return report
    with zf:
        package = _datapackage(zf, report)
        if package is None:
            return report
        _resources(zf, package, report)
        _digest(zf, package, report)
        _block_index(zf, report)
        facts, indexed = _index(zf, report)
        _summary(zf, facts, indexed, report)
    return report


class _TooLarge(Exception):
    pass


def _read_member(zf: zipfile.ZipFile, name: str, limit: int = MAX_JSON_BYTES) -> bytes:
    """A whole member of at most ``limit`` bytes, as declared and as actually inflated (zipfile
    stops at the declared size and checks the CRC there, so a member lying small fails)."""
    declared = zf.getinfo(name).file_size
    if declared > limit:
        raise _TooLarge(f"larger than {limit} bytes ({declared} bytes declared): not read")
    with zf.open(name) as fh:
        data = read_capped(fh, limit)
    if data is None:
        raise _TooLarge(f"inflates to more than {limit} bytes: not read")
    return data


def _read_json(zf: zipfile.ZipFile, name: str, report: PackageReport):
    try:
        return json.loads(_read_member(zf, name))
    except KeyError:
        return None
    except _TooLarge as exc:
        report.add("datapackage_invalid", str(exc), file=name)
        return None
    except (ValueError, RecursionError, *_ZIP_ERRORS) as exc:
        report.add("datapackage_invalid", f"{name} is unreadable or not JSON ({type(exc).__name__}"
                   + (f": {exc}" if isinstance(exc, zipfile.BadZipFile) else "") + ")", file=name)
        return None


def _datapackage(zf, report) -> dict | None:
    if "datapackage.json" not in zf.namelist():
        report.add("datapackage_invalid", "datapackage.json is missing", file="datapackage.json")
        return None
    doc = _read_json(zf, "datapackage.json", report)
    if not isinstance(doc, dict) or not isinstance(doc.get("resources"), list):
        if doc is not None:
            report.add("datapackage_invalid", "datapackage.json has no resources list", file="datapackage.json")
        return None
    if doc.get("profile") != "data-package" or not doc.get("wacz_version"):
        report.add("datapackage_invalid", "datapackage.json lacks profile 'data-package' or wacz_version",
                   file="datapackage.json")
    return doc


def _hash_member(zf, name: str, algo: str) -> tuple[str, int]:
    with zf.open(name) as fh:
        hexdigest, size = digests.file_digest(fh, algo)
    return f"{algo}:{hexdigest}", size


def _resources(zf, package, report) -> None:
    names = {n for n in zf.namelist() if not n.endswith("/")}
    listed = set()
    for res in package["resources"]:
        name = res.get("path") if isinstance(res, dict) else None
        if not isinstance(name, str):
            report.add("datapackage_invalid", f"resource without a path: {res!r}"[:200], file="datapackage.json")
            continue
        listed.add(name)
        if name not in names:
            report.add("missing_resource", "listed in datapackage.json but not in the package", file=name)
            continue
        algo = str(res.get("hash", "")).partition(":")[0]
        if algo not in ("sha256", "md5"):
            report.add("resource_mismatch", f"unsupported or missing hash {res.get('hash')!r}", file=name)
            continue
        try:
            got, size = _hash_member(zf, name, algo)
        except _ZIP_ERRORS as exc:
            report.add("resource_mismatch", f"cannot be read back ({exc})", file=name)
            continue
        report.resources_checked += 1
        if got != res.get("hash"):
            report.add("resource_mismatch", f"hash is {got}, datapackage.json says {res.get('hash')}", file=name)
        if size != res.get("bytes"):
            report.add("resource_mismatch", f"size is {size} bytes, datapackage.json says {res.get('bytes')}",
                       file=name)
    for name in sorted(names - listed - set(META)):
        report.add("unlisted_resource", "in the package but not listed in datapackage.json", file=name)


def _digest(zf, package, report) -> None:
    name = "datapackage-digest.json"
    if name not in zf.namelist():
        return  # optional in WACZ 1.1.1; without it there is nothing more to check
    doc = _read_json(zf, name, report)
    if not isinstance(doc, dict):
        return
    want = doc.get("hash", "")
    algo = str(want).partition(":")[0]
    if algo not in ("sha256", "md5"):
        report.add("datapackage_digest_mismatch", f"unsupported hash {want!r}", file=name)
        return
    got = digests.hash_string(_read_member(zf, "datapackage.json"), algo)  # read (bounded) once already
    if got != want:
        report.add("datapackage_digest_mismatch", f"datapackage.json hashes to {got}, {name} says {want}", file=name)
    signed = doc.get("signedData")
    if not signed:
        return
    report.signed = True
    if not isinstance(signed, dict):
        report.add("signature_invalid", "signedData is not an object", file=name)
        return
    report.public_key = signed.get("publicKey")
    if signed.get("hash") != want:
        report.add("signature_invalid", "signedData.hash differs from the digest's hash", file=name)
    if signed.get("created") != package.get("created"):
        report.add("signature_invalid", "signedData.created differs from datapackage.json created", file=name)
    if not signed.get("publicKey"):
        report.add("signature_invalid", "only anonymous signatures (with publicKey) can be checked offline",
                   file=name)
        return
    why = sign.check(signed)
    if why:
        report.add("signature_invalid", why, file=name)


def _block_index(zf, report) -> None:
    """Each line of a ``*.idx`` (py-wacz / cdxj-indexer's compressed index) names a gzip block of its
    data file by offset, length and sha256; the block must be there, whole, and start with its key."""
    for name in sorted(n for n in zf.namelist() if n.startswith("indexes/") and n.endswith(".idx")):
        data_name = None
        try:
            lines = _read_member(zf, name).decode("utf-8").splitlines()
        except (UnicodeDecodeError, _TooLarge, *_ZIP_ERRORS) as exc:
            report.add("index_invalid", f"cannot be read ({exc})", file=name)
            continue
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                key, _, rest = line.partition(" {")  # "<urlkey> <timestamp> {json}", or "!meta 0 {json}"
                if key.startswith("!meta"):
                    data_name = "indexes/" + json.loads("{" + rest)["filename"]
                    continue
                block = json.loads("{" + rest)
                offset, length = int(block["offset"]), int(block["length"])
                if not 0 < length <= MAX_BLOCK:
                    raise ValueError(f"block length {length}")
                with zf.open(data_name) as fh:
                    fh.seek(offset)
                    raw = fh.read(length)
            except (ValueError, KeyError, TypeError, IndexError) as exc:
                report.add("index_invalid", f"line {n} is not a block index line ({type(exc).__name__})", file=name)
                continue
            except _ZIP_ERRORS as exc:
                report.add("index_invalid", f"line {n}: its block cannot be read ({exc})", file=name)
                continue
            want = block.get("digest")
            if len(raw) != length or (want and digests.hash_string(raw) != want):
                report.add("index_invalid", f"line {n}: the block at offset {offset} is not the one indexed",
                           file=data_name)
                continue
            try:
                first = _first_line(raw).decode("utf-8")
            except (DecodeError, UnicodeDecodeError):
                report.add("index_invalid", f"line {n}: the block at offset {offset} is not gzip", file=data_name)
                continue
            if not first.startswith(key + " "):
                report.add("index_invalid", f"line {n}: the block at offset {offset} starts with another key",
                           file=data_name)


def _first_line(block: bytes) -> bytes:
    """The first line of a gzip block, inflating no more than a line's worth (MAX_INDEX_LINE)."""
    dec = Decoder("gzip", MAX_INDEX_LINE)
    dec.feed(block)
    dec.finish()
    out = bytearray()
    while b"\n" not in out:
        part = dec.read(1 << 16)
        if not part:
            break
        out += part
    return bytes(out).split(b"\n", 1)[0]


def _index_lines(zf, name, report):
    """(line number, line) of a CDXJ member; a line longer than MAX_INDEX_LINE is reported, not read."""
    with zf.open(name) as raw:
        stream = gzip.GzipFile(fileobj=raw) if name.endswith(".gz") else io.BufferedReader(raw)
        for n, line in enumerate(bounded_lines(stream, MAX_INDEX_LINE), 1):
            if line is OVERLONG:
                report.add("index_invalid", f"line {n} is longer than {MAX_INDEX_LINE} bytes", file=name)
            elif line.strip():
                yield n, line.decode("utf-8", "replace")


def _index(zf, report) -> tuple[dict[tuple[str, int], RecordFacts], set[tuple[str, int]]]:
    """Check every record a CDXJ line points at: the facts of the sound ones by (member, offset),
    and every (member, offset) the index names."""
    entries = []
    for name in sorted(n for n in zf.namelist() if n.startswith("indexes/") and n.endswith((".cdxj", ".cdx",
                                                                                             ".cdxj.gz", ".cdx.gz"))):
        try:
            for n, line in _index_lines(zf, name, report):
                try:
                    _, _, fields = cdxj.parse(line)
                    entries.append((f"archive/{fields['filename']}", int(fields["offset"]), int(fields["length"]),
                                    fields, name, n))
                except (ValueError, KeyError, TypeError):
                    report.add("index_invalid", f"line {n} is not a CDXJ line with filename/offset/length",
                               file=name)
        except _ZIP_ERRORS as exc:
            report.add("index_invalid", f"cannot be read ({exc})", file=name)
    if not entries and _summary_records(zf) != 0:  # an activity with nothing captured has no records
        report.add("index_invalid", "no CDXJ index lines in indexes/")
    found: dict[tuple[str, int], RecordFacts] = {}
    members = set(zf.namelist())
    for member in sorted({e[0] for e in entries}):
        if member not in members:
            report.add("missing_resource", "the index points into a WARC the package does not hold", file=member)
            continue
        with zf.open(member) as fh:  # offsets ascending: forward seeks in a stored member stay cheap
            for _, offset, length, fields, _, _ in sorted((e for e in entries if e[0] == member),
                                                          key=lambda e: e[1]):
                report.records_checked += 1
                facts = _record(fh, member, offset, length, report)
                if facts is None:
                    continue
                found[(member, offset)] = facts
                if facts.target_uri != fields.get("url"):
                    report.add("record_mismatch", f"record is for {facts.target_uri}, the index says "
                               f"{fields.get('url')}", file=member, offset=offset)
                if fields.get("digest") and not digests.same(fields["digest"], facts.payload_digest):
                    report.add("digest_mismatch", f"WARC-Payload-Digest is {facts.payload_digest}, the index "
                               f"says {fields['digest']}", file=member, offset=offset)
    return found, {(e[0], e[1]) for e in entries}


def _summary_records(zf) -> int | None:
    """How many records evidence/summary.json says the package holds (None when it cannot say)."""
    try:
        return len(json.loads(_read_member(zf, SUMMARY))["records"])
    except (KeyError, TypeError, ValueError, RecursionError, _TooLarge, *_ZIP_ERRORS):
        return None


def _record(fh, member, offset, length, report) -> RecordFacts | None:
    def bad(kind, detail):
        report.add(kind, detail, file=member, offset=offset)

    try:
        facts = read_record(fh, offset, length)
    except RecordTruncated as exc:
        return bad("truncated", str(exc))
    except RecordChanged as exc:
        return bad("digest_mismatch", str(exc))
    except RecordUnreadable as exc:
        return bad("unreadable_record", str(exc))
    except _ZIP_ERRORS as exc:
        return bad("unreadable_record", f"the package member cannot be read ({exc})")
    if facts.block_ok is False:
        bad("digest_mismatch", f"block digest recomputed differs from WARC-Block-Digest {facts.block_digest}")
    if facts.payload_ok is False:
        bad("digest_mismatch", f"payload digest recomputed differs from WARC-Payload-Digest {facts.payload_digest}")
    return facts


def _summary(zf, found, indexed, report) -> None:
    """The summary's statements (record id, sha256 at an offset) must hold for the records."""
    if SUMMARY not in zf.namelist():
        return
    doc = _read_json(zf, SUMMARY, report)
    records = doc.get("records") if isinstance(doc, dict) else None
    for rec in records if isinstance(records, list) else []:
        pkg = rec.get("package") or {}
        key = (pkg.get("file"), pkg.get("offset"))
        facts = found.get(key)
        if facts is None and key in indexed:
            continue  # that record's problem is reported already
        if facts is None:
            report.add("record_mismatch", f"summary names capture {rec.get('id')} at an offset no index line "
                       "points at", file=key[0], offset=key[1])
            continue
        if facts.record_id != rec.get("record_id"):
            report.add("record_mismatch", f"summary says record {rec.get('record_id')}, the WARC holds "
                       f"{facts.record_id}", file=key[0], offset=key[1])
        if facts.sha256 and rec.get("sha256") and facts.sha256 != rec["sha256"]:
            report.add("digest_mismatch", f"summary says sha256 {rec['sha256']}, the payload hashes to "
                       f"{facts.sha256}", file=key[0], offset=key[1])
