"""Every digest archiver writes or checks, defined once (docs/digests.md says why each covers what).

For a WARC record whose block is an HTTP message (``application/http``):

* **block** (``WARC-Block-Digest``, sha1, base32): every byte of the record block as stored,
  i.e. the HTTP status line and headers and the body exactly as they crossed the socket,
  chunk framing included;
* **payload** (``WARC-Payload-Digest``, sha1, base32): the bytes after the HTTP header block,
  *as stored*, chunk framing included, Content-Encoding kept. This is what warcio and
  FastWARC compute when they check a record; WARC 1.1 §5.9's "entity-body" reading (jwarc,
  wget-lua since 2023) removes the transfer coding first. The two agree on every record that
  is not sent chunked; docs/digests.md has the sources;
* **sha256** (our database's ``sha256``, hex): the *entity body*, the payload with the
  transfer coding removed (Content-Encoding kept), so the same document served with other
  chunk boundaries has the same sha256. A revisit record is written only when both the
  payload digest and the sha256 of an earlier capture match, so it is an identical payload
  under either reading.

The writer (capture.recorder), ``verify``, ``export``, ``verify-export`` and revisit
detection all get these numbers from :class:`BlockDigester`; WACZ file hashes come from
:func:`file_digest`. Digest *strings* written by other tools are compared with
:func:`parse` / :func:`matches`, which accept base32, hex and base64 values.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from typing import BinaryIO, Iterable

MAX_HTTP_HEAD = 1 << 20  # an HTTP header block longer than this is treated as payload
_ALGOS = {"sha1": "sha1", "sha-1": "sha1", "sha256": "sha256", "sha-256": "sha256", "md5": "md5",
          "sha512": "sha512", "sha-512": "sha512"}


# ---- digest strings ---------------------------------------------------------------------------

def b32(raw: bytes, algo: str = "sha1") -> str:
    """``"sha1:BASE32"``, the form warcio and Heritrix write."""
    return f"{algo}:" + base64.b32encode(raw).decode("ascii")


def parse(value: str | None) -> tuple[str, bytes] | None:
    """``"sha1:BASE32"`` -> ("sha1", raw digest bytes); None when absent or not understood."""
    if not value or ":" not in value:
        return None
    algo, _, enc = value.strip().partition(":")
    name = _ALGOS.get(algo.lower())
    if name is None:
        return None
    size = hashlib.new(name).digest_size
    for decode in (_b32, _hex, _b64):
        raw = decode(enc)
        if raw is not None and len(raw) == size:
            return name, raw
    return None


def _b32(s: str) -> bytes | None:
    try:
        return base64.b32decode(s.upper() + "=" * (-len(s) % 8))
    except (binascii.Error, ValueError):
        return None


def _hex(s: str) -> bytes | None:
    try:
        return bytes.fromhex(s)
    except ValueError:
        return None


def _b64(s: str) -> bytes | None:
    try:
        return base64.b64decode(s + "=" * (-len(s) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


def same(a: str | None, b: str | None) -> bool:
    """Do two digest strings name the same digest (whatever their encodings)?"""
    pa, pb = parse(a), parse(b)
    if pa is None or pb is None:
        return (a or "").strip() == (b or "").strip()
    return pa == pb


def algo_of(value: str | None) -> str | None:
    parsed = parse(value)
    return parsed[0] if parsed else None


def matches(value: str | None, computed: dict[str, bytes]) -> bool | None:
    """Does the digest string match what we computed? None when we cannot tell (unknown algo)."""
    parsed = parse(value)
    if parsed is None or parsed[0] not in computed:
        return None
    return computed[parsed[0]] == parsed[1]


# ---- files ------------------------------------------------------------------------------------

def file_digest(fh: BinaryIO, algo: str = "sha256", chunk: int = 1 << 20) -> tuple[str, int]:
    """(hex digest, size) of a stream read to its end: WACZ resources, manifest entries."""
    h, size = hashlib.new(algo), 0
    for buf in iter(lambda: fh.read(chunk), b""):
        h.update(buf)
        size += len(buf)
    return h.hexdigest(), size


def hash_string(data: bytes, algo: str = "sha256") -> str:
    """``"sha256:<hex>"``: how WACZ (datapackage resources, datapackage-digest.json, block indexes)
    names the hash of a whole file or block."""
    return f"{algo}:" + hashlib.new(algo, data).hexdigest()


# ---- HTTP messages ----------------------------------------------------------------------------

def http_head_end(buf: bytes | bytearray) -> int | None:
    """Offset just past the blank line ending an HTTP header block (CRLF or bare-LF lines), as
    warcio's header parser reads it; None while the block has not ended."""
    ends = [i + n for i, n in ((buf.find(b"\n\r\n"), 3), (buf.find(b"\n\n"), 2)) if i >= 0]
    return min(ends) if ends else None


