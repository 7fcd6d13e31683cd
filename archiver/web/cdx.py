"""A CDX API that answers like the Wayback CDX server (``/cdx/search/cdx``) over our CDXJ index.

Lookup (SURT keys, matchType ranges, from/to clamping) is pywb's own index code; this
module speaks the dialects clients use (internetarchive/wayback's wayback-cdx-server
README, pywb's CDX server API):

* IA field names (``urlkey timestamp original mimetype statuscode digest length``), ``fl``,
  ``output=json`` as an array of arrays with a header row, else space-separated lines;
* ``filter`` (also ``filter0``, ``filter1``... as waybackpy sends them), each
  ``[!][=|~]field:value``: with an IA field name and no ``=``/``~``, a regex that must
  match the whole value (the Wayback server's rule); pywb's names (``url``, ``mime``,
  ``status``) or a ``=``/``~`` prefix take pywb's meaning: plain is "contains", ``=``
  exact, ``~`` a regex matched at the start. ``!`` negates. Regexes run on RE2 (linear
  time: no pattern can hang the server) and patterns RE2 refuses are a 400;
* ``collapse=field[:N]`` on adjacent rows; ``closest=<ts>`` with ``sort=closest`` (nearest
  first) and ``sort=reverse`` (newest first); ``offset``, ``limit`` (``-N``: the last N);
* ``showResumeKey=true`` / ``resumeKey`` (the rest after a blank line), and pages:
  ``showNumPages=true`` answers the number of pages, ``page=N`` (from 0) one page of
  ``pageSize`` rows; a page past the last is an empty answer, which is how clients
  (cdx_toolkit, waybackpy) know they are done.

The WARC filename and offset are never exposed: they are ours, not the public's.
"""
from __future__ import annotations

import base64
import heapq
import json
import math
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import re2
from warcio.timeutils import PAD_14_DOWN, pad_timestamp, timestamp_to_sec

from ..errors import InputError

FIELDS = ("urlkey", "timestamp", "original", "mimetype", "statuscode", "digest", "length")
PYWB_NAMES = {"url": "original", "mime": "mimetype", "status": "statuscode"}
_PYWB_NAME = {v: k for k, v in PYWB_NAMES.items()}
MATCH_TYPES = ("exact", "prefix", "host", "domain")
SORTS = ("closest", "reverse")
MAX_ROWS = 150_000  # read from the index for one answer, at most
PAGE_SIZE = 5_000  # rows per page (the Wayback server counts index blocks; a client only sees pages)
MAX_PATTERN = 1_000
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False


def _row(cdx) -> dict[str, str]:
    row = {f: str(cdx.get(_PYWB_NAME.get(f, f), "-") or "-") for f in FIELDS}
    if row["digest"].startswith("sha1:"):
        row["digest"] = row["digest"][5:]  # the Wayback server gives bare base32
    if row["mimetype"] == "warc/revisit":
        row["statuscode"] = "-"  # only replay shows a revisit's real status
    return row


def _regex(pattern: str):
    if len(pattern) > MAX_PATTERN:
        raise InputError(f"filter regex longer than {MAX_PATTERN} characters")
    try:
        return re2.compile(pattern, _RE2_OPTIONS)
    except re2.error as exc:
        raise InputError(f"bad filter regex {pattern!r}: {exc}") from exc


def parse_filter(spec: str):
    """A predicate over a row for one ``filter`` value (module doc)."""
    rest = spec[1:] if spec.startswith("!") else spec
    neg = rest is not spec
    mode = rest[0] if rest[:1] in ("=", "~") else ""
    field, sep, value = rest[len(mode):].partition(":")
    pywb = mode != "" or field in PYWB_NAMES
    name = PYWB_NAMES.get(field, field)
    if not sep or name not in FIELDS:
        raise InputError(f"bad filter {spec!r}: use [!][=|~]field:value with field in "
                         f"{','.join(FIELDS)} (or url, mime, status)")
    if mode == "=":
        test = value.__eq__
    elif mode == "~":
        rx = _regex(value)
        test = lambda v: rx.match(v) is not None  # noqa: E731
    elif pywb:
        test = lambda v: value in v  # noqa: E731
    else:
        rx = _regex(value)
        test = lambda v: rx.fullmatch(v) is not None  # noqa: E731
    return lambda row: test(row[name]) != neg


