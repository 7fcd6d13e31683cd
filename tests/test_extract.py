"""extract_text: encodings (Azerbaijani and Cyrillic, declared, undeclared, misdeclared), PDF, limits."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter
from reportlab.pdfgen import canvas

from archiver.config import ExtractSettings
from archiver.extract import extract_text, kind_of
from archiver.extract import html as html_mod
from archiver.extract.encoding import choose_encoding, codec_name, looks_like_mojibake, plausible

DATA = Path(__file__).parent / "data" / "extract"
SETTINGS = ExtractSettings()
AZ_WORDS = ["Azərbaycan", "Dağlıq Qarabağ", "Şəffaflıq", "İqtisadiyyat", "Gəncə"]
AZ_1254_WORDS = ["Azärbaycan", "Dağlıq Qarabağ", "Şäffaflıq", "İqtisadiyyat", "qış", "üçün"]  # no ə there
RU_WORDS = ["Правительство", "Азербайджанской", "Баку", "Отчёт", "Ещё"]


def run(name: str, content_type: str = "text/html", settings: ExtractSettings = SETTINGS, **kw):
    return extract_text(io.BytesIO((DATA / name).read_bytes()), content_type, settings, **kw)


@pytest.mark.parametrize("name, header, encoding, words, language", [
    ("az-utf8-meta.html", None, "utf-8", AZ_WORDS, "az"),
    ("az-utf8-nodecl.html", None, "utf-8", AZ_WORDS, None),
    ("az-cp1254-meta.html", None, "cp1254", AZ_1254_WORDS, "az"),
    ("az-iso8859-9-lang.html", None, "cp1254", AZ_1254_WORDS, "az"),  # undeclared, <html lang="az-Latn-AZ">
    ("az-cp1254-nodecl.html", None, "cp1254", AZ_1254_WORDS, None),  # undeclared: the ğ ı ş byte rule
    ("az-cp1254-nodecl.html", "ISO-8859-9", "cp1254", AZ_1254_WORDS, None),  # header, WHATWG alias
    ("ru-cp1251-meta.html", None, "cp1251", RU_WORDS, "ru"),
    ("ru-cp1251-nodecl.html", None, "cp1251", RU_WORDS, None),
    ("ru-koi8r-nodecl.html", None, "koi8-r", RU_WORDS, None),
    ("ru-koi8r-nodecl.html", "KOI8-R", "koi8-r", RU_WORDS, None),
])
def test_html_encodings(name, header, encoding, words, language):
    r = run(name, headers_charset=header)
    assert r.method == "trafilatura" and r.error is None
    assert r.encoding == encoding
    for word in words:
        assert word in r.text
    assert r.language == language
    assert "ignored" not in r.text and "color" not in r.text  # script and style are not text


@pytest.mark.parametrize("name, header, encoding, words", [
    # the page's meta says windows-1252, the bytes are windows-1251: mojibake rule, then detection
    ("ru-cp1251-declared-cp1252.html", None, "cp1251", RU_WORDS),
    # the page's meta says windows-1251, the bytes are KOI8-R (reads as mostly capitals)
    ("ru-koi8r-declared-cp1251.html", None, "koi8-r", RU_WORDS),
    # the page says ISO-8859-1, the bytes are valid UTF-8: UTF-8 wins
    ("az-utf8-declared-latin1.html", None, "utf-8", AZ_WORDS),
    # the server says UTF-8 (a common default), the bytes are windows-1251
    ("ru-cp1251-nodecl.html", "utf-8", "cp1251", RU_WORDS),
    # a wrong header falls through to the document's (right) declaration
    ("ru-cp1251-meta.html", "koi8-r", "cp1251", RU_WORDS),
    # the header beats the document when both are believable
    ("ru-koi8r-declared-cp1251.html", "koi8-r", "koi8-r", RU_WORDS),
])
def test_wrongly_declared_charsets(name, header, encoding, words):
    r = run(name, headers_charset=header)
    assert r.encoding == encoding
    for word in words:
        assert word in r.text


def test_header_charset_is_taken_from_content_type():
    r = run("ru-koi8r-declared-cp1251.html", "text/html; charset=koi8-r")
    assert r.encoding == "koi8-r" and "Правительство" in r.text


def test_title_and_tables():
    r = run("table.html")
    assert r.title == "Hesabat cədvəli"
    assert "Sumqayıtda" in r.text and "gecikir" in r.text


def test_content_language_header_is_the_last_resort():
    assert run("az-utf8-nodecl.html", content_language="az-Latn").language == "az"
    assert run("ru-cp1251-meta.html", content_language="en").language == "ru"  # <html lang> first


def test_fallback_to_visible_text_when_trafilatura_finds_nothing(monkeypatch):
    monkeypatch.setattr(html_mod, "bare_extraction", lambda *a, **k: None)
    r = run("az-utf8-meta.html")
    assert r.method == "html-visible"
    assert "Dağlıq Qarabağ" in r.text and "Ana səhifə" in r.text  # everything visible, menus too
    assert "ignored" not in r.text and "color" not in r.text
    assert r.title == "Milli Fəaliyyət Planı"


@pytest.mark.parametrize("name, encoding, words", [
    ("ru-cp1251.txt", "cp1251", RU_WORDS),
    ("az-cp1254.txt", "cp1254", AZ_1254_WORDS),
])
def test_plain_text(name, encoding, words):
    r = run(name, "text/plain")
    assert r.method == "plain" and r.encoding == encoding
    for word in words:
        assert word in r.text


def test_plain_text_with_bom_and_header():
    body = "\ufeffAçıq Hökumət".encode("utf-8")
    r = extract_text(io.BytesIO(body), "text/plain; charset=windows-1251", SETTINGS)
    assert r.text == "Açıq Hökumət" and r.encoding == "utf-8"  # a BOM beats any header


class CountingStream(io.RawIOBase):
    """A non-seekable stream that counts what was read from it."""

    def __init__(self, data: bytes):
        self._buf = io.BytesIO(data)
        self.read_bytes = 0

    def readable(self):
        return True

    def readinto(self, b):
        n = self._buf.readinto(b)
        self.read_bytes += n
        return n

    def read(self, size=-1):
        data = self._buf.read(size)
        self.read_bytes += len(data)
        return data


def test_plain_text_is_cut_and_not_read_further():
    data = ("Şuşa şəhəri. " * 400_000).encode("utf-8")  # ~6.4 MB
    stream = CountingStream(data)
    r = extract_text(stream, "text/plain", ExtractSettings(max_text_chars=1000))
    assert len(r.text) == 1000 and r.text.startswith("Şuşa şəhəri.")
    assert stream.read_bytes < 3 * 1024 * 1024  # stopped early: sample + one chunk


def test_html_is_cut_to_max_html_bytes_and_text_to_max_chars():
    para = "<p>" + "Gəncə şəhərində ictimai müzakirələr keçirildi. " * 20 + "</p>\n"
    data = ("<html><head><meta charset='utf-8'><title>Uzun</title></head><body>" + para * 2000
            + "</body></html>").encode("utf-8")
    stream = CountingStream(data)
    r = extract_text(stream, "text/html", ExtractSettings(max_text_chars=500, max_html_bytes=100_000))
    assert stream.read_bytes <= 100_000
    assert len(r.text) == 500 and "Gəncə" in r.text


def make_pdf(pages: list[str], title: str = "Hesabat 2017") -> bytes:
    buf = io.BytesIO()
    c = canvas.Canvas(buf)
    c.setTitle(title)
    for text in pages:
        c.drawString(72, 720, text)
        c.showPage()
    c.save()
    return buf.getvalue()


def encrypt(pdf: bytes, user_password: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer.encrypt(user_password=user_password, owner_password="owner-secret", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


PDF = make_pdf(["Page one: Open Government Partnership action plan", "Page two: public hearings in Ganja"])


def test_pdf_pages_in_order_with_title_from_a_non_seekable_stream():
    r = extract_text(CountingStream(PDF), "application/pdf", SETTINGS)
    assert r.method == "pypdf" and r.error is None and r.title == "Hesabat 2017"
    assert r.text.index("Page one") < r.text.index("Page two")


def test_pdf_sniffed_when_the_type_is_generic():
    assert extract_text(io.BytesIO(PDF), "application/octet-stream", SETTINGS).method == "pypdf"
    assert extract_text(io.BytesIO(PDF), None, SETTINGS).method == "pypdf"


def test_pdf_text_is_cut():
    r = extract_text(io.BytesIO(PDF), "application/pdf", ExtractSettings(max_text_chars=20))
    assert r.text == "Page one: Open Gover"


def test_encrypted_pdf_with_empty_user_password_is_read():
    r = extract_text(io.BytesIO(encrypt(PDF, "")), "application/pdf", SETTINGS)
    assert r.error is None and "public hearings in Ganja" in r.text


def test_encrypted_pdf_with_a_password_gives_a_clear_error():
    r = extract_text(io.BytesIO(encrypt(PDF, "secret")), "application/pdf", SETTINGS)
    assert r.text is None and r.error == "encrypted PDF: it needs a password to open"


def test_broken_pdf_gives_an_error_not_an_exception():
    r = extract_text(io.BytesIO(b"%PDF-1.4\n1 0 obj garbage"), "application/pdf", SETTINGS)
    assert r.method == "pypdf" and r.text is None and r.error.startswith("not a readable PDF")


@pytest.mark.parametrize("content_type, body", [
    ("image/png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
    ("application/zip", b"PK\x03\x04rest"),
    (None, b"\x00\x01\x02 binary"),
])
def test_other_types_give_method_none_without_error(content_type, body):
    r = extract_text(io.BytesIO(body), content_type, SETTINGS)
    assert r.method == "none" and r.error is None and r.text is None


def test_kind_of():
    assert kind_of("text/html; charset=utf-8", b"") == "html"
    assert kind_of("application/xhtml+xml", b"") == "html"
    assert kind_of("TEXT/CSV", b"") == "plain"
    assert kind_of("application/octet-stream", b"<!DOCTYPE html><html>") == "html"
    assert kind_of(None, b"%PDF-1.7") == "pdf"
    assert kind_of("image/jpeg", b"%PDF-1.7") == "none"  # a declared specific type is believed


def test_encoding_rules_directly():
    assert codec_name("ISO-8859-1") == "cp1252" and codec_name("latin5") == "cp1254"
    assert codec_name("windows-1251") == "cp1251" and codec_name("no-such-charset") is None
    ru = "Правительство утвердило план действий".encode("cp1251")
    assert looks_like_mojibake(ru.decode("cp1252"))
    assert looks_like_mojibake(ru.decode("koi8-r"))
    assert not looks_like_mojibake("Правительство утвердило план. Café crème brûlée, naïve façade.")
    assert not plausible("utf-8", ru, complete=True)
    assert plausible("cp1251", ru, complete=True)
    # a multi-byte sequence cut by the end of a sample is not an error
    assert plausible("utf-8", "Şuşa".encode()[:-1], complete=False)
    assert choose_encoding(b"plain ascii", header="utf-8") == ("utf-8", "header")
    assert choose_encoding(ru, header="bogus-charset", document="windows-1251") == ("cp1251", "document")
    assert choose_encoding(ru) == ("cp1251", "detected")
