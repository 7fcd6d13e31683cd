"""Undo Content-Encoding (gzip, deflate, br) incrementally, with the decoded size bounded.

A body is untrusted: 4 MB of gzip inflate to 4 GiB, and a few hundred bytes of brotli (or
``Content-Encoding: gzip, gzip``) to as much again. So nothing here ever asks a decompressor
for "all the output of this input": each step is asked for at most ``n`` bytes (zlib's
``max_length``, brotli's ``output_buffer_limit``), the rest of its input waits, and a
:class:`Decoder` stops at its ``limit`` (``over`` says there was more). The WARC keeps the
bytes as sent; only what we decode for reading is bounded here.

- :class:`Decoder` – push encoded bytes in (``feed``), pull decoded bytes out (``read(n)``)
- :class:`DecodedReader` – a file-like over an encoded stream, for reading a payload back
- :func:`decode_prefix` – at most ``limit`` decoded bytes of some encoded bytes
"""
from __future__ import annotations

import codecs
import zlib
from typing import BinaryIO

from ..errors import ArchiverError


def _brotli_decompressor():
    """Google's brotli >= 1.2 decompressor (the one with bounded output), or None.

    pywb depends on brotlipy, which installs a ``brotli`` package shadowing Google's ``brotli``
    module and whose cffi extension registers itself as ``_brotli`` too; so Google's extension
    module is found on the path and loaded by hand, without touching ``sys.modules``. With
    none installed, ``br`` bodies are left encoded: never decoded without a bound."""
    import importlib.machinery
    import importlib.util
    import sys

    for name in ("brotli", "_brotli"):
        cls = getattr(sys.modules.get(name), "Decompressor", None)
        if cls is not None and hasattr(cls, "can_accept_more_data"):
            return cls
    try:
        spec = importlib.machinery.PathFinder.find_spec("_brotli")
        if spec is None or spec.loader is None:
            return None
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    except (ImportError, OSError):
        return None
    cls = getattr(mod, "Decompressor", None)
    return cls if cls is not None and hasattr(cls, "can_accept_more_data") else None


_BROTLI = _brotli_decompressor()
CHUNK = 1 << 16
MAX_CODINGS = 4  # "gzip, gzip, gzip, gzip, gzip": more layers than this are left encoded


class DecodeError(ArchiverError):
    """The body is not what its Content-Encoding says (corrupt or truncated compressed data)."""


class _Ended:
    """A zlib stream that has ended: further bytes are ignored."""

    eof = True
    unused_data = b""

    def decompress(self, data: bytes, n: int = 0) -> bytes:
        return b""


class _Zlib:
    """gzip (concatenated members too, RFC 1952) or deflate (zlib-wrapped by the RFC, raw in practice:
    told apart by the zlib header's check bits, as browsers do)."""

    def __init__(self, gzip: bool):
        self._gzip = gzip
        self._obj = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzip else None  # deflate: after 2 bytes
        self._pending = b""
        self._flushed, self._left = False, b""  # the stream's last output, kept across end() calls

    def put(self, data: bytes) -> None:
        self._pending = self._pending + data if self._pending else data

    def _choose(self, final: bool) -> bool:
        if self._obj is None:
            if len(self._pending) < 2 and not final:
                return False
            cmf, flg = (self._pending + b"\0\0")[:2]
            wrapped = cmf & 0x0F == 8 and (cmf << 8 | flg) % 31 == 0
            self._obj = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
        return True

    def get(self, n: int) -> bytes:
        if not self._choose(final=False):
            return b""
        while self._pending:
            later_member = self._obj.eof
            if later_member:
                if not self._gzip:
                    self._pending = b""  # bytes after the end of the stream: not part of it
                    return b""
                self._obj = zlib.decompressobj(16 + zlib.MAX_WBITS)  # the next gzip member
            data, self._pending = self._pending, b""
            try:
                out = self._obj.decompress(data, n)
            except zlib.error as exc:
                if later_member:  # padding after the last member, as browsers read it: ignored
                    self._obj = _Ended()
                    return b""
                raise DecodeError(f"corrupt {'gzip' if self._gzip else 'deflate'} data ({exc})") from exc
            self._pending = self._obj.unused_data if self._obj.eof else self._obj.unconsumed_tail
            if out:
                return out
        return b""

    def end(self, n: int) -> bytes:
        if self._obj is None:
            self._choose(final=True)
            out = self.get(n)
            if out:
                return out
        # zlib keeps at most a match's worth of output once all input is consumed; flush's argument
        # is only a buffer size, so what does not fit this call is kept for the next
        if not self._flushed and not self._obj.eof:
            self._flushed, self._left = True, self._obj.flush()
        out, self._left = self._left[:n], self._left[n:]
        return out


