"""PDF reports -> blocks (pure), with pypdf.

pypdf's text extraction decides spacing and line ends; a visitor records where
each line sits (baseline y, x, font size) so that we can:

* split paragraphs at vertical gaps wider than the page's usual line pitch,
* tell bullets (a mark at the line start) and their indentation level,
* tell headings (a font clearly larger than the body's),
* put every link annotation (``/Link`` with ``/URI``) on the line its rectangle
  covers, hence in the right block, with the text it covers as its label when
  that text was drawn on its own (as Word and LibreOffice draw a hyperlink's
  run); a label inside a longer string is not measured (no glyph widths),
* rejoin URLs wrapped across lines: exactly when an annotation gives the whole
  URL, by heuristics otherwise (links.joins_url).

Page ends are ``break`` blocks: activities.py decides whether a sentence goes on.
Encrypted (with a password) and corrupt files raise InputError.
"""
from __future__ import annotations

import gc
import io
import logging
import re
import statistics
import warnings
from dataclasses import dataclass, field

from ..errors import InputError
from ..model import Block
from . import links
from .limits import UNLIMITED, BlockList, Limits

logging.getLogger("pypdf").addHandler(logging.NullHandler())  # pypdf warns on harmless quirks
_log = logging.getLogger(__name__)

_BULLET = re.compile(r"^\s*(?:([•\x7f\uf0b7\uf0a7▪●◦■‣⁃·])\s*|([–—*-]|\d{1,3}[.)]|o)\s+)(?=\S)")
_PAGE_NO = re.compile(r"^\s*(?:(?:page|стр\.?|səh\.?)\s*)?\d{1,4}(?:\s*(?:/|of|из)\s*\d{1,4})?\s*$", re.I)


@dataclass(slots=True)
class _Line:
    text: str
    x: float
    y: float
    size: float
    uris: list[str] = field(default_factory=list)
    labels: list[str | None] = field(default_factory=list)  # parallel to uris
    # (x, text) of each piece drawn on the line: only to find a link's label (_attach), then dropped
    frags: list[tuple[float, str]] | None = field(default_factory=list)


def _lines(page) -> list[_Line]:
    frags: list[tuple[str, float, float, float]] = []

    def visit(text, cm, tm, _font, size):
        if not text:
            return
        x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        scale = abs(tm[3] * cm[3]) or 1.0
        frags.append((text, x, y, (size or 10.0) * scale))

    page.extract_text(visitor_text=visit)
    lines: list[_Line] = []
    cur, pos, pieces = "", None, []
    for text, x, y, size in frags:
        parts = text.split("\n")
        for i, part in enumerate(parts):
            if part.strip():
                pieces.append((x, part))
                if pos is None:
                    pos = (x, y, size)
            cur += part
            if i < len(parts) - 1:
                if cur.strip() and pos:
                    lines.append(_Line(cur.strip(), *pos, frags=pieces))
                cur, pos, pieces = "", None, []
    if cur.strip() and pos:
        lines.append(_Line(cur.strip(), *pos, frags=pieces))
    merged: list[_Line] = []
    for line in lines:  # separate text objects on one baseline (a bullet glyph, then the text)
        prev = merged[-1] if merged else None
        if prev and abs(prev.y - line.y) < 0.3 * max(prev.size, 1) and line.x >= prev.x:
            prev.text = f"{prev.text} {line.text}"
            prev.frags.extend(line.frags)
        else:
            merged.append(line)
    return [ln for ln in merged if not _PAGE_NO.match(ln.text)]


def _annotations(page) -> list[tuple[tuple[float, float, float, float], str]]:
    out = []
    for ref in page.get("/Annots") or []:
        try:
            annot = ref.get_object()
            if annot.get("/Subtype") != "/Link":
                continue
            action = annot.get("/A")
            action = action.get_object() if action is not None else None
            uri = action.get("/URI") if action is not None else None
            if uri is None:
                continue
            uri = uri.decode("utf-8", "replace") if isinstance(uri, bytes) else str(uri)
            x1, y1, x2, y2 = (float(v) for v in annot["/Rect"])
            out.append(((min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)), uri.strip()))
        except Exception:  # a damaged annotation is not worth losing the report for
            continue
    return out


def _attach(lines: list[_Line], annots) -> None:
    for (x1, y1, x2, y2), uri in annots:
        best, dist = None, None
        for line in lines:
            if y1 - 2 <= line.y <= y2 + 1:
                d = abs(line.y - (y1 + y2) / 2)
                if dist is None or d < dist:
                    best, dist = line, d
        if best is not None and uri.lower().startswith(("http://", "https://")):
            best.uris.append(uri)
            best.labels.append(_covered(best, x1, x2))


