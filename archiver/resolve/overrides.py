"""Manual overrides: targets a person researched, from a CSV (``resolver.overrides``).

Columns (header row required): ``short_url,target,note,who`` and an optional
``force``.  ``note`` and ``who`` may be empty but the columns must be there, so a
reviewer is always asked.  An override with ``force`` true wins over every other
source and is checked *before* live resolution (:func:`forced_override`); the
others are the last fallback after archives and dumps (:func:`override_for`).

A bad file is a configuration error: one line naming the file and the line.
"""
from __future__ import annotations

import csv
import os
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ..errors import ConfigError
from ..model import HopRecord, Outcome, Resolution
from .dumps import short_key

REQUIRED = ("short_url", "target", "note", "who")
OPTIONAL = ("force",)
_TRUE = {"true", "yes", "1", "y", "x"}
_FALSE = {"false", "no", "0", "n", ""}


@dataclass(frozen=True)
class Override:
    short_url: str
    target: str
    note: str
    who: str
    force: bool
    line: int


def load_overrides(path: str | os.PathLike) -> dict[str, Override]:
    """Parse the CSV into {short key: Override}. Raises ConfigError naming file and line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"overrides: file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"overrides: cannot read {path}: {exc}") from exc
    reader = csv.reader(text.splitlines())
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise ConfigError(f"overrides: {path}:1: empty file, expected the header {','.join(REQUIRED)}[,force]") \
            from None
    missing = [c for c in REQUIRED if c not in header]
    unknown = [c for c in header if c not in REQUIRED + OPTIONAL]
    if missing or unknown:
        what = f"missing column(s) {', '.join(missing)}" if missing else f"unknown column(s) {', '.join(unknown)}"
        raise ConfigError(f"overrides: {path}:1: {what} (header must be {','.join(REQUIRED)}[,force])")
    out: dict[str, Override] = {}
    for lineno, row in enumerate(reader, start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(header):
            raise ConfigError(f"overrides: {path}:{lineno}: expected {len(header)} fields, got {len(row)}")
        rec = {k: v.strip() for k, v in zip(header, row)}
        key = short_key(rec["short_url"]) if rec["short_url"] else None
        if not key:
            raise ConfigError(f"overrides: {path}:{lineno}: short_url is empty or not a URL")
        if not rec["target"].lower().startswith(("http://", "https://")):
            raise ConfigError(f"overrides: {path}:{lineno}: target must be an http(s) URL, got {rec['target']!r}")
        force = rec.get("force", "").lower()
        if force not in _TRUE | _FALSE:
            raise ConfigError(f"overrides: {path}:{lineno}: force must be true or false, got {rec['force']!r}")
        if key in out:
            raise ConfigError(f"overrides: {path}:{lineno}: {rec['short_url']} already overridden on line "
                              f"{out[key].line}")
        out[key] = Override(rec["short_url"], rec["target"], rec["note"], rec["who"], force in _TRUE, lineno)
    return out


_CACHE: dict[str, tuple[int, int, dict[str, Override]]] = {}
_LOCK = threading.Lock()


def _overrides(settings) -> dict[str, Override]:
    path = settings.resolver.overrides
    if path is None:
        return {}
    p = Path(path)
    try:
        st = p.stat()
    except OSError:
        raise ConfigError(f"overrides: file not found: {p}") from None
    with _LOCK:
        hit = _CACHE.get(str(p))
        if hit and hit[0] == st.st_size and hit[1] == st.st_mtime_ns:
            return hit[2]
        data = load_overrides(p)
        _CACHE[str(p)] = (st.st_size, st.st_mtime_ns, data)
        return data


def as_resolution(o: Override, source: str) -> Resolution:
    note = "; ".join(x for x in (o.note, f"by {o.who}" if o.who else "", "forced" if o.force else "") if x)
    hop = HopRecord(seq=1, url=o.short_url, status_code=None, location=o.target, kind="manual",
                    fetched_at=datetime.now(timezone.utc), note=note or None)
    return Resolution(outcome=Outcome.RESOLVED, final_url=o.target, hops=(hop,), method="manual",
                      source=source, reason=f"manual override ({source} line {o.line})"
                      + (f": {o.note}" if o.note else ""))


def override_for(url: str, settings, *, forced_only: bool = False) -> Resolution | None:
    """The override for ``url`` as a Resolution (only ``force`` ones with forced_only)."""
    key = short_key(url)
    o = _overrides(settings).get(key) if key else None
    if o is None or (forced_only and not o.force):
        return None
    return as_resolution(o, Path(settings.resolver.overrides).name)


def forced_override(url: str, settings) -> Resolution | None:
    """A ``force`` override for ``url``: the pipeline checks this before live resolution."""
    return override_for(url, settings, forced_only=True)
