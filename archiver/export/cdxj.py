"""CDXJ index lines, as pywb / cdxj-indexer write them (pure functions).

    <SURT urlkey> <14-digit timestamp> {"url", "mime", "status", "digest", "length", "offset", "filename"}

Values are strings, as cdxj-indexer writes them; ``mime`` is ``warc/revisit`` for revisit
records; a field with no value is left out. Lines sort as plain strings.
"""
from __future__ import annotations

import json
import re

import surt
from warcio.timeutils import iso_date_to_timestamp

from .records import RecordFacts

_SPLIT = re.compile(r"[;\s]")


def urlkey(url: str) -> str:
    try:
        return surt.surt(url)
    except Exception:  # surt refuses some malformed URLs; cdxj-indexer keeps them as they are
        return url


def timestamp14(warc_date: str) -> str:
    return iso_date_to_timestamp(warc_date)[:14]


def line(facts: RecordFacts, offset: int, length: int, filename: str, post: dict[str, str] | None = None) -> str:
    """``post`` (export/postkey.py): a POST's answer, keyed with its method and body as cdxj-indexer's
    ``post_append`` keys it."""
    mime = "warc/revisit" if facts.rec_type == "revisit" else (
        _SPLIT.split(facts.mime, 1)[0].strip() if facts.mime else None)
    fields = {"url": facts.target_uri, "mime": mime,
              "status": None if facts.http_status is None else str(facts.http_status),
              "digest": facts.payload_digest, "length": str(length), "offset": str(offset), "filename": filename}
    body = {k: v for k, v in fields.items() if v}
    key_url = facts.target_uri or ""
    if post:
        key_url = post["urlkey_url"]
        body.update({"requestBody": post["requestBody"], "method": post["method"]})
    return f"{urlkey(key_url)} {timestamp14(facts.date or '')} {json.dumps(body)}"


def parse(text_line: str) -> tuple[str, str, dict]:
    """(urlkey, timestamp, fields) of one line; ValueError when it is not CDXJ."""
    key, ts, rest = text_line.rstrip("\n").split(" ", 2)
    fields = json.loads(rest)
    if not isinstance(fields, dict) or not ts.isdigit():
        raise ValueError("not a CDXJ line")
    return key, ts, fields