def _collapse(rows: Iterable[dict], spec: str):
    field, _, n = spec.partition(":")
    field = PYWB_NAMES.get(field, field)
    if field not in FIELDS:
        raise InputError(f"bad collapse field {field!r}")
    width = int(n) if n.isdigit() else None
    last = object()
    for row in rows:
        key = row[field][:width] if width else row[field]
        if key != last:
            last = key
            yield row


def _int(params: Mapping[str, str], key: str, default: int | None, lo: int | None = None) -> int | None:
    value = params.get(key)
    if value in (None, ""):
        return default
    try:
        n = int(value)
    except ValueError as exc:
        raise InputError(f"{key} must be an integer") from exc
    if lo is not None and n < lo:
        raise InputError(f"{key} must be at least {lo}")
    return n


def _ts(params: Mapping[str, str], key: str) -> str | None:
    value = (params.get(key) or "").strip()
    if value and (not value.isdigit() or len(value) > 14):
        raise InputError(f"{key} must be 1 to 14 digits (yyyyMMddhhmmss)")
    return value or None


def _seconds(ts: str) -> int:
    return timestamp_to_sec(pad_timestamp(ts, PAD_14_DOWN))


def _load(index_dir: Path, params: Mapping[str, str]) -> list[dict[str, str]]:
    """Rows of the URL range, in index order (pywb's lookup, from/to clamped), before our filters."""
    from pywb.warcserver.index.cdxops import process_cdx
    from pywb.warcserver.index.indexsource import FileIndexSource
    from pywb.warcserver.index.query import CDXQuery

    url = (params.get("url") or "").strip()
    if not url:
        raise InputError("url= is required")
    match = params.get("matchType") or ""
    if match and match not in MATCH_TYPES:
        raise InputError(f"matchType must be one of {', '.join(MATCH_TYPES)}")
    q = {"url": url, "limit": str(MAX_ROWS)}
    if match:
        q["matchType"] = match
    for key in ("from", "to"):
        if _ts(params, key):
            q[key] = params[key].strip()
    try:
        cdx_q = CDXQuery(q)
    except Exception as exc:
        raise InputError(f"bad url {url!r}") from exc
    parts = sorted(Path(index_dir).glob("*.cdxj"))
    try:
        merged = heapq.merge(*(FileIndexSource(str(p)).load_index(cdx_q.params) for p in parts),
                             key=lambda c: (c["urlkey"], c["timestamp"]))
        return [_row(c) for c in process_cdx(merged, cdx_q)]
    except Exception:  # pywb raises NotFound when the index has no entries in range
        return []


@dataclass
class Answer:
    rows: list[dict[str, str]]
    resume_key: str | None = None
    num_pages: int | None = None  # set for showNumPages
    past_last_page: bool = False


def _resume(key: str | None) -> int:
    if not key:
        return 0
    try:
        return int(base64.urlsafe_b64decode(key.encode() + b"==").decode())
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError("bad resumeKey") from exc


def _resume_key(position: int) -> str:
    return base64.urlsafe_b64encode(str(position).encode()).decode().rstrip("=")


def query(index_dir: Path, params: Mapping[str, str], filters: Sequence[str] = (),
          collapses: Sequence[str] = ()) -> list[dict[str, str]]:
    """Rows for a Wayback-style query (params as given in the URL)."""
    return answer(index_dir, params, filters, collapses).rows


