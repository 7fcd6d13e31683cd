"""Build test reports in every format (used by tests/test_ingest_*.py and bench/ingest.py).

PDFs are drawn with reportlab with real link annotations (``linkURL``), DOCX
files with python-docx with real hyperlink relationships, so the readers meet
what Word and PDF producers write.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field


@dataclass
class Item:
    text: str
    urls: list[str] = field(default_factory=list)  # printed on lines after the text, as the sample does
    split_url: bool = False  # print the first URL broken across two lines


def make_pdf(title: str, intro: str, items: list[Item], page_break_inside: int | None = None,
             encrypt: str | None = None, link_text: str | None = None) -> bytes:
    """A bulleted report; ``page_break_inside``: that item's text is cut mid-sentence by a page break.

    ``link_text``: show this label (drawn as a string of its own, as Word's PDF export
    draws a hyperlink's run) under the link annotation instead of the URL.
    """
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import simpleSplit
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, encrypt=encrypt)
    width, height = A4
    left, size, lead = 56, 10, 13
    y = height - 60
    font = "Helvetica"

    def newline(n: float = 1.0):
        nonlocal y
        y -= lead * n
        if y < 60:
            c.showPage()
            y = height - 60

    def para(text: str, x: float, maxw: float, first_prefix: str = ""):
        lines = simpleSplit(text, font, size, maxw)
        for i, line in enumerate(lines):
            c.setFont(font, size)
            if i == 0 and first_prefix:
                c.drawString(x - 12, y, first_prefix)
            c.drawString(x, y, line)
            newline()

    def link_line(url: str, x: float, split: bool):
        c.setFont(font, size)
        if link_text:
            c.drawString(x, y, "- ")
            off = c.stringWidth("- ", font, size)
            c.drawString(x + off, y, link_text)
            w = c.stringWidth(link_text, font, size)
            c.linkURL(url, (x + off, y - 2, x + off + w, y + size), relative=0, thickness=0)
            newline()
            return
        if split:
            cut = len(url) - 3
            parts = [url[:cut], url[cut:]]
        else:
            parts = [url]
        for i, part in enumerate(parts):
            shown = part if len(parts) == 1 else part
            c.drawString(x, y, ("- " if i == 0 else "") + shown)
            off = c.stringWidth("- " if i == 0 else "", font, size)
            w = c.stringWidth(shown, font, size)
            c.linkURL(url, (x + off, y - 2, x + off + w, y + size), relative=0, thickness=0)
            newline()

    c.setFont("Helvetica-Bold", 13)
    c.drawString(left, y, title)
    newline(2)
    para(intro, left, width - 2 * left)
    newline(0.8)
    for n, item in enumerate(items, start=1):
        maxw = width - 2 * left - 14
        if page_break_inside == n:
            words = item.text.split()
            half = len(words) // 2
            para(" ".join(words[:half]), left + 14, maxw, "•")
            c.showPage()
            y = height - 60
            para(" ".join(words[half:]), left + 14, maxw)
        else:
            para(item.text, left + 14, maxw, "•")
        for k, url in enumerate(item.urls):
            link_line(url, left + 24, item.split_url and k == 0)
        newline(0.6)
    c.save()
    return buf.getvalue()


def add_hyperlink(paragraph, url: str, text: str):
    """python-docx has no public API to add a hyperlink: write the relationship and w:hyperlink."""
    from docx.opc.constants import RELATIONSHIP_TYPE as RT
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    r_id = paragraph.part.relate_to(url, RT.HYPERLINK, is_external=True)
    link = OxmlElement("w:hyperlink")
    link.set(qn("r:id"), r_id)
    run = OxmlElement("w:r")
    t = OxmlElement("w:t")
    t.text = text
    t.set(qn("xml:space"), "preserve")
    run.append(t)
    link.append(run)
    paragraph._p.append(link)
    return link


def make_docx(title: str, intro: str, items: list[Item], link_text: str | None = None,
              page_break_inside: int | None = None) -> bytes:
    """A bulleted report: ``List Bullet`` items, links as hyperlinks on ``List Bullet 2`` lines.

    ``link_text``: show this text instead of the URL (the URL is only in the relationship).
    """
    import docx
    from docx.enum.text import WD_BREAK

    d = docx.Document()
    d.add_heading(title, level=1)
    d.add_paragraph("Contacts: office@example.org tel: (+99412) 4925726")
    d.add_paragraph(intro)
    for n, item in enumerate(items, start=1):
        p = d.add_paragraph(style="List Bullet")
        if page_break_inside == n:
            words = item.text.split()
            half = len(words) // 2
            p.add_run(" ".join(words[:half]))
            p.add_run().add_break(WD_BREAK.PAGE)
            p.add_run(" ".join(words[half:]))
        else:
            p.add_run(item.text)
        for url in item.urls:
            sub = d.add_paragraph(style="List Bullet 2")
            add_hyperlink(sub, url, link_text or url)
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def make_docx_table(title: str, intro: str, header: list[str], rows: list[list[str | tuple[str, str]]]) -> bytes:
    """A report that tabulates its activities: ``header`` then ``rows``; a cell given as
    ``(label, url)`` is a hyperlink showing ``label``."""
    import docx

    d = docx.Document()
    d.add_heading(title, level=1)
    d.add_paragraph(intro)
    table = d.add_table(rows=1 + len(rows), cols=len(header))
    for cell, text in zip(table.rows[0].cells, header):
        cell.text = text
    for row, values in zip(table.rows[1:], rows):
        for cell, value in zip(row.cells, values):
            if isinstance(value, tuple):
                add_hyperlink(cell.paragraphs[0], value[1], value[0])
            else:
                cell.text = value
    d.add_paragraph("Prepared by the secretariat of the Platform")
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def make_html(title: str, intro: str, items: list[Item], link_text: str | None = None,
              sub_bullets: bool = False) -> str:
    """A bulleted HTML report: each item a ``<li>``, its links anchors after the text showing
    ``link_text`` (or the URL); with ``sub_bullets`` each anchor is alone in a nested ``<li>``."""
    from html import escape

    lis = []
    for item in items:
        anchors = [f'<a href="{escape(u)}">{escape(link_text or u)}</a>' for u in item.urls]
        if sub_bullets:
            nested = "".join(f"<li>{a}</li>" for a in anchors)
            lis.append(f"<li>{escape(item.text)}" + (f"<ul>{nested}</ul>" if nested else "") + "</li>")
        else:
            lis.append(f"<li>{escape(item.text)} {' '.join(anchors)}</li>")
    return (f"<!DOCTYPE html><html><head><title>{escape(title)}</title></head><body>"
            f"<h1>{escape(title)}</h1><p>{escape(intro)}</p><ul>{''.join(lis)}</ul></body></html>")


def make_html_table(title: str, intro: str, header: list[str], rows: list[list[str | tuple[str, str]]]) -> str:
    """An HTML report that tabulates its activities, like ``make_docx_table``: a ``<thead>``
    row of ``<th>`` then ``rows``; a cell given as ``(label, url)`` is an anchor showing ``label``."""
    from html import escape

    def cell(value: str | tuple[str, str]) -> str:
        if isinstance(value, tuple):
            return f'<td><a href="{escape(value[1])}">{escape(value[0])}</a></td>'
        return f"<td>{escape(value)}</td>"

    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(f"<tr>{''.join(cell(v) for v in row)}</tr>" for row in rows)
    return (f"<!DOCTYPE html><html><head><title>{escape(title)}</title></head><body>"
            f"<h1>{escape(title)}</h1><p>{escape(intro)}</p>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
            f"<p>Prepared by the secretariat of the Platform</p></body></html>")


def make_md(title: str, intro: str, items: list[Item], link_text: str | None = None,
            sub_bullets: bool = False) -> str:
    """A bulleted Markdown report: links as ``[link_text](url)`` (or ``<url>``) after each item's
    text, or each on a sub-bullet of its own (``  - [link_text](url)``) with ``sub_bullets``."""
    lines = [f"# {title}", "", intro, ""]
    for item in items:
        cites = [f"[{link_text}]({u})" if link_text else f"<{u}>" for u in item.urls]
        if sub_bullets:
            lines.append(f"- {item.text}")
            lines.extend(f"  - {c}" for c in cites)
        else:
            lines.append(f"- {item.text} {' '.join(cites)}".rstrip())
    return "\n".join(lines) + "\n"


def make_txt(title: str, intro: str, items: list[Item], link_text: str | None = None) -> str:
    """A plain-text report in the sample's shape: ``- text`` bullets, each link on a sub-bullet
    of its own, as ``link_text: URL`` (a plain-text label) or ``<URL>``."""
    lines = [title, "", intro, ""]
    for item in items:
        lines.append(f"- {item.text}")
        lines.extend(f"  - {link_text}: {u}" if link_text else f"  - <{u}>" for u in item.urls)
    return "\n".join(lines) + "\n"