_TE = re.compile(rb"^transfer-encoding[ \t]*:(.*)$", re.I | re.M)


def is_chunked(head: bytes) -> bool:
    """Does the header block say the body is sent chunked (``chunked`` is the last coding)?"""
    codings = b",".join(m.group(1) for m in _TE.finditer(head)).split(b",")
    return codings[-1].strip().lower() == b"chunked" if codings != [b""] else False


class Dechunker:
    """Incremental, lenient removal of ``Transfer-Encoding: chunked`` framing (RFC 9112 §7.1).

    Chunk extensions and trailer fields are dropped; bytes after the last chunk and its
    trailers are not part of the body. Where the framing stops making sense (a size line that
    is not hex, or longer than any real one), the rest is taken verbatim from that point, so
    a malformed or cut-short body still has one well-defined entity. Every caller hashing an
    entity body uses this class, which is what keeps their digests equal.
    """

    MAX_LINE = 4096

    def __init__(self) -> None:
        self.state = "size"  # size | data | data_end | trailer | done | raw
        self.left = 0
        self.line = bytearray()
        self.done_at: int | None = None  # where, in the data of the last feed(), the message ended

    def feed(self, data: bytes) -> bytes:
        out = bytearray()
        i, n = 0, len(data)
        while i < n:
            st = self.state
            if st == "raw":
                out += data[i:]
                break
            if st == "done":
                break
            if st == "data":
                take = min(self.left, n - i)
                out += data[i:i + take]
                i += take
                self.left -= take
                if self.left == 0:
                    self.state = "data_end"
                continue
            if st == "data_end":  # the CRLF after a chunk's data (a bare LF is accepted)
                c = data[i:i + 1]
                if c == b"\r" and not self.line:
                    self.line += c
                    i += 1
                    continue
                if c == b"\n":
                    self.line.clear()
                    self.state = "size"
                    i += 1
                    continue
                self.state = "raw"  # data overran its declared size: the rest as it is
                out += self.line
                self.line.clear()
                continue
            # size or trailer: read one line
            j = data.find(b"\n", i)
            if j < 0:
                self.line += data[i:]
                i = n
                if len(self.line) > self.MAX_LINE:
                    self._to_raw(out)
                continue
            self.line += data[i:j + 1]
            i = j + 1
            if len(self.line) > self.MAX_LINE:
                self._to_raw(out)
                continue
            line = bytes(self.line)
            self.line.clear()
            if st == "trailer":
                if not line.strip(b"\r\n"):
                    self.state, self.done_at = "done", i
                continue
            size = line.split(b";", 1)[0].strip()
            try:
                self.left = int(size, 16) if size and all(ch in b"0123456789abcdefABCDEF" for ch in size) else -1
            except ValueError:  # pragma: no cover - guarded by the check above
                self.left = -1
            if self.left < 0:
                out += line
                self.state = "raw"
            elif self.left == 0:
                self.state = "trailer"
            else:
                self.state = "data"
        return bytes(out)

    def _to_raw(self, out: bytearray) -> None:
        out += self.line
        self.line.clear()
        self.state = "raw"


