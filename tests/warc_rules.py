"""A strict reading of the WARC 1.1 field rules, for tests (as strict as jwarc, which we cannot run here).

WARC 1.1 (ISO 28500:2017) §5 says, field by field, which record types may, must or shall not carry it;
§6 adds what each record type needs. ``check_files`` applies all of it to every record of some WARC files
and returns one line per breach (empty: conformant). Recommendations the spec makes ("should") that a
careful writer always meets are held as rules too, and say so. Digests are not this module's business:
FastWARC, warcat and warcio check them (tests/test_warc_standards.py).
"""
from __future__ import annotations

import ipaddress
import re
from collections import defaultdict
from datetime import datetime
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

TYPES = ("warcinfo", "response", "resource", "request", "metadata", "revisit", "conversion", "continuation")
PROFILES_1_1 = ("http://netpreserve.org/warc/1.1/revisit/identical-payload-digest",
                "http://netpreserve.org/warc/1.1/revisit/server-not-modified")
TRUNCATED = ("length", "time", "disconnect", "unspecified")
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$")  # W3C-ISO8601, fractions since 1.1
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:\S+$")  # RFC 3986: a scheme, and no whitespace
_DIGEST = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[A-Za-z0-9+/=_\-]+$")  # labelled-digest
_MEDIA = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+/[!#$%&'*+\-.^_`|~0-9A-Za-z]+(\s*;.*)?$")

# §5: where each field may appear (None: any type). Fields not named here are extensions, which readers ignore.
ALLOWED = {
    "WARC-Record-ID": None, "Content-Length": None, "WARC-Date": None, "WARC-Type": None, "Content-Type": None,
    "WARC-Block-Digest": None, "WARC-Truncated": None,
    "WARC-Concurrent-To": {"request", "response", "resource", "metadata", "revisit"},  # §5.7
    # §5.9: only on records with a well-defined payload: an application/http block's entity-body, a resource's
    # block, a revisit's (left-off) payload; not warcinfo or metadata
    "WARC-Payload-Digest": {"response", "resource", "request", "revisit", "conversion", "continuation"},
    "WARC-IP-Address": {"response", "resource", "request", "metadata", "revisit"},  # §5.10
    "WARC-Refers-To": {"metadata", "revisit", "conversion"},  # §5.11
    "WARC-Refers-To-Target-URI": {"revisit"}, "WARC-Refers-To-Date": {"revisit"},  # §5.12, §5.13
    "WARC-Target-URI": set(TYPES) - {"warcinfo"},  # §5.14
    "WARC-Warcinfo-ID": set(TYPES) - {"warcinfo"},  # §5.16
    "WARC-Filename": {"warcinfo"},  # §5.17
    "WARC-Profile": {"revisit"},  # §5.18
    "WARC-Identified-Payload-Type": {"response", "resource", "request", "revisit", "conversion", "continuation"},
    "WARC-Segment-Number": set(TYPES), "WARC-Segment-Origin-ID": {"continuation"},  # §5.20, §5.21
    "WARC-Segment-Total-Length": {"continuation"},
}
MANDATORY = ("WARC-Record-ID", "Content-Length", "WARC-Date", "WARC-Type")  # §4: every record
TARGET_REQUIRED = {"response", "resource", "request", "revisit", "conversion", "continuation"}  # §5.14
BRACKETED = ("WARC-Record-ID", "WARC-Concurrent-To", "WARC-Refers-To", "WARC-Warcinfo-ID", "WARC-Segment-Origin-ID")
UNBRACKETED = ("WARC-Target-URI", "WARC-Refers-To-Target-URI", "WARC-Profile", "WARC-Source-URI")


def _is_http(uri: str | None) -> bool:
    return bool(uri) and uri.lower().startswith(("http:", "https:"))


def _date_ok(value: str) -> bool:
    if not _DATE.match(value):
        return False
    try:
        datetime.strptime(value[:19], "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return False
    return True


def check_record(version: str, fields: list[tuple[str, str]], has_http: bool) -> list[str]:
    """Breaches of one record's header (fields in order, as written)."""
    out: list[str] = []
    by_name: dict[str, list[str]] = defaultdict(list)
    canon = {k.lower(): k for k in ALLOWED} | {k.lower(): k for k in UNBRACKETED}
    for name, value in fields:
        if not _TOKEN.match(name):
            out.append(f"field name {name!r} is not a token")
        by_name[canon.get(name.lower(), name)].append(value.strip())
    if version != "WARC/1.1":
        out.append(f"version line is {version!r}, not WARC/1.1")
    for name in MANDATORY:
        if len(by_name.get(name, [])) != 1:
            out.append(f"{name} is mandatory, once")
    rtype = (by_name.get("WARC-Type") or [""])[0]
    if rtype not in TYPES:
        return out + [f"unknown WARC-Type {rtype!r}"]
    for name, values in by_name.items():
        if len(values) > 1 and name != "WARC-Concurrent-To":  # §5.7: the one field that may repeat
            out.append(f"{name} repeated")
        allowed = ALLOWED.get(name, "extension")
        if allowed not in ("extension", None) and rtype not in allowed:
            out.append(f"{name} is not allowed on a {rtype} record")
        for v in values:
            if name in BRACKETED and not (v.startswith("<") and v.endswith(">") and _URI.match(v[1:-1])):
                out.append(f"{name} {v!r} is not <uri>")
            if name in UNBRACKETED and not _URI.match(v):
                out.append(f"{name} {v!r} is not a URI (unbracketed, no whitespace)")
            if name in ("WARC-Date", "WARC-Refers-To-Date") and not _date_ok(v):
                out.append(f"{name} {v!r} is not YYYY-MM-DDThh:mm:ss[.f]Z")
            if name in ("WARC-Block-Digest", "WARC-Payload-Digest") and not _DIGEST.match(v):
                out.append(f"{name} {v!r} is not algorithm:value")
            if name == "WARC-Truncated" and v not in TRUNCATED:
                out.append(f"WARC-Truncated {v!r} is not one of {', '.join(TRUNCATED)}")
            if name == "WARC-IP-Address":
                try:
                    ipaddress.ip_address(v)
                except ValueError:
                    out.append(f"WARC-IP-Address {v!r} is not an address")
            if name == "Content-Length" and not v.isdigit():
                out.append(f"Content-Length {v!r} is not digits")
            if name in ("Content-Type", "WARC-Identified-Payload-Type") and not _MEDIA.match(v):
                out.append(f"{name} {v!r} is not a media type")
    length = (by_name.get("Content-Length") or ["0"])[0]
    ctype = (by_name.get("Content-Type") or [None])[0]
    target = (by_name.get("WARC-Target-URI") or [None])[0]
    if length.isdigit() and int(length) > 0 and rtype != "continuation" and not ctype:
        out.append("a non-empty block should have a Content-Type (§5.6; held as a rule)")
    if rtype in TARGET_REQUIRED and not target:
        out.append(f"a {rtype} record must have a WARC-Target-URI")
    norm = (ctype or "").replace(" ", "").lower()
    if rtype == "warcinfo" and norm != "application/warc-fields":
        out.append("a warcinfo block should be application/warc-fields (§6.2; held as a rule)")
    if rtype in ("request", "response") and _is_http(target) and norm != f"application/http;msgtype={rtype}":
        out.append(f"an HTTP {rtype} must be 'application/http; msgtype={rtype}', not {ctype!r}")
    if rtype == "revisit":
        profile = (by_name.get("WARC-Profile") or [None])[0]
        if profile is None:
            out.append("a revisit must have a WARC-Profile (§5.18)")
        elif version == "WARC/1.1" and profile not in PROFILES_1_1:
            out.append(f"WARC-Profile {profile!r} is not a WARC 1.1 revisit profile")
        if has_http and norm != "application/http;msgtype=response":
            out.append(f"a revisit holding HTTP headers must be 'application/http; msgtype=response', not {ctype!r}")
        if profile == PROFILES_1_1[0]:
            if not by_name.get("WARC-Payload-Digest"):
                out.append("an identical-payload-digest revisit must have WARC-Payload-Digest (§6.7.2)")
            if by_name.get("WARC-Truncated") != ["length"]:
                out.append("an identical-payload-digest revisit leaves the payload out: WARC-Truncated: length "
                           "(§6.7.2)")
            for name in ("WARC-Refers-To", "WARC-Refers-To-Target-URI", "WARC-Refers-To-Date"):
                if not by_name.get(name):
                    out.append(f"an identical-payload-digest revisit should have {name} (§6.7.2; held as a rule)")
    return out


def check_files(paths: list[Path]) -> list[str]:
    """Every breach in these files, as 'file@offset type: what' lines; record ids and links checked across them."""
    problems: list[str] = []
    ids: dict[str, str] = {}
    concurrent: list[tuple[str, str, str, str]] = []  # (where, id, date, other id)
    refers: list[tuple[str, str]] = []
    dates: dict[str, str] = {}
    for path in paths:
        with open(path, "rb") as fh:
            it = ArchiveIterator(fh)
            for n, rec in enumerate(it):
                h = rec.rec_headers
                where = f"{path.name}@{it.get_record_offset()} {rec.rec_type}"
                if n == 0 and rec.rec_type != "warcinfo":
                    problems.append(f"{where}: a WARC file should start with a warcinfo record (§6.2)")
                problems += [f"{where}: {p}" for p in check_record(h.protocol, list(h.headers),
                                                                    rec.http_headers is not None)]
                rid, date = h.get_header("WARC-Record-ID"), h.get_header("WARC-Date")
                if rid in ids:
                    problems.append(f"{where}: WARC-Record-ID {rid} also in {ids[rid]}")
                ids[rid], dates[rid] = where, date
                for k, v in h.headers:
                    if k.lower() == "warc-concurrent-to":
                        concurrent.append((where, rid, date, v))
                if h.get_header("WARC-Refers-To"):
                    refers.append((where, h.get_header("WARC-Refers-To")))
    for where, rid, date, other in concurrent:
        if other not in ids:
            problems.append(f"{where}: WARC-Concurrent-To {other} names no record in the store")
        elif dates[other] != date:  # §5.4: one capture event, one WARC-Date
            problems.append(f"{where}: WARC-Date {date} differs from its concurrent record's {dates[other]}")
    for where, other in refers:
        if other not in ids:
            problems.append(f"{where}: WARC-Refers-To {other} names no record in the store")
    return problems
