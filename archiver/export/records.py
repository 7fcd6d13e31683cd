"""Read one stored WARC record back with one seek, strictly, and recompute its digests.

A record is one gzip member at (offset, length) in a file under storage.root. We
decompress it ourselves, strictly (warcio's reader logs gzip errors to stderr and
carries on with a short read; an integrity check must fail instead), parse it with
warcio's ArchiveIterator, and stream the block through :class:`archiver.digests.BlockDigester`,
the same definition of every digest the writer used (docs/digests.md). Raw bytes can be teed to a writer on the way, so an export copies a record
byte for byte and verifies it in the same single read.
"""
from __future__ import annotations

import io
import zlib
from dataclasses import dataclass, field
from typing import BinaryIO, Callable

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeadersParser

from ..errors import ArchiveError
from .. import digests

CHUNK = 1 << 16
MAX_WARC_HEAD = 1 << 20  # a WARC header block longer than this is not one we wrote, nor anyone sane


class RecordTruncated(ArchiveError):
    """The file or the gzip member ends before the record does."""


class RecordUnreadable(ArchiveError):
    """The bytes at the offset are not a (valid gzip member holding a) WARC record."""


class RecordChanged(ArchiveError):
    """The member decompressed but its gzip CRC-32 disagrees: the content was modified."""




class _RawLimit(io.RawIOBase):
    """Exactly ``length`` bytes of a file from its current position, teed to ``tee``."""

    def __init__(self, fh: BinaryIO, length: int, tee: Callable[[bytes], None] | None = None):
        self.fh, self.left, self.tee = fh, length, tee
        self.short = False  # the file ended before `length` bytes

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if self.left <= 0:
            return b""
        n = self.left if n is None or n < 0 else min(n, self.left)
        data = self.fh.read(n)
        if not data:
            self.short = True
            self.left = 0
            return b""
        self.left -= len(data)
        if self.tee:
            self.tee(data)
        return data

    def drain(self) -> None:
        while self.read(CHUNK):
            pass


class _Member(io.RawIOBase):
    """Strict decompression of the one gzip member a record is stored in."""

    def __init__(self, raw: _RawLimit, first: bytes):
        self.raw = raw
        self.pending = first
        self.z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self.buf = b""
        self.pos = 0

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def _fill(self) -> None:
        while not self.buf and not self.z.eof:
            data = self.pending or self.raw.read(CHUNK)
            self.pending = b""
            if not data:
                raise RecordTruncated("gzip member ends early (truncated file or wrong length)")
            try:
                # at most CHUNK out per call (a member may inflate a thousandfold); the rest waits
                self.buf = self.z.decompress(data, CHUNK)
                self.pending = self.z.unconsumed_tail
            except zlib.error as exc:
                if "check" in str(exc):  # CRC-32 or length of the decompressed data differ
                    raise RecordChanged(f"gzip checksum mismatch: the record's bytes changed ({exc})") from exc
                raise RecordUnreadable(f"corrupt gzip data ({exc})") from exc
        if self.z.eof and (self.z.unused_data or self.raw.read(1)):
            raise RecordUnreadable("the stored length covers more than one gzip member")

    def headers_end(self, limit: int) -> bool:
        """Whether the WARC header block ends (blank line) within the first ``limit`` bytes; what
        was read is kept for the next reads. warcio reads header lines whole: this bounds them."""
        peeked = bytearray()
        while len(peeked) < limit:
            self._fill()
            if not self.buf:
                break
            peeked += self.buf
            self.buf = b""
            if b"\r\n\r\n" in peeked or b"\n\n" in peeked:
                self.buf = bytes(peeked)
                return True
        self.buf = bytes(peeked)
        return False

    def read(self, n: int = -1) -> bytes:
        self._fill()
        n = len(self.buf) if n is None or n < 0 else n
        out, self.buf = self.buf[:n], self.buf[n:]
        self.pos += len(out)
        return out

    def readinto(self, b) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)


class _Plain(_Member):
    """An uncompressed .warc: the limited raw bytes as they are."""

    def _fill(self) -> None:
        if not self.buf:
            self.buf = self.pending or self.raw.read(CHUNK)
            self.pending = b""


