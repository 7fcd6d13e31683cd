"""DOCX reports -> blocks (pure): paragraphs in body order, bullets from list styles or
numbering (``w:numPr``, level from ``w:ilvl``), headings from Heading/Title styles,
hyperlinks from their relationships, page breaks and empty paragraphs as breaks.

A table row is one ``row`` block (cells joined with `` | ``): reports that
tabulate their activities put date, description and link in one row, and
activities.py makes a dated row one activity. Each hyperlink's label (its
visible text) goes with its URL.

python-docx inflates and parses whole parts, so the archive is checked first
(`check_inflated`): the sizes its directory declares, then the bytes actually
inflated, counted as they stream, against ``ingest.max_unzipped_bytes``. A 2.9 MB
zip bomb holding a 3 GB ``document.xml`` is refused in milliseconds.
"""
from __future__ import annotations

import io
import zipfile
import zlib

import docx as python_docx
from docx.opc.exceptions import PackageNotFoundError
from docx.oxml.ns import qn
from docx.table import Table
from docx.text.hyperlink import Hyperlink
from docx.text.paragraph import Paragraph

from ..errors import InputError
from ..model import Block
from .limits import UNLIMITED, BlockList, Limits

_W_BR, _W_TYPE, _W_NUMPR, _W_ILVL, _W_VAL = qn("w:br"), qn("w:type"), qn("w:numPr"), qn("w:ilvl"), qn("w:val")


def _style_kind(para: Paragraph, cache: dict) -> tuple[str, int]:
    style_id = para._p.style  # the id string; cheaper than resolving the style object each time
    if style_id not in cache:
        name = (para.style.name if para.style is not None else "") or ""
        low = name.lower()
        if low.startswith("heading") or low in ("title", "subtitle"):
            cache[style_id] = ("heading", 0)
        elif low.startswith("list"):
            digits = "".join(c for c in low if c.isdigit())
            cache[style_id] = ("bullet", max(int(digits) - 1, 0) if digits else 0)
        else:
            cache[style_id] = ("para", 0)
    kind, level = cache[style_id]
    ppr = para._p.pPr
    numpr = ppr.find(_W_NUMPR) if ppr is not None else None
    if numpr is not None and kind != "heading":
        ilvl = numpr.find(_W_ILVL)
        kind, level = "bullet", int(ilvl.get(_W_VAL, "0")) if ilvl is not None else level
    return kind, level


def _pieces(para: Paragraph):
    """(text, url) pieces in order, and 'PAGE' markers where a page break sits."""
    for item in para.iter_inner_content():
        if isinstance(item, Hyperlink):
            url = item.url if item.address else ""
            yield item.text, url
            continue
        if any(br.get(_W_TYPE) == "page" for br in item._r.iter(_W_BR)):
            # split at the break; text before and after it stays on its side
            parts = []
            for child in item._r.iterchildren():
                if child.tag == _W_BR and child.get(_W_TYPE) == "page":
                    yield "".join(parts), None
                    parts = []
                    yield None, "PAGE"
                elif child.tag == qn("w:t"):
                    parts.append(child.text or "")
                elif child.tag == qn("w:tab"):
                    parts.append("\t")
            yield "".join(parts), None
        else:
            yield item.text, None


def _paragraph_blocks(para: Paragraph, cache: dict) -> list[Block]:
    kind, level = _style_kind(para, cache)
    out: list[Block] = []
    text, urls, labels = [], [], []

    def flush(k: str) -> None:
        joined = " ".join("".join(text).split())
        out.append(Block(kind=k, text=joined, links=tuple(urls), level=level, link_labels=tuple(labels))
                   if joined or urls else Block(kind="break", text=""))

    for piece, url in _pieces(para):
        if url == "PAGE":
            flush(kind)
            out.append(Block(kind="break", text=""))
            text, urls, labels, kind = [], [], [], "para"  # what follows the break continues the paragraph
            continue
        text.append(piece or "")
        if url and url.lower().startswith(("http://", "https://")):
            urls.append(url)
            labels.append(piece)
    flush(kind)
    return [b for i, b in enumerate(out) if b.kind != "break" or i == 0 or out[i - 1].kind != "break"]


def _row_block(row) -> Block:
    texts, labelled = [], {}  # url -> label of its first occurrence (merged cells repeat)
    for cell in row.cells:
        cell_text = []
        for para in cell.paragraphs:
            for piece, url in _pieces(para):
                if url and url != "PAGE" and url.lower().startswith(("http://", "https://")):
                    labelled.setdefault(url, piece)
                if piece:
                    cell_text.append(piece)
            cell_text.append(" ")
        t = " ".join("".join(cell_text).split())
        if t and (not texts or texts[-1] != t):  # merged cells repeat
            texts.append(t)
    return Block(kind="row", text=" | ".join(texts), links=tuple(labelled), link_labels=tuple(labelled.values()))


def check_inflated(data: bytes, label: str, limit: int) -> None:
    """Refuse a DOCX whose parts inflate to more than ``limit`` bytes (declared, then counted)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            infos = z.infolist()
            declared = sum(i.file_size for i in infos)
            if declared > limit:
                raise InputError(f"{label}: inflates to {declared} bytes, more than ingest.max_unzipped_bytes "
                                 f"({limit}): not a report (a zip bomb?)")
            total = 0
            for info in infos:  # the directory may lie: count what inflating really gives
                with z.open(info) as part:
                    while chunk := part.read(1 << 20):
                        total += len(chunk)
                        if total > limit:
                            raise InputError(f"{label}: inflates to more than ingest.max_unzipped_bytes "
                                             f"({limit}) bytes: not a report (a zip bomb?)")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, OSError, ValueError) as exc:
        raise InputError(f"{label}: corrupt DOCX ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from exc


def read(data: bytes, name: str = "", limits: Limits = UNLIMITED) -> list[Block]:
    label = name or "report"
    try:
        check_inflated(data, label, limits.max_unzipped_bytes)
    except zlib.error as exc:
        raise InputError(f"{label}: corrupt DOCX ({exc})") from exc
    try:
        document = python_docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, PackageNotFoundError, KeyError, ValueError) as exc:
        raise InputError(f"{label}: corrupt DOCX ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from exc
    except Exception as exc:  # lxml/opc errors on damaged parts: translate once, here
        raise InputError(f"{label}: unreadable DOCX ({type(exc).__name__})") from exc
    blocks: list[Block] = BlockList(limits, label)
    cache: dict = {}
    try:
        for item in document.iter_inner_content():
            if isinstance(item, Table):
                blocks.append(Block(kind="break", text=""))
                blocks.extend(_row_block(row) for row in item.rows)
                blocks.append(Block(kind="break", text=""))
            else:
                blocks.extend(_paragraph_blocks(item, cache))
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{label}: unreadable DOCX ({type(exc).__name__}: {str(exc)[:80]})") from exc
    return blocks
