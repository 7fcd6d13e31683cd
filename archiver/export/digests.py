"""WARC digest strings ("algo:value") against digests we compute ourselves.

WARC writers encode the value as base32 (warcio, Heritrix), hex or base64; we accept
all three so that records written by other tools verify too.
"""
from __future__ import annotations

import base64
import binascii
import hashlib

_ALGOS = {"sha1": "sha1", "sha-1": "sha1", "sha256": "sha256", "sha-256": "sha256", "md5": "md5",
          "sha512": "sha512", "sha-512": "sha512"}


def parse(value: str | None) -> tuple[str, bytes] | None:
    """``"sha1:BASE32"`` -> ("sha1", raw digest bytes); None when absent or not understood."""
    if not value or ":" not in value:
        return None
    algo, _, enc = value.strip().partition(":")
    name = _ALGOS.get(algo.lower())
    if name is None:
        return None
    size = hashlib.new(name).digest_size
    for decode in (_b32, _hex, _b64):
        raw = decode(enc)
        if raw is not None and len(raw) == size:
            return name, raw
    return None


def _b32(s: str) -> bytes | None:
    try:
        return base64.b32decode(s.upper() + "=" * (-len(s) % 8))
    except (binascii.Error, ValueError):
        return None


def _hex(s: str) -> bytes | None:
    try:
        return bytes.fromhex(s)
    except ValueError:
        return None


def _b64(s: str) -> bytes | None:
    try:
        return base64.b64decode(s + "=" * (-len(s) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


def same(a: str | None, b: str | None) -> bool:
    """Do two digest strings name the same digest (whatever their encodings)?"""
    pa, pb = parse(a), parse(b)
    if pa is None or pb is None:
        return (a or "").strip() == (b or "").strip()
    return pa == pb


def algo_of(value: str | None) -> str | None:
    parsed = parse(value)
    return parsed[0] if parsed else None


def matches(value: str | None, computed: dict[str, bytes]) -> bool | None:
    """Does the digest string match what we computed? None when we cannot tell (unknown algo)."""
    parsed = parse(value)
    if parsed is None or parsed[0] not in computed:
        return None
    return computed[parsed[0]] == parsed[1]
