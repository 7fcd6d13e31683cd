"""Hostile files that are small on disk and huge once inflated: gzip / brotli bombs, a WACZ whose
datapackage.json inflates to gigabytes, a URLTeam dump with one enormous line.

Everything is generated streaming and fast (well under a second for 4 GiB): deflate output after
a full flush does not depend on what came before, so one compressed MiB of filler is written
again and again and only the CRC-32 is computed over the whole (0.6 s for 4 GiB). The inflated
size is real: a reader that decodes without a bound needs that much memory.

    gzip_bomb(path, 4 << 30)                 4 GiB of zeros in ~4 MB, one gzip member
    brotli_bomb(path, 4 << 30)               the same in brotli (~0.8 MB)
    gzip_bomb_bytes(64 << 20)                in memory, for a wire server to send
    wacz_bomb(path, 3 << 30)                 datapackage.json inflating to 3 GiB (sizes declared honestly)
    wacz_bomb(path, 3 << 30, lie=True)       ... declaring 200 bytes
    long_line_dump(path, 4 << 30)            shortcode|url lines with one 4 GiB line, gzip
"""
from __future__ import annotations

import importlib.machinery
import importlib.util
import struct
import zlib
from pathlib import Path
from typing import BinaryIO, Callable

MIB = 1 << 20


def _deflate_filler(fill: bytes, total: int, out: Callable[[bytes], None], *,
                    prefix: bytes = b"", suffix: bytes = b"") -> tuple[int, int]:
    """Write a raw deflate stream of prefix + fill*total + suffix
    through ``out``; returns (crc32, inflated size). ``fill`` is one byte."""
    block = fill * MIB
    one = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = one.compress(block) + one.flush(zlib.Z_FULL_FLUSH)  # self-contained: can be repeated
    z = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = z.compress(prefix) + z.flush(zlib.Z_FULL_FLUSH)
    out(head)
    crc = zlib.crc32(prefix)
    full, rest = divmod(total, MIB)
    for _ in range(full):
        out(piece)
        crc = zlib.crc32(block, crc)
    tail = fill * rest + suffix
    z2 = zlib.compressobj(9, zlib.DEFLATED, -15)
    out(z2.compress(tail) + z2.flush(zlib.Z_FINISH))
    crc = zlib.crc32(tail, crc)
    size = len(prefix) + total + len(suffix)
    return crc & 0xFFFFFFFF, size



def _write_gzip(fh: BinaryIO, fill: bytes, total: int, prefix: bytes = b"", suffix: bytes = b"") -> None:
    fh.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff")  # gzip header: deflate, no name, mtime 0
    crc, size = _deflate_filler(fill, total, fh.write, prefix=prefix, suffix=suffix)
    fh.write(struct.pack("<II", crc, size & 0xFFFFFFFF))


def gzip_bomb(path: Path, inflated: int, *, fill: bytes = b"\0", prefix: bytes = b"", suffix: bytes = b"") -> Path:
    """One gzip member inflating to prefix + ``inflated`` fill bytes + suffix."""
    with open(path, "wb") as fh:
        _write_gzip(fh, fill, inflated, prefix, suffix)
    return Path(path)


def gzip_bomb_bytes(inflated: int, *, fill: bytes = b"\0", prefix: bytes = b"", suffix: bytes = b"") -> bytes:
    import io

    buf = io.BytesIO()
    _write_gzip(buf, fill, inflated, prefix, suffix)
    return buf.getvalue()


def _brotli_module():
    """Google's brotli extension (see archiver/net/decode.py: brotlipy shadows the name)."""
    spec = importlib.machinery.PathFinder.find_spec("_brotli")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def brotli_bomb_bytes(inflated: int, *, prefix: bytes = b"") -> bytes:
    c = _brotli_module().Compressor(quality=1, lgwin=24)
    parts = [c.process(prefix)]
    block = bytes(16 * MIB)
    full, rest = divmod(inflated, len(block))
    for _ in range(full):
        parts.append(c.process(block))
    parts.append(c.process(bytes(rest)))
    parts.append(c.finish())
    return b"".join(parts)


def brotli_bomb(path: Path, inflated: int) -> Path:
    Path(path).write_bytes(brotli_bomb_bytes(inflated))
    return Path(path)


# ---- a WACZ whose datapackage.json is a bomb -----------------------------------------------------

def wacz_bomb(path: Path, inflated: int, *, lie: bool = False) -> Path:
    """A ZIP holding datapackage.json (deflated) that inflates to ``inflated`` bytes of JSON
    (spaces inside an object: valid JSON if read whole). ``lie``: the sizes in the ZIP headers
    say 200 bytes (a reader trusting them reads up to there and fails the CRC)."""
    name = b"datapackage.json"
    prefix, suffix = b'{"profile": "data-package", "wacz_version": "1.1.1", "resources": []', b"}"
    body = []
    crc, size = _deflate_filler(b" ", inflated, body.append, prefix=prefix, suffix=suffix)
    data = b"".join(body)
    declared = 200 if lie else size
    if declared >= 0xFFFFFFFF:
        raise ValueError("keep the bomb under 4 GiB (no ZIP64 here)")
    dos_time, dos_date = 0, (2024 - 1980) << 9 | 1 << 5 | 1
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, dos_time, dos_date, crc, len(data), declared,
                        len(name), 0) + name
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, dos_time, dos_date, crc, len(data),
                          declared, len(name), 0, 0, 0, 0, 0, 0) + name
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), len(local) + len(data), 0)
    with open(path, "wb") as fh:
        fh.write(local)
        fh.write(data)
        fh.write(central)
        fh.write(end)
    return Path(path)


def long_line_dump(path: Path, line_bytes: int) -> Path:
    """A gzip URLTeam dump: two good lines, one line of ``line_bytes`` bytes, two good lines."""
    head = b"abc|http://example.org/one\nabd|http://example.org/two\nlong|http://example.org/"
    tail = b"\nabe|http://example.org/three\nabf|http://example.org/four\n"
    return gzip_bomb(path, line_bytes, fill=b"a", prefix=head, suffix=tail)