class _Brotli:
    def __init__(self):
        self._obj = _BROTLI()
        self._pending = b""

    def put(self, data: bytes) -> None:
        self._pending += data

    def get(self, n: int) -> bytes:
        try:
            if self._pending and self._obj.can_accept_more_data():
                data, self._pending = self._pending, b""
                return self._obj.process(data, output_buffer_limit=n)
            if self._obj.is_finished():
                self._pending = b""
                return b""
            return self._obj.process(b"", output_buffer_limit=n)
        except Exception as exc:  # brotli.error: the module's own class, not importable by one name
            raise DecodeError(f"corrupt brotli data ({exc})") from exc

    def end(self, n: int) -> bytes:
        return self.get(n)


def _steps(content_encoding: str | None) -> list | None:
    """Decoding steps, first applied first; None when a coding cannot be undone (left as is)."""
    codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
    codings = [c for c in codings if c != "identity"]
    if len(codings) > MAX_CODINGS:
        return None
    steps = []
    for coding in reversed(codings):  # undone last-applied first
        if coding in ("gzip", "x-gzip"):
            steps.append(_Zlib(gzip=True))
        elif coding == "deflate":
            steps.append(_Zlib(gzip=False))
        elif coding == "br" and _BROTLI is not None:
            steps.append(_Brotli())
        else:
            return None
    return steps


class Decoder:
    """Encoded bytes in, at most ``limit`` decoded bytes out, never more than ``n`` per read.

    ``feed`` encoded bytes as they come, ``read(n)`` what they decode to (``b""``: feed more, or
    after ``finish``: the end); ``over`` turns True when the body decodes to more than ``limit``
    (what is past it is never produced). A coding we cannot undo (unknown, brotli without a
    bounded decoder, too many layers) is passed through as sent, bounded the same way:
    ``decoding`` is then False.
    """

    def __init__(self, content_encoding: str | None, limit: int | None = None):
        steps = _steps(content_encoding)
        self.decoding = bool(steps)
        self._steps = steps or []
        self._input: list[bytes] = []
        self._finished = False
        self.limit = limit
        self.decoded = 0
        self.over = False
        self._carry = b""

    def feed(self, data: bytes) -> None:
        if data:
            self._input.append(bytes(data))

    def finish(self) -> None:
        """No more input: ``read`` now also drains what the decompressors hold."""
        self._finished = True

    def read(self, n: int = CHUNK) -> bytes:
        if self.over:
            return b""
        room = n if self.limit is None else min(n, self.limit - self.decoded + 1)  # one more: to see "over"
        if self._carry:
            out, self._carry = self._carry[:room], self._carry[room:]
        else:
            out = self._pull(len(self._steps), room)
            if len(out) > room:  # brotli may round its output buffer up
                out, self._carry = out[:room], out[room:]
        if self.limit is not None and self.decoded + len(out) > self.limit:
            out, self.over = out[: self.limit - self.decoded], True
            self._input, self._carry = [], b""
        self.decoded += len(out)
        return out

    def _pull(self, level: int, n: int) -> bytes:
        """Up to ``n`` bytes of the output of step ``level`` (0: the input itself)."""
        if level == 0:
            if not self._input:
                return b""
            head = self._input[0]
            if len(head) <= n:
                return self._input.pop(0)
            self._input[0] = head[n:]
            return head[:n]
        step = self._steps[level - 1]
        while True:
            out = step.get(n)
            if out:
                return out
            below = self._pull(level - 1, CHUNK)
            if not below:
                return step.end(n) if self._finished else b""
            step.put(below)