@dataclass
class RecordFacts:
    rec_type: str | None = None
    record_id: str | None = None
    target_uri: str | None = None
    date: str | None = None
    payload_digest: str | None = None  # as the header says
    block_digest: str | None = None
    refers_to: str | None = None
    http_status: int | None = None
    mime: str | None = None  # of the HTTP payload (or the record, without HTTP)
    block_ok: bool | None = None  # None: no header to check against
    payload_ok: bool | None = None
    sha256: str | None = None  # hex sha256 of the payload (None for a revisit: it has none)
    payload_computed: dict[str, bytes] = field(default_factory=dict)


def read_record(fh: BinaryIO, offset: int, length: int,
                tee: Callable[[bytes], None] | None = None) -> RecordFacts:
    """Parse the record at ``offset`` and recompute its digests, reading ``length`` bytes once.

    Raises RecordTruncated / RecordUnreadable / RecordChanged; digest mismatches are data (``block_ok``,
    ``payload_ok``) for the caller to judge.
    """
    fh.seek(offset)
    raw = _RawLimit(fh, length, tee)
    try:
        first = raw.read(CHUNK)
        if not first:
            raise RecordTruncated(f"nothing at offset {offset} (file too short)")
        stream = _Member(raw, first) if first[:2] == b"\x1f\x8b" else _Plain(raw, first)
        if not stream.headers_end(MAX_WARC_HEAD):
            raise RecordUnreadable(f"no WARC record at this offset (no end of headers in {MAX_WARC_HEAD} bytes)")
        facts = _parse(stream)
        stream.read()  # to the end of the member: a corrupt gzip trailer (CRC) shows here
        while stream.read(CHUNK):
            pass
        if raw.short:
            raise RecordTruncated("file ends inside the record")
        return facts
    finally:
        raw.drain()


def _parse(stream: io.RawIOBase) -> RecordFacts:
    try:
        record = next(iter(ArchiveIterator(stream, no_record_parse=True)))
    except StopIteration:
        raise RecordUnreadable("no WARC record at this offset") from None
    except (RecordTruncated, RecordUnreadable, RecordChanged):
        raise
    except Exception as exc:  # warcio's ArchiveLoadFailed and friends
        raise RecordUnreadable(f"not a WARC record at this offset ({type(exc).__name__})") from exc
    h = record.rec_headers
    facts = RecordFacts(
        rec_type=record.rec_type, record_id=h.get_header("WARC-Record-ID"),
        target_uri=h.get_header("WARC-Target-URI"), date=h.get_header("WARC-Date"),
        payload_digest=h.get_header("WARC-Payload-Digest"), block_digest=h.get_header("WARC-Block-Digest"),
        refers_to=h.get_header("WARC-Refers-To"))
    expected_len = int(h.get_header("Content-Length") or 0)
    has_http = (h.get_header("Content-Type") or "").lower().startswith("application/http")
    algos = {a for a in (digests.algo_of(facts.block_digest), digests.algo_of(facts.payload_digest)) if a}
    digester = digests.BlockDigester(http=has_http, algorithms=algos)
    head, seen = b"", 0
    while True:
        chunk = record.raw_stream.read(CHUNK)
        if not chunk:
            break
        if has_http and digester.head_length is None:
            head += chunk
        seen += len(chunk)
        digester.update(chunk)
    if seen < expected_len:
        raise RecordTruncated(f"record block is {seen} of {expected_len} bytes")
    computed = digester.result()
    if has_http:
        _http_facts(head[:computed.head_length], facts)
    else:
        facts.mime = (h.get_header("Content-Type") or "").split(";")[0].strip() or None
    facts.block_ok = digests.matches(facts.block_digest, computed.block)
    if facts.rec_type != "revisit":
        facts.payload_computed = computed.payload
        facts.payload_ok = digests.matches(facts.payload_digest, computed.payload)
        facts.sha256 = computed.sha256
    return facts


def _http_facts(head: bytes, facts: RecordFacts) -> None:
    if not head:
        return
    try:
        parsed = StatusAndHeadersParser([], verify=False).parse(io.BytesIO(head))
    except Exception:
        return
    status = (parsed.get_statuscode() or "").strip()
    facts.http_status = int(status) if status.isdigit() else None
    ctype = parsed.get_header("Content-Type")
    facts.mime = ctype.split(";")[0].strip() if ctype else None
