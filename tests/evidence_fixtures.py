"""Build a small, real evidence set: WARC files written with warcio and the database rows
that point into them, as the pipeline would leave them.

    report ─ activity 1 ─ link "https://goo.gl/abc" ─ target (short) ─ hop 1: 302 record ─> hop 2: final
           │                                                    └─ page capture (HTML) ─ image (requisite)
           │                                                    └─ revisit of the page (second WARC file)
           └ activity 2 ─ link "http://example.org/report.pdf" ─ target ─ PDF capture

Both WARC files are finished and in the manifest. Reuse: ``build_evidence(Session, root)``.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from io import BytesIO
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archiver.db.tables import (Activity, Capture, Extraction, Hop, Link, Report, Target, WarcFile,
                                CAPTURED)
from archiver.export.manifest import append_entry

SHORT = "https://goo.gl/abc"
PAGE = "http://example.org/page"
IMAGE = "http://example.org/img.png"
PDF = "http://example.org/report.pdf"
PAGE_HTML = (b"<!doctype html><html><head><title>Example <page> & co</title></head><body>"
             b"<p>Evidence text.</p><img src=\"/img.png\"></body></html>")
IMAGE_BYTES = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
PDF_BYTES = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n" + b"x" * 3000
WARC1 = "warcs/archiver-20260101100000-00001-test.warc.gz"
WARC2 = "warcs/archiver-20260102100000-00002-test.warc.gz"


@dataclass
class Evidence:
    report_id: int
    activity_ids: list[int]
    captures: dict[str, int]  # hop, page, image, pdf, revisit -> Capture.id
    warcs: list[str]  # relative to the storage root
    root: Path
    records: dict[str, dict] = field(default_factory=dict)  # name -> offset, length, digests...


def _ts(day: int, minute: int) -> datetime:
    return datetime(2026, 1, day, 10, minute, 0, tzinfo=timezone.utc)


def write_warc(path: Path, specs: list[dict]) -> dict[str, dict]:
    """Write records (name, url, status, headers, body, date, revisit_of) and say where each landed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    out: dict[str, dict] = {}
    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=True, warc_version="1.1")
        for s in specs:
            http = StatusAndHeaders(s["status"], s.get("headers", []), protocol="HTTP/1.1")
            warc_date = s["date"].strftime("%Y-%m-%dT%H:%M:%SZ")
            if s.get("revisit_of"):
                orig = s["revisit_of"]
                rec = writer.create_revisit_record(s["url"], orig["payload_digest"], orig["url"], orig["date"],
                                                   http_headers=http)
                rec.rec_headers.replace_header("WARC-Date", warc_date)
                rec.rec_headers.add_header("WARC-Refers-To", orig["record_id"])
            else:
                rec = writer.create_warc_record(s["url"], "response", payload=BytesIO(s.get("body", b"")),
                                                http_headers=http, warc_headers_dict={"WARC-Date": warc_date})
            offset = fh.tell()
            writer.write_record(rec)
            h = rec.rec_headers
            out[s["name"]] = {
                "offset": offset, "length": fh.tell() - offset, "url": s["url"], "date": warc_date,
                "record_id": h.get_header("WARC-Record-ID"), "payload_digest": h.get_header("WARC-Payload-Digest"),
                "block_digest": h.get_header("WARC-Block-Digest"),
                "sha256": s.get("sha256") or hashlib.sha256(s.get("body", b"")).hexdigest(),
                "payload_length": len(s.get("body", b"")),
            }
    return out