class DecodedReader:
    """A readable over ``raw`` (a stream with Content-Encoding still applied) giving at most
    ``limit`` decoded bytes; ``truncated`` is True when the body decoded to more. Closing it
    closes ``raw``.

    A body that fails to decode before producing anything is read as sent, as warcio's
    ``content_stream`` does (servers label plain bodies gzip); a later failure ends the body
    there (what decoded is kept)."""

    def __init__(self, raw: BinaryIO, content_encoding: str | None, limit: int):
        self._raw = raw
        self._dec = Decoder(content_encoding, limit)
        self._limit = limit
        self._eof = False
        self._fed: list[bytes] | None = [] if self._dec.decoding else None  # until the first output
        self.error: str | None = None

    @property
    def truncated(self) -> bool:
        return self._dec.over

    def read(self, n: int | None = -1) -> bytes:
        if n is None or n < 0:
            parts = []
            while True:
                part = self.read(1 << 20)
                if not part:
                    return b"".join(parts)
                parts.append(part)
        while True:
            try:
                out = self._dec.read(n)
            except DecodeError as exc:
                out = self._failed(exc, n)
            if out:
                self._fed = None
            if out or self._eof or self._dec.over:
                return out
            data = self._raw.read(CHUNK)
            if data:
                self._dec.feed(data)
                if self._fed is not None:
                    self._fed.append(data)
            else:
                self._eof = True
                self._dec.finish()

    def _failed(self, exc: DecodeError, n: int) -> bytes:
        self.error = str(exc)
        if self._fed is None:  # it decoded for a while: the body ends where it broke
            self._eof = True
            self._dec = Decoder(None, 0)
            return b""
        fed, self._fed = self._fed, None
        self._dec = Decoder(None, self._limit)  # not encoded after all: the bytes as sent
        for data in fed:
            self._dec.feed(data)
        if self._eof:
            self._dec.finish()
        return self._dec.read(n)

    def readable(self) -> bool:
        return True

    def __iter__(self):
        while True:
            buf = self.read(CHUNK)
            if not buf:
                return
            yield buf

    def close(self) -> None:
        close = getattr(self._raw, "close", None)
        if close is not None:
            close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def decode_prefix(raw: bytes, content_encoding: str | None, limit: int) -> bytes:
    """The first ``limit`` (at most) decoded bytes of ``raw``; what decodes before an error
    when the data is corrupt or cut short (a kept head is usually cut mid-stream)."""
    dec = Decoder(content_encoding, limit)
    dec.feed(raw)
    dec.finish()
    parts, got = [], 0
    try:
        while got < limit:
            out = dec.read(min(CHUNK * 16, limit - got))
            if not out:
                break
            parts.append(out)
            got += len(out)
    except DecodeError:
        if not parts:  # not encoded as it says: the bytes as they are
            return raw[:limit]
    return b"".join(parts)


def quick_markup_text(raw: bytes) -> str:
    """Bytes of a page as text for parsing links and markers: UTF-8, else Latin-1 byte for byte.

    Handing bytes to BeautifulSoup makes it run charset detection on every page (slow and
    ~1 MB of allocations each); for URLs and markers the exact codec does not matter. (Text
    we keep uses archiver.extract.encoding.) A multi-byte character cut at the end is fine."""
    try:
        return codecs.getincrementaldecoder("utf-8")().decode(raw, final=False)
    except UnicodeDecodeError:
        return raw.decode("latin-1")
