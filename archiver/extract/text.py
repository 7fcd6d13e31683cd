"""Plain text, decoded like HTML (header, then detection), streamed up to the character limit."""
from __future__ import annotations

import codecs
import io
from typing import BinaryIO

from ..model import ExtractedText
from .encoding import SAMPLE_BYTES, choose_encoding

CHUNK = 1 << 20


def copy_up_to(src: BinaryIO, dst, size: int) -> int:
    """Copy at most ``size`` bytes, however ``src`` splits its reads; how many were copied."""
    done = 0
    while done < size:
        chunk = src.read(min(CHUNK, size - done))
        if not chunk:
            break
        dst.write(chunk)
        done += len(chunk)
    return done


def read_up_to(stream: BinaryIO, size: int) -> bytes:
    """Up to ``size`` bytes, however the stream splits its reads."""
    buf = io.BytesIO()
    copy_up_to(stream, buf, size)
    return buf.getvalue()


def extract_plain(stream: BinaryIO, *, max_chars: int, head: bytes = b"",
                  headers_charset: str | None = None) -> ExtractedText:
    """Text of a text/* body; ``head`` is what the caller already read from the stream."""
    sample = head + read_up_to(stream, max(0, SAMPLE_BYTES - len(head)))
    complete = len(sample) < SAMPLE_BYTES
    name, _source = choose_encoding(sample, header=headers_charset, complete=complete)
    decoder = codecs.getincrementaldecoder(name)("replace")
    parts, size = [], 0
    chunk, final = sample, complete
    while True:
        text = decoder.decode(chunk, final=final)
        if text:
            parts.append(text[: max_chars - size])
            size += len(parts[-1])
        if size >= max_chars or final:
            break
        chunk = stream.read(CHUNK)
        final = not chunk
    body = "".join(parts)
    if body.startswith("\ufeff"):
        body = body[1:]
    return ExtractedText(method="plain", text=body or None, encoding=name)