def answer(index_dir: Path, params: Mapping[str, str], filters: Sequence[str] = (),
           collapses: Sequence[str] = ()) -> Answer:
    """The whole answer to a query: rows, or a page of them, or how many pages (module doc)."""
    checks = [parse_filter(f) for f in filters]
    limit = _int(params, "limit", None)
    offset = _int(params, "offset", 0, lo=0)
    page = _int(params, "page", None, lo=0)
    page_size = _int(params, "pageSize", PAGE_SIZE, lo=1)
    sort = params.get("sort") or ""
    closest = _ts(params, "closest")
    if sort and sort not in SORTS:
        raise InputError(f"sort must be one of {', '.join(SORTS)}")
    if sort == "closest" and not closest:
        raise InputError("sort=closest needs closest=<timestamp>")
    if closest and sort != "reverse":
        sort = "closest"  # pywb sorts by closeness whenever closest= is given
    for spec in collapses:
        _collapse([], spec)  # a bad collapse field is a 400 even when nothing matches
    rows: Iterable[dict] = (r for r in _load(index_dir, params) if all(c(r) for c in checks))
    for spec in collapses:
        rows = _collapse(rows, spec)
    rows = list(rows)
    if sort == "closest":
        target = _seconds(closest)
        rows.sort(key=lambda r: (abs(_seconds(r["timestamp"]) - target), r["timestamp"]))
    elif sort == "reverse":
        rows.reverse()
    if params.get("showNumPages", "").lower() == "true":
        return Answer([], num_pages=math.ceil(len(rows) / page_size))
    if page is not None:
        rows = rows[page * page_size:(page + 1) * page_size]
        if not rows:
            return Answer([], past_last_page=True)
    start = offset + _resume(params.get("resumeKey"))
    rows = rows[start:]
    if limit is not None and limit < 0:
        return Answer(list(deque(rows, maxlen=min(-limit, MAX_ROWS))))
    take = min(limit, MAX_ROWS) if limit is not None else MAX_ROWS
    key = None
    if params.get("showResumeKey", "").lower() == "true" and len(rows) > take:
        key = _resume_key(start + take - offset)
    return Answer(rows[:take], resume_key=key)


def fields_of(params: Mapping[str, str]) -> list[str]:
    fl = [PYWB_NAMES.get(f.strip(), f.strip()) for f in (params.get("fl") or "").split(",") if f.strip()]
    bad = [f for f in fl if f not in FIELDS]
    if bad:
        raise InputError(f"unknown field(s) in fl: {', '.join(bad)}")
    return fl or list(FIELDS)


def render(ans: Answer | list[dict[str, str]], fields: list[str], output: str | None) -> tuple[str, str]:
    """(body, content type) in the Wayback server's compact JSON or space-separated text."""
    if not isinstance(ans, Answer):
        ans = Answer(list(ans))
    if ans.num_pages is not None:
        return f"{ans.num_pages}\n", "text/plain; charset=utf-8"
    if output == "json":
        if ans.past_last_page:
            return "", "application/json"
        if not ans.rows:
            return "[]", "application/json"
        lines = [json.dumps(fields, separators=(",", ":"))]
        lines += [json.dumps([r[f] for f in fields], separators=(",", ":")) for r in ans.rows]
        if ans.resume_key:
            lines += ["[]", json.dumps([ans.resume_key])]
        return "[" + ",\n".join(lines) + "]\n", "application/json"
    body = "".join(" ".join(r[f] for f in fields) + "\n" for r in ans.rows)
    if ans.resume_key:
        body += "\n" + ans.resume_key + "\n"
    return body, "text/plain; charset=utf-8"


def params_of(qs: Mapping[str, list[str]]) -> tuple[dict[str, str], list[str], list[str]]:
    """(params, filters, collapses) of a parsed query string; ``filterN``/``collapseN`` count too."""
    params = {k: v[-1] for k, v in qs.items()}
    filters = [f for k, vs in qs.items() if k == "filter" or (k.startswith("filter") and k[6:].isdigit())
               for f in vs if f]
    collapses = [c for k, vs in qs.items() if k == "collapse" or (k.startswith("collapse") and k[8:].isdigit())
                 for c in vs if c]
    return params, filters, collapses
