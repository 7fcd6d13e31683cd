"""A small evidence fixture for the web tests: one WARC written with warcio and the rows that point into it.

report "Budget transparency report" ── activity 1: goo.gl/abc ─301→ site.test/page.html (HTML + logo.png + style.css,
                                                      and a revisit a year later)
                                    ├─ activity 2: site.test/report.pdf (PDF)
                                    └─ activity 3: dead.test/gone (dead: at risk)
plus, when ``ui_origin`` is given, evil.test/ whose script tries to reach the interface.
"""
from __future__ import annotations

import hashlib
import io
import struct
import zlib
from datetime import datetime, timezone
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archiver.db import tables as t

T1 = datetime(2017, 5, 12, 10, 0, 0, tzinfo=timezone.utc)
T2 = datetime(2018, 1, 1, 8, 30, 0, tzinfo=timezone.utc)
PAGE = "http://site.test/page.html"
PAGE_TEXT = "The ministry published the budget on 12 May 2017"


def png(width: int = 24, height: int = 12) -> bytes:
    raw = b"".join(b"\x00" + b"\xcc\x22\x22" * width for _ in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj "
       b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")

HTML = (f"<!doctype html><html><head><title>Open budget portal</title>"
        f"<link rel=stylesheet href=\"/style.css\"></head><body><h1>Open budget portal</h1>"
        f"<p id=\"claim\">{PAGE_TEXT}.</p><img id=\"logo\" src=\"/logo.png\" alt=\"logo\"></body></html>").encode()
CSS = b"body { background: #fdf6e3; } h1 { color: #b58900; }"


def evil_html(ui_origin: str) -> bytes:
    """An archived page whose script tries to read the interface; it writes what happened into its own DOM."""
    return f"""<!doctype html><html><body><h1>Evil archived page</h1><pre id="result">pending</pre><script>
var out = [];
try {{ out.push('parent:' + parent.document.title); }} catch (e) {{ out.push('parent-blocked'); }}
try {{ out.push('cookie:' + document.cookie); }} catch (e) {{ out.push('cookie-blocked'); }}
fetch('{ui_origin}/api/reports', {{credentials: 'include'}})
  .then(function (r) {{ return r.text(); }})
  .then(function (t) {{ out.push('fetch:' + t.slice(0, 80)); }}, function () {{ out.push('fetch-blocked'); }})
  .then(function () {{ document.getElementById('result').textContent = out.join(' '); }});
</script></body></html>""".encode()


def _response(writer, url, when, status, ctype, body, extra=()):
    headers = [("Content-Type", ctype), ("Content-Length", str(len(body)))] + list(extra)
    http = StatusAndHeaders(f"{status} {'OK' if status == 200 else 'Moved'}", headers, protocol="HTTP/1.1")
    rec = writer.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http,
                                    warc_headers_dict={"WARC-Date": when.strftime("%Y-%m-%dT%H:%M:%SZ")})
    writer.write_record(rec)
    return rec


