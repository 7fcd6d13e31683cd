"""Reading untrusted streams with a bound: whole small documents, and lines.

A compressed file (a dump, a WACZ member) can hold a "line" or a JSON document of gigabytes in
a few megabytes; ``readline()`` and ``read()`` would load it whole. These read at most the bound
(plus one byte, to know it was passed) and never hold more.
"""
from __future__ import annotations

from typing import IO, Iterator

OVERLONG = None  # what bounded_lines yields for a line past the bound (its bytes are skipped)
_SKIP = 1 << 20


def read_capped(stream: IO[bytes], limit: int) -> bytes | None:
    """All of ``stream`` if it holds at most ``limit`` bytes, else None (having read limit + 1)."""
    parts, got = [], 0
    while got <= limit:
        chunk = stream.read(min(_SKIP, limit + 1 - got))
        if not chunk:
            return b"".join(parts)
        parts.append(chunk)
        got += len(chunk)
    return None


def bounded_lines(stream: IO[bytes], max_line: int) -> Iterator[bytes | None]:
    """Each line (newline kept) of at most ``max_line`` bytes before its newline; ``OVERLONG``
    (None) for a longer one, read past in pieces and dropped. ``stream.readline(n)`` must stop
    at n bytes (io.BufferedReader, gzip/lzma/bz2 files and zip members do)."""
    while True:
        line = stream.readline(max_line + 1)
        if not line:
            return
        if len(line) <= max_line or line.endswith(b"\n"):
            yield line
            continue
        while line and not line.endswith(b"\n"):
            line = stream.readline(_SKIP)
        yield OVERLONG