def _covered(line: _Line, x1: float, x2: float) -> str | None:
    """The text drawn inside [x1, x2] when it was drawn as pieces of its own, else None.

    Without glyph widths a piece's end is estimated low (0.4 em per character):
    a piece that starts inside the rectangle but runs far beyond it is a longer
    string the rectangle covers only part of.
    """
    inside = [t for x, t in line.frags
              if x1 - 1 <= x < x2 - 1 and x + 0.4 * line.size * len(t.strip()) <= x2 + line.size]
    return links.label("".join(inside)) if inside else None


class _Blocks:
    def __init__(self, out: list[Block]) -> None:
        self.out = out
        self.kind, self.level, self.lines, self.uris, self.labels = None, 0, [], [], []

    def open(self, kind: str, level: int, line: _Line, text: str) -> None:
        self.close()
        self.kind, self.level, self.lines = kind, level, [text]
        self.uris, self.labels = list(line.uris), list(line.labels)

    def add(self, line: _Line, known: list[str]) -> None:
        if links.joins_url(self.lines[-1], line.text, known, heuristic=not _BULLET.match(line.text)):
            self.lines[-1] += line.text.strip()
        else:
            self.lines.append(line.text)
        self.uris.extend(line.uris)
        self.labels.extend(line.labels)

    def close(self) -> None:
        if self.kind is not None:
            keep = [i for i, u in enumerate(self.uris) if i == 0 or u != self.uris[i - 1]]  # a URL wrapped over lines
            uris = [self.uris[i] for i in keep]
            self.out.append(Block(self.kind, links.join_lines(self.lines, uris), tuple(uris), self.level,
                                  tuple(self.labels[i] for i in keep)))
        self.kind, self.lines, self.uris, self.labels = None, [], [], []

    def brk(self) -> None:
        self.close()
        if self.out and self.out[-1].kind != "break":
            self.out.append(Block("break", ""))


def _count_pages(reader, limit: int, label: str) -> None:
    """Refuse a PDF with more than ``limit`` pages before pypdf builds an object for each.

    The declared ``/Count`` is checked first (a 200 k-page file is refused at once); it may lie,
    so the page tree is then walked, counting every leaf reference and stopping past the limit.
    Page-tree nodes are visited once each: a tree that refers back to itself is not a loop here.
    """
    from pypdf.generic import IndirectObject

    pages = reader.trailer["/Root"].get_object()["/Pages"].get_object()
    declared = pages.get("/Count")
    if isinstance(declared, int) and declared > limit:
        raise InputError(f"{label}: {declared} pages, more than ingest.max_pdf_pages ({limit})")
    count, stack, seen = 0, [pages], set()
    while stack:
        kids = stack.pop().get("/Kids")
        for ref in kids.get_object() if kids is not None else ():
            key = ref.idnum if isinstance(ref, IndirectObject) else None
            node = ref.get_object()
            if not hasattr(node, "get"):
                continue
            if node.get("/Kids") is not None and node.get("/Type") != "/Page":
                if key not in seen or key is None:
                    seen.add(key)
                    stack.append(node)
                continue
            count += 1
            if count > limit:
                raise InputError(f"{label}: more than ingest.max_pdf_pages ({limit}) pages")


def _page(page) -> tuple[list[_Line], list[str]]:
    """A page's lines with their links attached, and the URIs of its link annotations. The pieces each
    line was drawn in are dropped once the links' labels are read from them: a 1,000-page report's
    pieces held to the end were half the ingest's peak memory."""
    lines, annots = _lines(page), _annotations(page)
    _attach(lines, annots)
    for line in lines:
        line.frags = None
    return lines, [u for _, u in annots]


PARALLEL_PAGES = 100  # a PDF with this many pages or more is read by one process per core ("auto")
_CHUNK = 25  # pages a helper reads per task: small enough to share the pages evenly
_PRELOAD = ["archiver.ingest.pdf", "pypdf"]
_reader = None  # in a helper process: the PDF it reads pages of (inherited when forked)


