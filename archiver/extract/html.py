"""HTML -> main text, title and language: trafilatura, with a visible-text fallback.

The page is decoded here (see encoding.py for the order and the rules), parsed once
with lxml, and the tree handed to trafilatura, so that trafilatura's own guessing
never overrides the decision. trafilatura makes no network request from a tree.

Language: trafilatura identifies languages only through py3langid, which is not a
dependency of archiver; it is used when installed. Otherwise the page's declaration is
taken: ``<html lang>``, then ``<meta http-equiv="Content-Language">``, then the HTTP
``Content-Language`` header (primary subtag, lower case: ``az-Latn-AZ`` -> ``az``).
"""
from __future__ import annotations

import copy
import logging
import re
from functools import lru_cache

import lxml.html
from bs4 import BeautifulSoup
from trafilatura import bare_extraction
from trafilatura.settings import Extractor, use_config

from ..model import ExtractedText
from .encoding import SAMPLE_BYTES, choose_encoding, declared_in_document

try:  # optional: trafilatura's language identifier
    import py3langid  # type: ignore
except ImportError:  # pragma: no cover - depends on the environment
    py3langid = None

log = logging.getLogger(__name__)
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>", re.I)
_LANG = re.compile(r"[A-Za-z]{2,3}")
_INVISIBLE = ("script", "style", "noscript", "template", "head", "svg", "iframe", "object")
_BLANKS = re.compile(r"[ \t\r\f\v\u00a0]+")


@lru_cache(maxsize=4)
def extractor(max_html_bytes: int) -> Extractor:
    """trafilatura's options, built once per size limit: tables in, comments and links out."""
    config = use_config()
    config.set("DEFAULT", "MAX_FILE_SIZE", str(max_html_bytes + 1))
    config.set("DEFAULT", "EXTRACTION_TIMEOUT", "0")
    config.set("DEFAULT", "EXTENSIVE_DATE_SEARCH", "off")
    return Extractor(config=config, output_format="python", tables=True, comments=False, links=False,
                     images=False, with_metadata=True)


def _lang_hint(head: bytes) -> str | None:
    m = re.search(rb"<html[^>]*\blang\s*=\s*[\"']?([A-Za-z-]+)", head[:SAMPLE_BYTES], re.I)
    return m.group(1).decode("ascii") if m else None


def decode_html(data: bytes, headers_charset: str | None) -> tuple[str, str]:
    """(text, codec name) for a whole HTML body."""
    name, source = choose_encoding(data[:SAMPLE_BYTES], header=headers_charset,
                                   document=declared_in_document(data), complete=len(data) <= SAMPLE_BYTES,
                                   is_html=True, lang_hint=_lang_hint(data))
    log.debug("html encoding %s (%s)", name, source)
    return data.decode(name, "replace"), name


def _primary(tag: str | None) -> str | None:
    m = _LANG.match((tag or "").strip())
    return m.group(0).lower() if m else None


def declared_language(tree, content_language: str | None) -> str | None:
    for value in (tree.get("lang") if tree is not None else None,
                  *(tree.xpath('//meta[translate(@http-equiv, "CONTENTLAGU", "contentlagu")="content-language"]'
                               '/@content') if tree is not None else ()),
                  content_language):
        lang = _primary(value)
        if lang:
            return lang
    return None


def language_of(text: str | None, tree, content_language: str | None) -> str | None:
    if py3langid is not None and text:
        lang, _score = py3langid.classify(text[:20_000])
        return lang
    return declared_language(tree, content_language)


def _parse(text: str):
    try:
        return lxml.html.document_fromstring(_XML_DECL.sub("", text, count=1))
    except (ValueError, lxml.etree.ParserError):
        return None


def visible_text(text: str) -> tuple[str | None, str | None]:
    """(text, title) of everything a reader would see: the fallback when trafilatura finds nothing."""
    soup = BeautifulSoup(text, "lxml")
    title = soup.title.get_text(" ", strip=True) if soup.title else None
    for tag in soup(_INVISIBLE):
        tag.decompose()
    lines = (_BLANKS.sub(" ", line).strip() for line in soup.get_text("\n").splitlines())
    body = "\n".join(line for line in lines if line)
    return body or None, title or None


def extract_html(data: bytes, *, max_chars: int, max_html_bytes: int, url: str | None = None,
                 headers_charset: str | None = None, content_language: str | None = None) -> ExtractedText:
    """Main text of an HTML page (already cut to max_html_bytes by the caller)."""
    text, encoding = decode_html(data, headers_charset)
    tree = _parse(text)
    doc = None
    if tree is not None:
        options = copy.copy(extractor(max_html_bytes))
        options.url = url
        options.source = url
        try:
            doc = bare_extraction(tree, options=options)
        except Exception as exc:  # trafilatura raises assorted errors on odd trees; fall back
            log.info("trafilatura failed on %s: %s", url, exc)
    title = (doc.title if doc is not None else None) or None
    body = (doc.text if doc is not None else None) or None
    method = "trafilatura"
    if not body or not body.strip():
        body, fallback_title = visible_text(text)
        title = title or fallback_title
        method = "html-visible"
    if tree is not None and not title:
        found = tree.find(".//title")
        title = (found.text_content().strip() or None) if found is not None else None
    body = body.strip()[:max_chars] if body else None
    body = body or None
    return ExtractedText(method=method, text=body, title=title,
                         language=language_of(body, tree, content_language), encoding=encoding)
