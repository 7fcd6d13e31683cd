"""The evidence dossier of a report: the document an auditor files (``archiver dossier``).

For each activity: its date and text; for each link, the link as written, the redirect chain,
its status, and the capture that is its evidence (the one ``archiver get`` serves): capture
time, source (live, or which archive with the memento's date), SHA-256, and the browser's
screenshot of it (the top of the page; the whole picture is in the WARC). Rendered as one
standalone HTML document (escaped, no scripts, screenshots embedded as ``data:`` PNGs) and,
for ``.pdf``, printed by the same Chromium that captures (``capture.chromium_path``).

The screenshots are embedded whole: a report of hundreds of pages makes a big document.
"""
from __future__ import annotations

import base64
from datetime import datetime, timezone

import jinja2
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..capture.read import open_payload
from ..db import queries
from ..db.tables import Capture, Report
from ..errors import NotFound

MAX_EMBEDDED_PNG = 8_000_000  # a bigger screenshot gives way to its thumbnail


def build(session: Session, storage_root, report_id: int) -> dict:
    """Plain data for the dossier (screenshots as base64 PNG)."""
    report = session.get(Report, report_id)
    if report is None:
        raise NotFound(f"report {report_id} not found")
    acts = queries.list_activities(session, report_id=report_id, full=True)
    for act in acts:
        for link in act["links"]:
            chosen = next((c for c in link["captures"] if c["id"] == link["chosen_capture_id"]), None)
            link["chosen"] = chosen
            link["screenshot"] = _picture(session, storage_root, chosen) if chosen else None
    return {"report": {"id": report.id, "title": report.title or report.source, "source": report.source,
                       "sha256": report.sha256},
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "activities": acts}


def _picture(session: Session, root, capture: dict) -> str | None:
    views = {v["role"]: v for v in capture.get("views", [])}
    for role in ("screenshot", "thumbnail"):
        v = views.get(role)
        if v is None or (v["payload_length"] or 0) > MAX_EMBEDDED_PNG:
            continue
        row = session.scalar(select(Capture).where(Capture.id == v["id"]))
        _headers, stream = open_payload(root, row.warc_file, row.offset)
        with stream:
            return base64.b64encode(stream.read()).decode("ascii")
    return None


_TEMPLATE = jinja2.Environment(autoescape=True).from_string("""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<title>Evidence dossier: {{ report.title }}</title>
<style>
body { font: 11pt/1.4 serif; margin: 1.5cm; color: #111; }
h1 { font-size: 18pt; } h2 { font-size: 13pt; margin-top: 1.2em; border-bottom: 1px solid #999; }
.activity { break-inside: auto; margin-bottom: 1.5em; }
.link { margin: .6em 0 1em 1em; break-inside: avoid; }
code, .url { font-family: monospace; font-size: 9pt; word-break: break-all; }
.shot { max-height: 16cm; overflow: hidden; border: 1px solid #999; margin-top: .4em; }
.shot img { width: 100%; display: block; }
dl { display: grid; grid-template-columns: 9em 1fr; gap: .1em .6em; margin: .3em 0; }
dt { font-weight: bold; } dd { margin: 0; }
ol.hops { margin: .2em 0; padding-left: 1.4em; }
</style></head><body>
<h1>Evidence dossier: {{ report.title }}</h1>
<p>Report {{ report.id }} ({{ report.source }}), SHA-256 <code>{{ report.sha256 or "-" }}</code>. Made {{ created }}
by archiver. Each capture is a WARC record; its SHA-256 is that of the payload as the server sent it.</p>
{% for a in activities %}
<section class="activity">
<h2>Activity {{ a.ordinal }}{% if a.date_text or a.date %}: {{ a.date_text or a.date }}{% endif %}</h2>
<p class="text">{{ a.text }}</p>
{% for l in a.links %}
<div class="link">
<dl>
<dt>Link as written</dt><dd class="url">{{ l.url }}</dd>
<dt>Status</dt><dd>{{ l.status }}{% if l.status_reason %}: {{ l.status_reason }}{% endif %}</dd>
{% if l.hops %}<dt>Redirect chain</dt><dd><ol class="hops">{% for h in l.hops %}
<li>{{ h.status_code or "-" }} <span class="url">{{ h.url }}</span>{% if h.location %} &rarr; <span class="url">{{ h.location }}</span>{% endif %}</li>{% endfor %}</ol></dd>{% endif %}
{% set c = l.chosen %}
{% if c %}
<dt>Captured</dt><dd>{{ c.timestamp }} (HTTP {{ c.http_status or "-" }})</dd>
<dt>Source</dt><dd>{% if c.source == "archive" %}{{ c.archive_name or "a web archive" }}{% if c.memento_datetime %}, memento of {{ c.memento_datetime }}{% endif %}{% if c.memento_url %} (<span class="url">{{ c.memento_url }}</span>){% endif %}{% else %}live{% endif %}</dd>
<dt>SHA-256</dt><dd><code>{{ c.sha256 or "-" }}</code></dd>
{% else %}<dt>Captured</dt><dd>nothing captured</dd>{% endif %}
</dl>
{% if l.screenshot %}<div class="shot"><img alt="Screenshot of {{ c.url }}" src="data:image/png;base64,{{ l.screenshot }}"></div>{% endif %}
</div>
{% else %}<p><em>This activity cites no links.</em></p>{% endfor %}
</section>
{% endfor %}
</body></html>""")


def render_html(doc: dict) -> str:
    return _TEMPLATE.render(**doc)


def print_pdf(html: str, settings) -> bytes:
    """The dossier printed to PDF by headless Chromium (no network: everything is in the document)."""
    from playwright.sync_api import sync_playwright

    from ..capture.browser import LAUNCH_ARGS, chromium_problem
    from ..errors import ConfigError

    problem = chromium_problem(settings.capture.chromium_path)
    if problem:
        raise ConfigError(f"a PDF dossier is printed by Chromium, but {problem}; write .html instead")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(settings.capture.chromium_path), args=LAUNCH_ARGS,
                                    handle_sigint=False, handle_sigterm=False, handle_sighup=False)
        try:
            ctx = browser.new_context(java_script_enabled=False, service_workers="block")
            ctx.route("**/*", lambda route: route.abort("blockedbyclient"))
            page = ctx.new_page()
            page.set_content(html, wait_until="load")
            return page.pdf(format="A4", print_background=True,
                            margin={"top": "1cm", "bottom": "1cm", "left": "1cm", "right": "1cm"})
        finally:
            browser.close()


__all__ = ["build", "render_html", "print_pdf"]
