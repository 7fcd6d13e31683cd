"""Hostile report files, made cheaply (milliseconds, a few MB) for tests and bench/hostile_reports.py.

* `zip_bomb_docx`: a DOCX whose ``word/document.xml`` inflates to gigabytes. The deflate
  stream is one compressed MiB of spaces repeated (each copy ends with a full flush, so
  copies concatenate into one valid stream): 3 GiB cost ~3 MB and no compression time.
  ``lie=True`` declares a small size in the zip directory, as a bomb that hides would.
* `many_pages_pdf`: a PDF whose page tree holds ``pages`` page objects (or one page
  referred to ``pages`` times, ``shared=True``); ``count`` overrides the declared /Count.
* `nul_report`: text with NUL characters in activities, link labels and URLs.
* `many_links_txt` / `many_paragraphs_txt`: reports over the link or paragraph bounds.
"""
from __future__ import annotations

import struct
import zlib

_MIB = 1 << 20

_CONTENT_TYPES = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                  b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                  b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                  b'<Default Extension="xml" ContentType="application/xml"/>'
                  b'<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument'
                  b'.wordprocessingml.document.main+xml"/></Types>')
_RELS = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
         b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
         b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
         b'officeDocument" Target="word/document.xml"/></Relationships>')
_DOC_HEAD = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
             b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
             b'<w:p><w:r><w:t>On 1 May 2018 a meeting was held https://goo.gl/bomb</w:t></w:r></w:p><w:p><w:r><w:t>')


def _zip(entries: list[tuple[str, bytes, int, int, int]]) -> bytes:
    """A zip from (name, stored bytes, method, crc, declared size) entries, written by hand so that
    sizes and CRCs can be whatever a hostile file says."""
    out, central = bytearray(), bytearray()
    for name, stored, method, crc, size in entries:
        raw = name.encode()
        offset = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0x21, crc, len(stored), size, len(raw), 0)
        out += raw + stored
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0x21, crc, len(stored),
                               size, len(raw), 0, 0, 0, 0, 0, offset)
        central += raw
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(central), len(out), 0)
    return bytes(out + central + end)


def _deflated(data: bytes) -> tuple[bytes, int, int]:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush(), zlib.crc32(data), len(data)


def zip_bomb_docx(inflated: int = 3 << 30, lie: bool = False) -> bytes:
    """A DOCX whose document.xml inflates to ``inflated`` bytes (rounded up to MiB), all spaces
    inside one ``w:t`` (never closed: nobody should read that far)."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = c.compress(_DOC_HEAD) + c.flush(zlib.Z_FULL_FLUSH)
    piece = c.compress(b" " * _MIB) + c.flush(zlib.Z_FULL_FLUSH)  # the same bytes for every MiB
    copies = max(1, -(-inflated // _MIB))
    stream = head + piece * copies + b"\x03\x00"  # an empty final block ends the stream
    size = len(_DOC_HEAD) + copies * _MIB
    declared = 4096 if lie else size
    parts = [(name, *_deflated(body)) for name, body in (("[Content_Types].xml", _CONTENT_TYPES),
                                                        ("_rels/.rels", _RELS))]
    return _zip([(name, stored, 8, crc, sz) for name, stored, crc, sz in parts]
                + [("word/document.xml", stream, 8, 0, declared)])


def many_pages_pdf(pages: int = 200_000, *, shared: bool = False, count: int | None = None) -> bytes:
    """A PDF of ``pages`` empty pages under a two-level page tree (1,000 kids a node, as writers
    do), declared /Count ``count`` (default: the truth); ``shared``: one page object, referred to
    ``pages`` times."""
    fanout = 1000
    nodes = -(-pages // fanout)
    first_node, first_page = 3, 3 + nodes
    objs: list[bytes] = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    objs.append(b"<< /Type /Pages /Count %d /Kids [%s] >>" % (
        pages if count is None else count, b" ".join(b"%d 0 R" % (first_node + k) for k in range(nodes))))
    for k in range(nodes):
        span = range(k * fanout, min(pages, (k + 1) * fanout))
        kids = b" ".join(b"%d 0 R" % (first_page if shared else first_page + i) for i in span)
        objs.append(b"<< /Type /Pages /Parent 2 0 R /Count %d /Kids [%s] >>" % (len(span), kids))
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>"
    objs.extend(page for _ in range(1 if shared else pages))
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


def nul_report() -> bytes:
    """A text report (NULs after the first 4 KiB, so it is not taken for binary data) with NULs in
    an activity, a link's label and a URL."""
    head = "Report on NUL\n\n" + "This introduction is long enough to be a header paragraph. " * 80 + "\n\n"
    body = ("- On 1 May 2018 the round\x00table met deputies: https://goo.gl/nul\x00one\n"
            "- On 2 May 2018 a hearing was held.\n  - Min\x00utes: https://example.org/minutes\n")
    return (head + body).encode()


def many_links_txt(links: int) -> bytes:
    return ("Report\n\n" + "".join(f"- On 1 May 2018 meeting {i} https://example.org/{i}\n"
                                   for i in range(links))).encode()


def many_paragraphs_txt(paragraphs: int) -> bytes:
    """Tiny paragraphs, each a block: the shape that cost the most memory per byte."""
    return b"Report\n\n" + b"ab\n\n" * paragraphs
