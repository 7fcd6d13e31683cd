"""One JSON document written as it is produced: long lists are never held whole.

A value of the document (at any depth of mappings) that is an *iterator* (a generator, ``map``,
...) is written as an array one element at a time; everything else is laid out as
``json.dumps(indent=2)`` lays it out. ``compact_items``: each element of a streamed array is
compact on a line of its own (json's C encoder: a listing of a million rows), else indented like
the rest (the export's summary.json, read by people too). Used by the CLI's ``--json`` listings
and by the export's summary.
"""
from __future__ import annotations

import json
from collections import abc
from typing import Any, Callable


class Buffered:
    """Writes gathered into blocks of about 64 KB (one small write per row costs more than encoding it)."""

    def __init__(self, write: Callable[[str], Any], size: int = 65536):
        self._write, self.parts, self.size, self.limit = write, [], 0, size

    def write(self, text: str) -> None:
        self.parts.append(text)
        self.size += len(text)
        if self.size > self.limit:
            self.flush()

    def flush(self) -> None:
        if self.parts:
            self._write("".join(self.parts))
        self.parts, self.size = [], 0


def write(doc: Any, write: Callable[[str], Any], *, default: Callable[[Any], Any] | None = None,
          compact_items: bool = True) -> None:
    """Write ``doc`` through ``write`` (str pieces of about 64 KB), then a newline."""
    out = Buffered(write)
    compact = json.JSONEncoder(default=default, ensure_ascii=False).encode
    indented = json.JSONEncoder(default=default, ensure_ascii=False, indent=2).encode

    def value(v: Any, indent: str) -> None:
        inner = indent + "  "
        if isinstance(v, abc.Mapping):
            if not v:
                out.write("{}")
                return
            out.write("{")
            for n, (key, item) in enumerate(v.items()):
                out.write(("," if n else "") + "\n" + inner + json.dumps(key, ensure_ascii=False) + ": ")
                value(item, inner)
            out.write("\n" + indent + "}")
        elif isinstance(v, abc.Iterator):
            n = 0
            for n, item in enumerate(v, start=1):
                out.write(("[" if n == 1 else ",") + "\n" + inner)
                if isinstance(item, abc.Mapping) and any(isinstance(x, abc.Iterator) for x in item.values()):
                    value(item, inner)
                elif compact_items:
                    out.write(compact(item))
                else:
                    out.write(indented(item).replace("\n", "\n" + inner))
            out.write("\n" + indent + "]" if n else "[]")
        else:
            out.write(indented(v).replace("\n", "\n" + indent))

    value(doc, "")
    out.write("\n")
    out.flush()


__all__ = ["write", "Buffered"]
