"""Which encoding a captured text is in: the header, then the document, then detection.

The order, with the rules for a declaration that is wrong (pure functions):

1. A byte-order mark wins over everything (as in browsers).
2. The HTTP header charset, then the document's own declaration (``<meta charset>``,
   ``http-equiv="Content-Type"``, ``<?xml encoding?>``), each used only when *plausible*:
   - an unknown label is skipped;
   - a declared UTF-8 that does not decode (more than one bad sequence per 1000 bytes)
     is wrong: servers often send ``charset=UTF-8`` by default over windows-1251 pages;
   - a declared single-byte charset over bytes that are valid UTF-8 *with* multi-byte
     sequences is wrong: legacy text is practically never valid UTF-8 by accident,
     while "ISO-8859-1" is a common server default for UTF-8 pages;
   - a declared single-byte charset whose decoding looks like mojibake is wrong: more
     than 40% of the Latin letters in À..ÿ (windows-1251 read as windows-1252), or more
     than 60% of the Cyrillic letters upper-case (KOI8-R read as windows-1251).
3. Valid UTF-8 is UTF-8. Otherwise detection with charset-normalizer on a sample without
   markup, then one correction:
   when it picks a Western Latin codec and the bytes hold ð ý þ Ð Ý Þ (0xF0 0xFD 0xFE
   0xD0 0xDD 0xDE), or the page says it is Azerbaijani/Turkish, windows-1254 is taken
   instead: those bytes are ğ ı ş Ğ İ Ş there, and Azerbaijani/Turkish is far likelier
   in this archive's sources than Icelandic. (windows-1254 has no ə: old Azerbaijani
   sites wrote ä or e for it, which this rule keeps as written.) Likewise Mac Cyrillic
   becomes windows-1251 unless that reads as mojibake: they share the lower-case
   letters, short samples cannot tell them apart, and windows-1251 is the web's.

Labels follow the WHATWG aliases that matter here: ISO-8859-1/ASCII mean windows-1252
and ISO-8859-9 means windows-1254 (supersets, what browsers do).
"""
from __future__ import annotations

import codecs
import re

import charset_normalizer

SAMPLE_BYTES = 64 * 1024  # what detection and the plausibility checks look at
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_ALIASES = {"latin-1": "cp1252", "iso8859-1": "cp1252", "ascii": "cp1252", "iso8859-9": "cp1254",
            "iso8859-15": "cp1252"}
_WESTERN = {"cp1252", "iso8859-1", "latin-1", "iso8859-15", "cp1257", "iso8859-10", "iso8859-16",
            "iso8859-4", "iso8859-13", "cp1250", "iso8859-2", "iso8859-3", "mac-roman", "cp850",
            "cp437", "mac-latin2"}
_TURKISH_BYTES = re.compile(rb"[\xd0\xdd\xde\xf0\xfd\xfe]")
_META = re.compile(
    rb"""<meta[^>]+?charset\s*=\s*["']?\s*([a-zA-Z0-9_:.+-]+)"""
    rb"""|<\?xml[^>]+encoding\s*=\s*["']([a-zA-Z0-9_:.+-]+)""", re.I)
_MARKUP = re.compile(rb"<(script|style)\b.*?</\1\s*>|<!--.*?-->|<[^>]*>", re.I | re.S)


def codec_name(label: str | None) -> str | None:
    """Python's canonical codec name for a charset label, WHATWG-aliased; None if unknown."""
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip().strip("'\"").lower()).name
    except LookupError:
        return None
    return _ALIASES.get(name, name)


def charset_from_content_type(content_type: str | None) -> str | None:
    """The ``charset=`` parameter of a Content-Type value, as written."""
    if not content_type:
        return None
    m = re.search(r"charset\s*=\s*[\"']?([^\s;\"']+)", content_type, re.I)
    return m.group(1) if m else None


def bom_encoding(head: bytes) -> str | None:
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name
    return None