def build_evidence(Session, root: Path) -> Evidence:
    root = Path(root)
    recs = write_warc(root / WARC1, [
        {"name": "hop", "url": SHORT, "status": "302 Found", "date": _ts(1, 0),
         "headers": [("Location", PAGE), ("Content-Length", "0")]},
        {"name": "page", "url": PAGE, "status": "200 OK", "date": _ts(1, 1), "body": PAGE_HTML,
         "headers": [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(PAGE_HTML)))]},
        {"name": "image", "url": IMAGE, "status": "200 OK", "date": _ts(1, 2), "body": IMAGE_BYTES,
         "headers": [("Content-Type", "image/png")]},
        {"name": "pdf", "url": PDF, "status": "200 OK", "date": _ts(1, 3), "body": PDF_BYTES,
         "headers": [("Content-Type", "application/pdf")]},
    ])
    recs.update(write_warc(root / WARC2, [
        {"name": "revisit", "url": PAGE, "status": "200 OK", "date": _ts(2, 0), "revisit_of": recs["page"],
         "sha256": recs["page"]["sha256"], "headers": [("Content-Type", "text/html; charset=utf-8")]},
    ]))
    with Session() as s:
        report = Report(source="/reports/sample.txt", source_kind="file", sha256="ab" * 32, format="txt",
                        title="Sample <report> 2026", size_bytes=1234)
        a1 = Activity(ordinal=1, text="Activity one: published the <data> & methods.", date_start=date(2025, 3, 1),
                      date_end=date(2025, 3, 31), date_text="March 2025", date_precision="month")
        a2 = Activity(ordinal=2, text="Activity two: the final report.", date_start=date(2025, 6, 10),
                      date_text="10 June 2025", date_precision="day")
        report.activities = [a1, a2]
        t1 = Target(url=SHORT, url_hash=hashlib.sha256(SHORT.encode()).hexdigest(), is_short=True, status=CAPTURED,
                    stage="done", resolution_method="live", final_url=PAGE)
        t2 = Target(url=PDF, url_hash=hashlib.sha256(PDF.encode()).hexdigest(), status=CAPTURED, stage="done",
                    resolution_method="live", final_url=PDF)
        a1.links = [Link(position=0, url_raw=SHORT, text_raw=f"<{SHORT}>.", url_normalized=SHORT, target=t1)]
        a2.links = [Link(position=0, url_raw=PDF, text_raw=PDF, url_normalized=PDF, target=t2)]
        s.add(report)
        s.flush()

        def cap(name, target, role, warc, **kw):
            r = recs[name]
            c = Capture(target_id=target.id, role=role, url=r["url"],
                        url_hash=hashlib.sha256(r["url"].encode()).hexdigest(),
                        captured_at=datetime.fromisoformat(r["date"].replace("Z", "+00:00")),
                        sha256=r["sha256"], payload_digest=r["payload_digest"], block_digest=r["block_digest"],
                        payload_length=r["payload_length"], record_id=r["record_id"], warc_file=warc,
                        offset=r["offset"], length=r["length"], **kw)
            s.add(c)
            s.flush()
            return c

        hop = cap("hop", t1, "hop", WARC1, http_status=302)
        page = cap("page", t1, "target", WARC1, http_status=200, content_type="text/html; charset=utf-8")
        image = cap("image", t1, "requisite", WARC1, http_status=200, content_type="image/png", parent_id=page.id)
        pdf = cap("pdf", t2, "target", WARC1, http_status=200, content_type="application/pdf")
        revisit = cap("revisit", t1, "target", WARC2, http_status=200, content_type="text/html; charset=utf-8",
                      is_revisit=True, revisit_of_id=page.id)
        s.add_all([
            Hop(target_id=t1.id, seq=1, url=SHORT, status_code=302, location=PAGE, kind="redirect",
                fetched_at=_ts(1, 0), capture_id=hop.id),
            Hop(target_id=t1.id, seq=2, url=PAGE, status_code=200, kind="final", fetched_at=_ts(1, 1),
                capture_id=page.id),
            Hop(target_id=t2.id, seq=1, url=PDF, status_code=200, kind="final", fetched_at=_ts(1, 3),
                capture_id=pdf.id),
            Extraction(capture_id=page.id, title="Example <page> & co", method="trafilatura", text="Evidence text."),
            Extraction(capture_id=pdf.id, title="The final report", method="pypdf", text="report"),
            WarcFile(path=WARC1, state="open"), WarcFile(path=WARC2, state="open"),
        ])
        s.commit()
        ev = Evidence(report_id=report.id, activity_ids=[a1.id, a2.id],
                      captures={"hop": hop.id, "page": page.id, "image": image.id, "pdf": pdf.id,
                                "revisit": revisit.id},
                      warcs=[WARC1, WARC2], root=root, records=recs)
    with Session() as s:
        for rel in ev.warcs:
            append_entry(s, root, rel)
    return ev
