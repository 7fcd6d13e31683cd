"""Undo Content-Encoding incrementally (gzip, deflate, br), for bodies we keep or serve decoded."""
from __future__ import annotations

import codecs
import zlib
from typing import Callable, Iterable, Iterator

try:  # optional: brotli is not a hard dependency
    import brotli  # type: ignore
except ImportError:  # pragma: no cover
    brotli = None


class _Zlib:
    def __init__(self, gzip: bool):
        self._gzip = gzip
        self._obj = zlib.decompressobj(16 + zlib.MAX_WBITS if gzip else zlib.MAX_WBITS)
        self._first = True

    def __call__(self, data: bytes) -> bytes:
        if self._first and not self._gzip and data:
            self._first = False
            try:  # "deflate" is zlib-wrapped by the RFC, raw deflate in practice: try both
                return self._obj.decompress(data)
            except zlib.error:
                self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
        out = self._obj.decompress(data)
        # concatenated gzip members (allowed by RFC 1952)
        while self._gzip and self._obj.eof and self._obj.unused_data:
            rest = self._obj.unused_data
            self._obj = zlib.decompressobj(16 + zlib.MAX_WBITS)
            out += self._obj.decompress(rest)
        return out

    def flush(self) -> bytes:
        return self._obj.flush()


class _Brotli:
    def __init__(self):
        self._obj = brotli.Decompressor()

    def __call__(self, data: bytes) -> bytes:
        return self._obj.process(data) if data else b""

    def flush(self) -> bytes:
        return b""


class _Identity:
    def __call__(self, data: bytes) -> bytes:
        return data

    def flush(self) -> bytes:
        return b""


def make_decoder(content_encoding: str | None) -> Callable[[bytes], bytes]:
    """A callable turning encoded chunks into decoded ones; ``.flush()`` ends it.

    Several codings ("gzip, br") are undone last-applied first; unknown ones are left as they are.
    """
    steps = []
    for coding in reversed([c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]):
        if coding in ("gzip", "x-gzip"):
            steps.append(_Zlib(gzip=True))
        elif coding == "deflate":
            steps.append(_Zlib(gzip=False))
        elif coding == "br" and brotli is not None:
            steps.append(_Brotli())
        elif coding != "identity":
            return _Identity()  # cannot undo it: hand back the bytes as they are
    if not steps:
        return _Identity()
    if len(steps) == 1:
        return steps[0]
    return _Chain(steps)


class _Chain:
    def __init__(self, steps):
        self._steps = steps

    def __call__(self, data: bytes) -> bytes:
        for s in self._steps:
            data = s(data)
        return data

    def flush(self) -> bytes:
        data = b""
        for s in self._steps:
            data = s(data) + s.flush()
        return data


def decode_iter(chunks: Iterable[bytes], content_encoding: str | None) -> Iterator[bytes]:
    dec = make_decoder(content_encoding)
    for chunk in chunks:
        out = dec(chunk)
        if out:
            yield out
    tail = dec.flush()
    if tail:
        yield tail


def quick_markup_text(raw: bytes) -> str:
    """Bytes of a page as text for parsing links and markers: UTF-8, else Latin-1 byte for byte.

    Handing bytes to BeautifulSoup makes it run charset detection on every page (slow and
    ~1 MB of allocations each); for URLs and markers the exact codec does not matter. (Text
    we keep uses archiver.extract.encoding.) A multi-byte character cut at the end is fine."""
    try:
        return codecs.getincrementaldecoder("utf-8")().decode(raw, final=False)
    except UnicodeDecodeError:
        return raw.decode("latin-1")