def declared_in_document(head: bytes) -> str | None:
    """The charset a page declares for itself in its first bytes (meta or XML declaration)."""
    m = _META.search(head[:SAMPLE_BYTES])
    if not m:
        return None
    return (m.group(1) or m.group(2)).decode("ascii", "replace")


def _is_single_byte(name: str) -> bool:
    """One byte, one character (windows-125x, ISO-8859-x, KOI8...): any bytes decode."""
    if name.startswith("utf"):
        return False
    try:
        return len(bytes(range(0x80, 0x100)).decode(name, "replace")) == 128
    except LookupError:
        return False


def _utf8_errors(sample: bytes, complete: bool) -> int:
    """Invalid UTF-8 sequences in sample (a sequence cut by the sample's end is not one)."""
    dec = codecs.getincrementaldecoder("utf-8")("replace")
    return dec.decode(sample, final=complete).count("\ufffd") - sample.decode("utf-8", "ignore").count("\ufffd")


def looks_like_mojibake(text: str) -> bool:
    """True when a single-byte decoding reads like the wrong table (see the module docstring)."""
    latin = accented = cyr = upper = 0
    for ch in text:
        if not ch.isalpha():
            continue
        o = ord(ch)
        if o < 0x250:
            latin += 1
            accented += 0xC0 <= o <= 0xFF
        elif 0x400 <= o <= 0x4FF:
            cyr += 1
            upper += ch.isupper()
    if latin >= 20 and accented / latin > 0.4:
        return True
    return cyr >= 20 and upper / cyr > 0.6


def plausible(name: str, sample: bytes, complete: bool) -> bool:
    """Is a declared encoding believable for these bytes?"""
    if name in ("utf-8", "utf-8-sig"):
        return _utf8_errors(sample, complete) <= len(sample) // 1000
    if _is_single_byte(name):
        if not sample.isascii() and _utf8_errors(sample, complete) == 0:
            return False  # valid UTF-8 with multi-byte sequences: the declaration is a server default
        return not looks_like_mojibake(sample.decode(name, "replace"))
    try:
        sample.decode(name, "strict" if complete else "ignore")
    except UnicodeDecodeError:
        return False
    return True


def _text_sample(sample: bytes, is_html: bool) -> bytes:
    return _MARKUP.sub(b" ", sample) if is_html else sample


def detect(sample: bytes, *, complete: bool = True, is_html: bool = False, lang_hint: str | None = None) -> str:
    """Best guess when nothing usable is declared (never fails: UTF-8 when clueless).

    Valid UTF-8 is UTF-8 without asking the detector, which can prefer a single-byte
    table for repetitive text.
    """
    if sample.isascii() or _utf8_errors(sample, complete) == 0:
        return "utf-8"
    text = _text_sample(sample, is_html)
    best = charset_normalizer.from_bytes(text).best()
    name = codec_name(best.encoding) if best is not None else None
    if name is None:
        return "utf-8"
    turkish_hint = (lang_hint or "").lower()[:2] in ("az", "tr")
    if name in _WESTERN and (turkish_hint or _TURKISH_BYTES.search(text)):
        return "cp1254"
    if name == "mac-cyrillic" and not looks_like_mojibake(text.decode("cp1251", "replace")):
        return "cp1251"
    return name


def choose_encoding(sample: bytes, *, header: str | None = None, document: str | None = None,
                    complete: bool = True, is_html: bool = False,
                    lang_hint: str | None = None) -> tuple[str, str]:
    """(codec name, where it came from: bom|header|document|detected) for a sample of the body.

    ``complete`` says the sample is the whole body (a multi-byte sequence cut at its end
    is then an error).
    """
    bom = bom_encoding(sample)
    if bom:
        return bom, "bom"
    for source, label in (("header", header), ("document", document)):
        name = codec_name(label)
        if name and plausible(name, sample, complete):
            return name, source
    return detect(sample, complete=complete, is_html=is_html, lang_hint=lang_hint), "detected"
