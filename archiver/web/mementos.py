"""Memento (RFC 7089) headers on the replay origin, where pywb's own are not what clients read.

pywb answers three things in ways Memento clients trip over; ``fix`` rewrites its status
and headers (pure: status, headers and the request in, status and headers out):

* TimeGate (``/web/<url>``, Vary: accept-datetime): pywb's ``Location`` is its frame page
  (HTML, even for a PNG) while its ``Link`` names the ``mp_`` memento. The Location
  becomes the memento the Link names (the ``mp_`` form when no modifier was asked for,
  else the Location's form), so both agree; a 302, as the Wayback Machine answers, and no
  Memento-Datetime (a TimeGate is not a memento: memento_client checks that).
* An inexact memento URL (``/web/<ts><mod>/<url>`` with no capture at ``<ts>``): pywb
  answers a bare 307 to the closest capture. It becomes a 302 with ``Memento-Datetime``
  (the datetime of the memento it leads to) and a ``Link`` naming the original, TimeGate,
  TimeMap and that memento, so that pywb's WBMementoIndexSource takes the redirect as the
  capture it leads to, as it does with the Wayback Machine's redirect mementos.
* A memento (2xx) says where it is with ``Content-Location`` (its own URI-M), which pywb's
  WBMementoIndexSource reads to take it as the capture asked for; its Memento-Datetime is
  the datetime the index keys it at (pywb would give its record's WARC-Date, which for a
  copy recovered from another archive is when we copied it, not the archive's date).
* A memento whose archived headers hold another archive's ``Memento-Datetime`` or Memento
  ``Link`` (a copy recovered before records dropped them): pywb appends its own after the
  archived ones; only pywb's are kept, so there is one Memento-Datetime to parse.
"""
from __future__ import annotations

import re
from warcio.timeutils import PAD_14_DOWN, pad_timestamp, timestamp_to_datetime

from ..capture.fallback import is_memento_header

_URI_M = re.compile(r"^(?P<prefix>.*?/web/)(?P<ts>\d{1,14})(?P<mod>[a-z]{2}_)?/(?P<url>.+)$")
_LINK_ITEM = re.compile(r'<([^>]*)>((?:\s*;\s*[^,<]*)*)')


def _get(headers: list[tuple[str, str]], name: str) -> str | None:
    return next((v for k, v in headers if k.lower() == name), None)


def _http_date(ts: str) -> str:
    return timestamp_to_datetime(pad_timestamp(ts, PAD_14_DOWN)).strftime("%a, %d %b %Y %H:%M:%S GMT")


def _links(original: str, prefix: str, memento: str, ts: str) -> str:
    return ", ".join([f'<{original}>; rel="original"', f'<{prefix}{original}>; rel="timegate"',
                      f'<{prefix}timemap/link/{original}>; rel="timemap"; type="application/link-format"',
                      f'<{memento}>; rel="memento"; datetime="{_http_date(ts)}"'])


def _original(headers) -> str | None:
    for k, v in headers:
        if k.lower() == "link":
            for url, params in _LINK_ITEM.findall(v):
                if re.search(r'rel\s*=\s*"?original"?', params):
                    return url
    return None


def fix(status: str, headers: list[tuple[str, str]], request_path: str) -> tuple[str, list[tuple[str, str]]]:
    """(status, headers) as Memento clients read them (module doc)."""
    code = status.split(" ", 1)[0]
    vary = (_get(headers, "vary") or "").lower()
    location = _get(headers, "location")
    if code in ("302", "307") and "accept-datetime" in vary and location:
        return _timegate(headers, location)
    if code == "307" and location and _URI_M.match(location) and _URI_M.match(request_path or ""):
        return _inexact(headers, location)
    headers = _one_memento_datetime(headers)
    asked = _URI_M.match(request_path or "")
    if code.startswith("2") and _get(headers, "memento-datetime") and asked:
        if not _get(headers, "content-location"):
            headers = headers + [("Content-Location", request_path)]  # the memento names itself (RFC 7231 §3.1.4.2)
        if len(asked["ts"]) == 14 and asked["mod"]:
            headers = _indexed_datetime(headers, _http_date(asked["ts"]))
    return status, headers


def _timegate(headers, location):
    m = _URI_M.match(location)
    if m is None:
        return "302 Found", headers
    if not m["mod"]:
        location = f"{m['prefix']}{m['ts']}mp_/{m['url']}"  # the memento itself, not pywb's frame around it
    original = _original(headers) or m["url"]
    out = [(k, v) for k, v in headers if k.lower() not in ("location", "link", "memento-datetime")]
    return "302 Found", out + [("Location", location), ("Link", _links(original, m["prefix"], location, m["ts"]))]


def _inexact(headers, location):
    m = _URI_M.match(location)
    original = _original(headers) or m["url"]
    out = [(k, v) for k, v in headers if k.lower() not in ("link", "memento-datetime")]
    return "302 Found", out + [("Memento-Datetime", _http_date(m["ts"])),
                               ("Link", _links(original, m["prefix"], location, m["ts"]))]


def _indexed_datetime(headers, when: str):
    """pywb dates a memento by its record's WARC-Date; the index may key it elsewhere (a copy recovered from
    another archive is keyed at that archive's memento datetime, web/replay.py). A URI-M with a full timestamp
    and a modifier is answered only by the capture indexed at that timestamp (pywb redirects otherwise), so
    that timestamp is its Memento-Datetime."""
    old = _get(headers, "memento-datetime")
    if old == when:
        return headers
    out = []
    for k, v in headers:
        if k.lower() == "memento-datetime":
            v = when
        elif k.lower() == "link":
            v = v.replace(f'datetime="{old}"', f'datetime="{when}"')
        out.append((k, v))
    return out


def _one_memento_datetime(headers):
    """pywb appends its Memento headers after the archived ones: keep its (the last) alone."""
    dts = [i for i, (k, _) in enumerate(headers) if k.lower() == "memento-datetime"]
    links = [i for i, (k, v) in enumerate(headers) if k.lower() == "link" and is_memento_header(k, v)]
    drop = set(dts[:-1]) | set(links[:-1])
    return [h for i, h in enumerate(headers) if i not in drop] if drop else headers
