"""Static content of the simulated web (archiver.simweb): pages, files, shortener page templates.

Generated from constants (a hand-written PDF, PNGs built with zlib), so every run serves
the same bytes. Templates of real services quote the reference's literals where it has
them (t.co, bit.ly, goo.gl 404 headers); the rest is marked unconfirmed there.
"""
from __future__ import annotations

import struct
import zlib

def _png(rgb: tuple[int, int, int]) -> bytes:
    """A valid 1x1 PNG of one colour."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    raw = b"\x00" + bytes(rgb)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def _pdf(lines: list[str]) -> bytes:
    """A minimal valid one-page PDF with Helvetica text, xref offsets computed (no reportlab)."""
    text = "BT /F1 14 Tf 72 740 Td 18 TL " + " ".join(
        "(" + ln.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ") '" for ln in lines
    ) + " ET"
    stream = text.encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Title (National Action Plan 2016-2018) /Producer (archiver simweb) >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


PDF_LINES = [
    "National Action Plan on Promoting Open Government 2016-2018",
    "Progress report of the Azerbaijan OGP Platform",
    "Round-table on the strategic road-map, 30 June 2017",
]
PDF_BYTES = _pdf(PDF_LINES)
LOGO_PNG = _png((20, 90, 160))
BG_PNG = _png((240, 240, 230))
FONT_BYTES = b"wOF2" + bytes(range(64))  # not a real font: only its capture matters

REPORT_HTML = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Open Government Platform in Action: project results</title>
<link rel="stylesheet" href="/static/style.css">
<script src="/static/app.js"></script>
</head><body>
<header><img src="/static/logo.png" alt="OGP Platform logo" width="1" height="1"></header>
<article>
<h1>Open Government Platform in Action: project results</h1>
<p>Relevant studies and assessments have been conducted and recommendations have been prepared
in 12 directions of the National Action Plan for the Promotion of the Open Government (2016-2018).</p>
<p>The results of the project were discussed at 19 round-tables and 13 "Economic Forum" programmes
on Internet TV. Representatives of 44 state agencies, 24 foreign organizations and 454 NGOs took part.</p>
<p>The full action plan is available as a <a href="/docs/action-plan.pdf">PDF document</a>.</p>
</article>
</body></html>
"""

AZ_HTML = """<!DOCTYPE html>
<html lang="az"><head><meta charset="utf-8">
<title>Açıq Hökumət Platforması: dəyirmi masa</title>
<link rel="stylesheet" href="/static/style.css">
</head><body>
<article>
<h1>Açıq Hökumət Platforması: dəyirmi masa keçirildi</h1>
<p>Azərbaycan Respublikasının milli iqtisadiyyatının perspektivlərinə dair strateji yol xəritəsi
mövzusunda dəyirmi masa keçirilmişdir. Tədbirdə dövlət qurumlarının, parlamentin və qeyri-hökumət
təşkilatlarının nümayəndələri iştirak etmişlər.</p>
<p>Müzakirələr İnternet televiziyasında yayımlanmış, təkliflər hökumətə təqdim edilmişdir.</p>
</article>
</body></html>
"""

STYLE_CSS = """@font-face { font-family: "Platform"; src: url("/static/font.woff2") format("woff2"); }
body { font-family: "Platform", sans-serif; background: url(/static/bg.png) repeat; }
"""
APP_JS = "document.documentElement.className = 'js';\n"

ARCHIVED_GONE_HTML = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Open budget round-table, 14 July 2017</title></head>
<body><article><h1>Open budget round-table, 14 July 2017</h1>
<p>The Platform discussed the open budget initiative with the Ministry of Finance. The page was
later removed from the site; this copy was preserved by a web archive.</p></article></body></html>
"""

NOT_FOUND_HTML = "<!DOCTYPE html><html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>\n"
ERROR_HTML = "<!DOCTYPE html><html><head><title>500</title></head><body><h1>Internal Server Error</h1></body></html>\n"

# goo.gl pages. The real markup is unknown [reference §1.2, U]; only the quoted wording is confirmed.
INTERSTITIAL_HTML = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Google URL Shortener</title></head><body>
<p>This link will no longer work in the near future. goo.gl links will no longer function after
August 25th, 2025. For more information, see the
<a href="https://developers.googleblog.com/en/google-url-shortener-links-will-no-longer-be-available/">announcement</a>.</p>
<p><a href="{target}">{target}</a></p>
</body></html>
"""
DISABLED_2018_HTML = """<!DOCTYPE html><html><head><title>goo.gl</title></head><body>
<p>Sorry, this goo.gl shortlink has been disabled. It was found to be violating our Terms of Service.</p>
</body></html>
"""
DYNAMIC_NOT_FOUND_HTML = """<!DOCTYPE html><html><head><title>Dynamic Link Not Found</title></head>
<body><h1>Dynamic Link Not Found</h1><p>Invalid Dynamic Link - Requested URL not found.</p></body></html>
"""
SORRY_HTML = """<!DOCTYPE html><html><head><title>Sorry...</title></head><body>
<p>Our systems have detected unusual traffic from your computer network. This page checks to see if
it's really you sending the requests, and not a robot.</p><form action="/sorry/index"></form>
</body></html>
"""
BITLY_BODY = '<html>\n<head><title>Bitly</title></head>\n<body><a href="{target}">moved here</a></body>\n</html>'
TCO_2022 = ('<head><noscript><META http-equiv="refresh" content="0;URL={target}"></noscript>'
            '<title>{target}</title></head><script>window.opener = null; location.replace("{js}")</script>')
