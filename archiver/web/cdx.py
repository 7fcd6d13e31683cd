"""A CDX API that answers like the Wayback CDX server (``/cdx/search/cdx``) over our CDXJ index.

Lookup (SURT keys, matchType ranges, from/to clamping) is pywb's own index code;
this module only speaks the Wayback dialect: IA field names, ``output=json`` as
an array of arrays with a header row, ``limit=-N`` for the last N, ``filter``
as ``[!]field:regex`` (full match), ``collapse=field[:N]`` on adjacent rows.
The WARC filename and offset are not exposed: they are ours, not the public's.
"""
from __future__ import annotations

import heapq
import json
import re
from collections import deque
from pathlib import Path
from typing import Iterable, Mapping

from ..errors import InputError

FIELDS = ("urlkey", "timestamp", "original", "mimetype", "statuscode", "digest", "length")
_PYWB_NAME = {"original": "url", "mimetype": "mime", "statuscode": "status"}
MATCH_TYPES = ("exact", "prefix", "host", "domain")
MAX_ROWS = 150_000


def _row(cdx) -> dict[str, str]:
    row = {f: str(cdx.get(_PYWB_NAME.get(f, f), "-") or "-") for f in FIELDS}
    if row["digest"].startswith("sha1:"):
        row["digest"] = row["digest"][5:]  # the Wayback server gives bare base32
    if row["mimetype"] == "warc/revisit":
        row["statuscode"] = "-"  # only replay shows a revisit's real status
    return row


def _parse_filter(spec: str):
    neg = spec.startswith("!")
    field, sep, pattern = spec[neg:].partition(":")
    if not sep or field not in FIELDS:
        raise InputError(f"bad filter {spec!r}: use [!]field:regex with field in {','.join(FIELDS)}")
    try:
        rx = re.compile(pattern)
    except re.error as exc:
        raise InputError(f"bad filter regex {pattern!r}: {exc}") from exc
    return lambda row: bool(rx.fullmatch(row[field])) != neg


def _collapse(rows: Iterable[dict], spec: str):
    field, _, n = spec.partition(":")
    if field not in FIELDS:
        raise InputError(f"bad collapse field {field!r}")
    width = int(n) if n.isdigit() else None
    last = object()
    for row in rows:
        key = row[field][:width] if width else row[field]
        if key != last:
            last = key
            yield row


def query(index_dir: Path, params: Mapping[str, str], filters: list[str] = ()) -> list[dict[str, str]]:
    """Rows for a Wayback-style query (params as given in the URL)."""
    from pywb.warcserver.index.cdxops import process_cdx
    from pywb.warcserver.index.indexsource import FileIndexSource
    from pywb.warcserver.index.query import CDXQuery

    url = (params.get("url") or "").strip()
    if not url:
        raise InputError("url= is required")
    match = params.get("matchType") or ""
    if match and match not in MATCH_TYPES:
        raise InputError(f"matchType must be one of {', '.join(MATCH_TYPES)}")
    try:
        limit = int(params.get("limit") or MAX_ROWS)
    except ValueError as exc:
        raise InputError("limit must be an integer") from exc
    checks = [_parse_filter(f) for f in filters]
    q = {"url": url}
    if match:
        q["matchType"] = match
    for key in ("from", "to"):
        value = params.get(key)
        if value:
            if not value.isdigit() or len(value) > 14:
                raise InputError(f"{key} must be 1 to 14 digits (yyyyMMddhhmmss)")
            q[key] = value
    q["limit"] = str(MAX_ROWS)
    try:
        cdx_q = CDXQuery(q)
    except Exception as exc:
        raise InputError(f"bad url {url!r}") from exc
    parts = sorted(Path(index_dir).glob("*.cdxj"))
    try:
        merged = heapq.merge(*(FileIndexSource(str(p)).load_index(cdx_q.params) for p in parts),
                             key=lambda c: (c["urlkey"], c["timestamp"]))
        rows = (_row(c) for c in process_cdx(merged, cdx_q))
        rows = (r for r in rows if all(c(r) for c in checks))
        if params.get("collapse"):
            rows = _collapse(rows, params["collapse"])
        if limit < 0:
            return list(deque(rows, maxlen=min(-limit, MAX_ROWS)))
        out = []
        for r in rows:
            if len(out) >= min(limit, MAX_ROWS):
                break
            out.append(r)
        return out
    except InputError:
        raise
    except Exception:  # pywb raises NotFound when the index has no entries in range
        return []


def fields_of(params: Mapping[str, str]) -> list[str]:
    fl = [f.strip() for f in (params.get("fl") or "").split(",") if f.strip()]
    bad = [f for f in fl if f not in FIELDS]
    if bad:
        raise InputError(f"unknown field(s) in fl: {', '.join(bad)}")
    return fl or list(FIELDS)


def render(rows: list[dict[str, str]], fields: list[str], output: str | None) -> tuple[str, str]:
    """(body, content type) in the Wayback server's compact JSON or space-separated text."""
    if output == "json":
        if not rows:
            return "[]", "application/json"
        lines = [json.dumps(fields, separators=(",", ":"))]
        lines += [json.dumps([r[f] for f in fields], separators=(",", ":")) for r in rows]
        return "[" + ",\n".join(lines) + "]\n", "application/json"
    return "".join(" ".join(r[f] for f in fields) + "\n" for r in rows), "text/plain; charset=utf-8"