def _read_pages(reader, data: bytes, processes: int) -> list[tuple[list[_Line], list[str]]]:
    """Every page's lines and link URIs, in page order. pypdf's text extraction is nine tenths of
    reading a big PDF and one page does not need another: with ``processes`` other than 1 (0: one
    per core, from PARALLEL_PAGES pages) the pages are shared among helper processes, a few at a time.
    The same lines come back as from one process."""
    import os

    n = len(reader.pages)
    workers = page_processes(n, processes, os.cpu_count() or 1)
    if workers <= 1:
        return [_page(p) for p in reader.pages]
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    from ..processes import start_context

    global _reader
    ctx = start_context(_PRELOAD)
    forked = ctx.get_start_method() == "fork"
    _reader = reader if forked else None  # a forked helper has it already, parsed and checked
    if forked:  # helpers never scan (nor copy, by touching them) the objects they inherit
        gc.freeze()  # (this process's objects, moved back by unfreeze below)
    try:
        with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_helper_start,
                                 initargs=(None if forked else data,)) as pool:
            chunks = pool.map(_helper_pages, range(0, n, _CHUNK))
            return [page for chunk in chunks for page in chunk]
    except (BrokenProcessPool, OSError) as exc:
        # helpers could not start (no semaphores in a container, a process limit) or one was killed
        # (out of memory): the report is still read, in this process
        _log.warning("reading the PDF's pages in this process: the page readers failed (%s: %s)",
                     type(exc).__name__, exc)
    finally:
        _reader = None
        if forked:
            gc.unfreeze()
    return [_page(p) for p in reader.pages]


def page_processes(pages: int, processes: int, cores: int) -> int:
    """How many processes read a PDF of ``pages`` pages (``processes`` 0: auto). Pure."""
    workers = processes or (cores if pages >= PARALLEL_PAGES else 1)
    return max(1, min(workers, -(-pages // _CHUNK)))


def _helper_start(data: bytes | None) -> None:
    global _reader
    if data is not None:
        from pypdf import PdfReader

        _reader = PdfReader(io.BytesIO(data), strict=False)
        if _reader.is_encrypted:
            _reader.decrypt("")
    warnings.simplefilter("ignore")


def _helper_pages(start: int) -> list[tuple[list[_Line], list[str]]]:
    pages = _reader.pages
    return [_page(pages[i]) for i in range(start, min(start + _CHUNK, len(pages)))]


def _open_reader(data: bytes, label: str, max_pages: int = UNLIMITED.max_pdf_pages):
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, LimitReachedError, PdfReadError, PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                if not reader.decrypt(""):
                    raise InputError(f"{label}: encrypted PDF (a password is needed to open it)")
            except (FileNotDecryptedError, NotImplementedError) as exc:
                raise InputError(f"{label}: encrypted PDF ({exc})") from exc
        _count_pages(reader, max_pages, label)
        _ = len(reader.pages)
        return reader
    except InputError:
        raise
    except LimitReachedError as exc:  # pypdf's own bounds on hostile files
        raise InputError(f"{label}: PDF over a resource limit ({str(exc).splitlines()[0]})") from exc
    except (PdfReadError, PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError) as exc:
        raise InputError(f"{label}: corrupt PDF ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from exc


def read(data: bytes, name: str = "", limits: Limits = UNLIMITED) -> list[Block]:
    label = name or "report"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reader = _open_reader(data, label, limits.max_pdf_pages)
        try:
            pages = _read_pages(reader, data, limits.pdf_processes)
        except InputError:
            raise
        except Exception as exc:  # pypdf raises many types on damaged content streams
            raise InputError(f"{label}: corrupt PDF ({type(exc).__name__}: {str(exc)[:80]})") from exc
    sizes = [ln.size for lines, _ in pages for ln in lines]
    body = statistics.median(sizes) if sizes else 10.0
    b = _Blocks(BlockList(limits, label))
    page_end = False
    for n, (lines, _) in enumerate(pages):
        # a URL may wrap onto the next page: the annotations of both sides are known
        known = [u for k in (n - 1, n, n + 1) if 0 <= k < len(pages) for u in pages[k][1]]
        if not lines:
            continue
        left = min(ln.x for ln in lines)
        pitches = [a.y - c.y for a, c in zip(lines, lines[1:]) if 0 < a.y - c.y < 3 * body]
        pitch = statistics.median(pitches) if pitches else body * 1.2
        prev: _Line | None = None
        for line in lines:
            m = _BULLET.match(line.text)
            if b.lines and b.kind != "heading" and links.joins_url(b.lines[-1], line.text, known, heuristic=not m):
                b.add(line, known)  # the rest of a wrapped URL, even across a page end
                prev, page_end = line, False
                continue
            if page_end or (prev is not None and (prev.y - line.y > pitch * 1.45 or line.y > prev.y + 1)):
                b.brk()
            page_end = False
            if line.size > body * 1.15 and len(line.text.split()) < 20:
                b.open("heading", 0, line, line.text)
            elif m:
                level = 0 if line.x - left < 15 else 1 + int((line.x - left - 15) // 18)
                b.open("bullet", level, line, line.text[m.end():])
            elif b.kind in (None, "heading") or links.is_link_only(line.text) or links.is_link_only(b.lines[-1]):
                b.open("para", 0, line, line.text)
            else:
                b.add(line, known)
            prev = line
        page_end = True
    b.close()
    return b.out