TCO_2013 = '<noscript><META http-equiv="refresh" content="0;URL={target}"></noscript><script>location.replace("{js}")</script>'
JS_PAGE = '<html><head><title>Redirecting</title></head><body><script>location.replace("{js}")</script></body></html>'
META_PAGE = ('<html><head><meta http-equiv="refresh" content="0; url=\'{target}\'">'
             '<title>Redirecting</title></head><body>Redirecting...</body></html>')
OWLY_WARNING = ('<html><body><p>This link may be unsafe.</p>'
                '<a class="btn ignore" href="{target}">Continue anyway</a></body></html>')
TINYURL_ERRORHELP = ('<html><head><meta http-equiv="refresh" content="0;url={base}/errorb.php?url={code}&path=/{code}">'
                     '</head><body></body></html>')
GOOGL_404_HEADERS = [  # reference §1.2, literal from S4
    ("content-type", "text/html; charset=utf-8"),
    ("cache-control", "no-cache, no-store, max-age=0, must-revalidate"),
    ("pragma", "no-cache"),
    ("expires", "Mon, 01 Jan 1990 00:00:00 GMT"),
]
HTML = "text/html; charset=utf-8"


def _js_escape(url: str) -> str:
    return url.replace("/", "\\/")


SITE_PAGES: dict[str, tuple[str, bytes]] = {
    "/": (HTML, b'<html><body><a href="/reports/open-budget.html">Reports</a> '
                b'<a href="/az/xeberler.html">X\xc9\x99b\xc9\x99rl\xc9\x99r</a></body></html>'),
    "/reports/open-budget.html": (HTML, REPORT_HTML.encode("utf-8")),
    "/az/xeberler.html": (HTML, AZ_HTML.encode("utf-8")),
    "/docs/action-plan.pdf": ("application/pdf", PDF_BYTES),
    "/static/style.css": ("text/css; charset=utf-8", STYLE_CSS.encode()),
    "/static/app.js": ("application/javascript", APP_JS.encode()),
    "/static/logo.png": ("image/png", LOGO_PNG),
    "/static/bg.png": ("image/png", BG_PNG),
    "/static/font.woff2": ("font/woff2", FONT_BYTES),
}

# The demo's goo.gl table: (code, state, target path on the site or other code).
DEFAULT_CODES: list[tuple[str, str, str | None]] = [
    ("mMTrEZ", "live", "/reports/open-budget.html"),
    ("wMfTXZ", "interstitial", "/az/xeberler.html"),
    ("khnHU9", "live", "/docs/action-plan.pdf"),
    ("D1bhWt", "chain", "mMTrEZ"),
    ("Qz7RtY", "deactivated", None),
    ("Bn4nEd", "disallowed", None),
    ("Gq2Zsn", "live", "/gone"),
    ("Jv5Wcx", "js", "/az/xeberler.html"),
    ("Mt8Rfh", "meta", "/moved"),
]

REPORT_TEMPLATE = """Information on the Activity of the Dialogue Platform on Promoting Open Government

The Platform was established on 9 September 2016 by NGOs and government agencies.

- During February - September, 2017 the Platform implemented the project "Open Government Platform in Action".
 - <{u_mMTrEZ}>
<{u_wMfTXZ}>
- On 22 May 2017 NGO representatives met the National Coordinator of the Open Government Partnership.
<{u_khnHU9}>
- On 16 June 2017, proposals for a favourable environment for NGO activities were submitted to the government.
 - <{u_D1bhWt}>
- On 30 June 2017, a round-table on the strategic road-map of the national economy was held.
<{u_Qz7RtY}>
- On 14 July 2017, the Platform discussed the open budget initiative with the Ministry of Finance.
<{u_Bn4nEd}> <{u_Gq2Zsn}>
- On 5 October 2017, a training on access to information was held in Ganja.
<{u_Jv5Wcx}>
- In December 2017, the Platform published its annual assessment.
<{u_Mt8Rfh}> <{bitly}>
"""