def _header(head: bytes, name: bytes) -> list[bytes]:
    return [m.group(1).strip() for m in re.finditer(rb"^" + name + rb"[ \t]*:(.*)$", head, re.I | re.M)]


def body_framing(head: bytes, method: str = "GET") -> tuple[str, int]:
    """How the body of a response is delimited (RFC 9112 §6.3): ("none", 0), ("length", n),
    ("chunked", 0) or ("close", 0). Bytes past the end of the message are not part of it."""
    parts = head.split(None, 2)
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 200
    if method.upper() == "HEAD" or 100 <= status < 200 or status in (204, 304):
        return "none", 0
    if _header(head, b"transfer-encoding"):
        return ("chunked", 0) if is_chunked(head) else ("close", 0)
    lengths = {v for v in _header(head, b"content-length")}
    if len(lengths) == 1:
        value = lengths.pop()
        if value.isdigit():
            return "length", int(value)
    return "close", 0


@dataclass(frozen=True)
class Digests:
    """What :class:`BlockDigester` computed over one record block."""

    block: dict[str, bytes]  # algorithm -> raw digest of the whole block
    payload: dict[str, bytes]  # algorithm -> raw digest of the stored payload (the block, without HTTP)
    sha256: str  # hex sha256 of the entity body
    head_length: int  # bytes of HTTP header block (0 without one)
    payload_length: int  # bytes stored after the header block (framing included)
    entity_length: int  # bytes of entity body (framing removed)

    @property
    def block_digest(self) -> str:
        return b32(self.block["sha1"])

    @property
    def payload_digest(self) -> str:
        return b32(self.payload["sha1"])


class BlockDigester:
    """Feed a record block (HTTP header block, then body, as stored) in pieces of any size.

    ``http`` is False for blocks that are not HTTP messages (resource, metadata, warcinfo):
    then the whole block is the payload and the entity. ``algorithms`` adds digests other
    tools may have written (sha256 block digests, say); sha1 is always computed.
    """

    def __init__(self, *, http: bool = True, algorithms: Iterable[str] = ()):
        algos = {"sha1"} | set(algorithms)
        self._block = {a: hashlib.new(a) for a in algos}
        self._payload = {a: hashlib.new(a) for a in algos}
        self._entity = hashlib.sha256()
        self._head = bytearray()
        self.head_length: int | None = None if http else 0
        self._dechunk: Dechunker | None = None
        self.payload_length = 0
        self.entity_length = 0

    def update(self, data: bytes) -> None:
        for d in self._block.values():
            d.update(data)
        if self.head_length is None:
            start = len(self._head)
            self._head += data
            end = http_head_end(self._head)
            if end is None:
                if len(self._head) > MAX_HTTP_HEAD:  # no header block: all of it is payload
                    data, self._head, self.head_length = bytes(self._head), bytearray(), 0
                else:
                    return
            else:
                self.head_length = end
                self._dechunk = Dechunker() if is_chunked(bytes(self._head[:end])) else None
                data = data[end - start:]
                self._head = bytearray()
        self._feed_payload(data)

    def _feed_payload(self, data: bytes) -> None:
        if not data:
            return
        for d in self._payload.values():
            d.update(data)
        self.payload_length += len(data)
        entity = self._dechunk.feed(data) if self._dechunk is not None else data
        self._entity.update(entity)
        self.entity_length += len(entity)

    def result(self) -> Digests:
        if self.head_length is None:  # the block ended inside the header block: no payload
            self.head_length = len(self._head)
        return Digests(
            block={a: d.digest() for a, d in self._block.items()},
            payload={a: d.digest() for a, d in self._payload.items()},
            sha256=self._entity.hexdigest(), head_length=self.head_length,
            payload_length=self.payload_length, entity_length=self.entity_length)


def digest_block(data: bytes, *, http: bool = True) -> Digests:
    """:class:`BlockDigester` over bytes in memory (tests, small records)."""
    d = BlockDigester(http=http)
    d.update(data)
    return d.result()