def write_warc(path: Path, ui_origin: str | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        w = WARCWriter(fh, gzip=True, warc_version="1.1")
        page = _response(w, PAGE, T1, 200, "text/html; charset=utf-8", HTML)
        _response(w, "http://site.test/logo.png", T1, 200, "image/png", png())
        _response(w, "http://site.test/style.css", T1, 200, "text/css", CSS)
        _response(w, "http://site.test/report.pdf", T1, 200, "application/pdf", PDF)
        _response(w, "http://goo.gl/abc", T1, 301, "text/html", b"", [("Location", PAGE)])
        digest = page.rec_headers.get_header("WARC-Payload-Digest")
        http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
        rev = w.create_revisit_record(PAGE, digest, PAGE, T1.strftime("%Y-%m-%dT%H:%M:%SZ"), http_headers=http)
        rev.rec_headers.replace_header("WARC-Date", T2.strftime("%Y-%m-%dT%H:%M:%SZ"))
        w.write_record(rev)
        if ui_origin:
            _response(w, "http://evil.test/", T1, 200, "text/html", evil_html(ui_origin))


def _records(path: Path) -> dict[tuple[str, str], dict]:
    out = {}
    with open(path, "rb") as fh:
        it = ArchiveIterator(fh)
        for rec in it:
            h = rec.rec_headers
            payload = rec.content_stream().read()
            out[(h.get_header("WARC-Target-URI"), h.get_header("WARC-Type"))] = {
                "record_id": h.get_header("WARC-Record-ID"), "date": h.get_header("WARC-Date"),
                "payload_digest": h.get_header("WARC-Payload-Digest"), "sha256": hashlib.sha256(payload).hexdigest(),
                "payload_length": len(payload), "offset": it.get_record_offset(), "length": it.get_record_length(),
                "status": int(rec.http_headers.get_statuscode()) if rec.http_headers else None,
                "ctype": rec.http_headers.get_header("Content-Type") if rec.http_headers else None}
    return out


def build(session_factory, storage_root: Path, ui_origin: str | None = None) -> dict:
    """Write the WARC under storage_root/warcs and the rows; return the ids the tests need."""
    rel = "warcs/fixture-00001.warc.gz"
    write_warc(Path(storage_root) / rel, ui_origin)
    recs = _records(Path(storage_root) / rel)

    def capture(url, when, role="target", kind="response", **kw):
        r = recs[(url, kind)]
        return t.Capture(role=role, url=url, url_hash=hashlib.sha256(url.encode()).hexdigest(), captured_at=when,
                         http_status=r["status"], content_type=r["ctype"], sha256=r["sha256"],
                         payload_digest=r["payload_digest"], payload_length=r["payload_length"],
                         record_id=r["record_id"], warc_file=rel, offset=r["offset"], length=r["length"],
                         is_revisit=kind == "revisit", **kw)

    def target(url, status, **kw):
        return t.Target(url=url, url_hash=hashlib.sha256(url.encode()).hexdigest(), status=status, stage="done", **kw)

    with session_factory() as s:
        rep = t.Report(source="/tmp/report.txt", source_kind="file", sha256="a" * 64, format="txt",
                       title="Budget transparency report", meta={}, size_bytes=1234)
        s.add(rep)
        short = target("http://goo.gl/abc", t.CAPTURED, is_short=True, final_url=PAGE, resolution_method="live")
        pdf = target("http://site.test/report.pdf", t.CAPTURED, final_url="http://site.test/report.pdf")
        dead = target("http://dead.test/gone", t.DEAD, status_reason="404 Not Found for good")
        s.add_all([short, pdf, dead])
        s.flush()
        a1 = t.Activity(report=rep, ordinal=1, text="Publish the budget online (see goo.gl/abc).",
                        date_start=datetime(2017, 5, 1).date(), date_text="May 2017", date_precision="month")
        a2 = t.Activity(report=rep, ordinal=2, text="Publish the audit report.", date_text="2017",
                        date_start=datetime(2017, 1, 1).date(), date_precision="year")
        a3 = t.Activity(report=rep, ordinal=3, text="Open a feedback portal.", date_text=None)
        s.add_all([a1, a2, a3])
        s.flush()
        s.add_all([t.Link(activity_id=a1.id, position=0, url_raw="goo.gl/abc", text_raw="(see goo.gl/abc).",
                          url_normalized="http://goo.gl/abc", target_id=short.id),
                   t.Link(activity_id=a2.id, position=0, url_raw="http://site.test/report.pdf",
                          url_normalized="http://site.test/report.pdf", target_id=pdf.id),
                   t.Link(activity_id=a3.id, position=0, url_raw="http://dead.test/gone",
                          url_normalized="http://dead.test/gone", target_id=dead.id)])
        hop_cap = capture("http://goo.gl/abc", T1, role="hop", target_id=short.id)
        page = capture(PAGE, T1, target_id=short.id)
        rev = capture(PAGE, T2, kind="revisit", target_id=short.id)
        logo = capture("http://site.test/logo.png", T1, role="requisite", target_id=short.id)
        pdfc = capture("http://site.test/report.pdf", T1, target_id=pdf.id)
        s.add_all([hop_cap, page, rev, logo, pdfc])
        s.flush()
        logo.parent_id = page.id
        rev.revisit_of_id = page.id
        s.add_all([t.Hop(target_id=short.id, seq=1, url="http://goo.gl/abc", status_code=301, location=PAGE,
                         kind="redirect", fetched_at=T1, capture_id=hop_cap.id),
                   t.Hop(target_id=short.id, seq=2, url=PAGE, status_code=200, kind="final", fetched_at=T1,
                         capture_id=page.id),
                   t.Extraction(capture_id=page.id, title="Open budget portal", method="trafilatura",
                                text=PAGE_TEXT + ". <script>alert(1)</script> budget figures."),
                   t.Extraction(capture_id=pdfc.id, title=None, method="pypdf", text="Audit report 2017 findings.")])
        evil_id = None
        if ui_origin:
            evil_t = target("http://evil.test/", t.CAPTURED)
            s.add(evil_t)
            s.flush()
            ev = capture("http://evil.test/", T1, target_id=evil_t.id)
            s.add(ev)
            a4 = t.Activity(report=rep, ordinal=4, text="Evil activity.")
            s.add(a4)
            s.flush()
            s.add(t.Link(activity_id=a4.id, position=0, url_raw="http://evil.test/",
                         url_normalized="http://evil.test/", target_id=evil_t.id))
            s.flush()
            evil_id = a4.id
        s.commit()
        return {"report": rep.id, "a1": a1.id, "a2": a2.id, "a3": a3.id, "a_evil": evil_id, "page": page.id,
                "revisit": rev.id, "pdf": pdfc.id, "hop": hop_cap.id, "short_target": short.id}
