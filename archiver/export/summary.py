"""The readable evidence summary inside a package: summary.json for tools, summary.html for people.

It says, for each activity, what the report wrote (text and date), each link exactly as
written, how it resolved hop by hop, what was captured when, from where (live or which
archive, with the memento), and the digests that tie each statement to a WARC record in
``archive/data.warc.gz`` (offset and length in the package, and where it came from).
For a short link an archive resolved it gives both answers (the archive's and the
shortener's, when it answered later) and whether they agree; for each link, which capture
is the evidence and why (``chosen``: the rule ``archiver get`` and the web UI use).

The summary of a report with tens of thousands of links is tens of megabytes: :func:`build`
gives its activities and records as generators, and :func:`write_json` / :func:`write_html`
write it into the package as they go (issue 10: the whole document, and every capture's
extracted text, held at once took a 20 000-link export to 918 MB). Only the titles of the
extractions are read (export/evidence.py).
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any, Callable

import jinja2

from .. import jsonstream
from ..db.base import iso_utc
from ..db.queries import answers, chain_hops, choose_capture
from sqlalchemy.orm import Session

from ..db.tables import Hop
from .evidence import Selection, iter_activities


def _t(v):
    if isinstance(v, datetime):
        return iso_utc(v)
    if isinstance(v, date):
        return v.isoformat()
    return v


def build(session: Session, selection: Selection, placed: dict[int, tuple[int, int]], created: str,
          software: str) -> dict:
    """Plain data (JSON-ready) but for ``activities`` and ``records``: generators, made as they are read
    (build again to read them twice). ``placed``: capture id -> (offset, length) in archive/data.warc.gz."""
    r = selection.report
    by_target: dict[int, list[Any]] = {}
    for c in selection.captures:
        if c.target_id is not None:
            by_target.setdefault(c.target_id, []).append(c)
    return {
        "format": "archiver-evidence-summary-1",
        "title": selection.title, "created": created, "software": software,
        "scope": {"kind": selection.kind, "id": selection.id},
        "report": {"id": r.id, "title": r.title, "source": r.source, "format": r.format, "sha256": r.sha256,
                   "ingested_at": _t(r.ingested_at)},
        "activities": (_activity(a, by_target, placed) for a in iter_activities(session, selection)),
        "records": (_capture(c, placed) for c in selection.captures),
    }


def _activity(a, by_target, placed) -> dict:
    return {
        "id": a.id, "ordinal": a.ordinal, "text": a.text,
        "date": {"text": a.date_text, "start": _t(a.date_start), "end": _t(a.date_end),
                 "precision": a.date_precision, "inferred": a.date_inferred},
        "links": [_link(link, by_target, placed) for link in a.links],
    }


def _link(link, by_target, placed) -> dict:
    t = link.target
    captures = [c for c in by_target.get(t.id, []) if c.role == "target"]
    chosen, because = choose_capture(captures)
    both = answers(t)
    return {
        "position": link.position, "url_raw": link.url_raw, "text_raw": link.text_raw,
        "url_normalized": link.url_normalized,
        "target": {"id": t.id, "url": t.url, "is_short": t.is_short, "status": t.status,
                   "status_reason": t.status_reason, "final_url": t.final_url,
                   "resolution_method": t.resolution_method, "resolution_source": t.resolution_source,
                   "memento_url": t.memento_url, "memento_datetime": _t(t.memento_datetime),
                   "archived_target": both["archived_target"], "live_target": both["live_target"],
                   "answers_agree": both["answers_agree"], "answers": both["answers"],
                   "live_note": both["live_note"], "live_retry_at": both["live_retry_at"]},
        "redirect_chain": [_hop(h) for h in chain_hops(t)],
        "captures": [_capture(c, placed) for c in by_target.get(t.id, [])],
        "chosen": {"capture_id": chosen.id if chosen is not None else None, "because": because},
    }


def _hop(h: Hop) -> dict:
    return {"stage": h.stage, "attempt": h.attempt, "seq": h.seq, "url": h.url, "status_code": h.status_code,
            "location": h.location, "kind": h.kind, "fetched_at": _t(h.fetched_at), "capture_id": h.capture_id,
            "note": h.note}


def _capture(c, placed) -> dict:
    offset, length = placed.get(c.id, (None, None))
    return {
        "id": c.id, "role": c.role, "url": c.url, "parent_id": c.parent_id,
        "captured_at": _t(c.captured_at), "fetched_at": _t(c.fetched_at),
        "http_status": c.http_status, "content_type": c.content_type,
        "title": c.title,
        "source": c.source, "archive_name": c.archive_name, "memento_url": c.memento_url,
        "memento_datetime": _t(c.memento_datetime), "ip_address": c.ip_address,
        "truncated": c.truncated, "is_revisit": c.is_revisit, "revisit_of": c.revisit_of_id,
        "not_evidence": c.not_evidence, "not_evidence_reason": c.not_evidence_reason,
        "sha256": c.sha256, "payload_digest": c.payload_digest, "block_digest": c.block_digest,
        "payload_length": c.payload_length, "record_id": c.record_id,
        "package": {"file": "archive/data.warc.gz", "offset": offset, "length": length},
        "stored": {"warc_file": c.warc_file, "offset": c.offset, "length": c.length},
    }


# No scripts, no external resources, nothing clickable that came from a capture:
# every value is escaped text, URLs included (a cited URL may be javascript: or worse).
_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="referrer" content="no-referrer">
<title>{{ s.title }}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:70em;padding:0 1em;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;border-bottom:1px solid #ccc;margin-top:2em}h3{font-size:1.05em}
table{border-collapse:collapse;width:100%;margin:.5em 0 1em}td,th{border:1px solid #ddd;padding:3px 6px;
text-align:left;vertical-align:top}th{background:#f4f4f4}code,.u{font-family:monospace;word-break:break-all}
.quote{white-space:pre-wrap;background:#fafafa;border-left:3px solid #bbb;padding:.5em 1em}
.meta{color:#555}.bad{color:#a00}.good{color:#1e7b3a}
</style></head><body>
<h1>{{ s.title }}</h1>
<p class="meta">Report: {{ s.report.title or s.report.source }} (sha256 <code>{{ s.report.sha256 }}</code>,
{{ s.report.format }}). Package created {{ s.created }} by {{ s.software }}.
All records are in <code>archive/data.warc.gz</code>; offsets below are in that file.</p>
{% for a in s.activities %}
<h2>Activity {{ a.ordinal }}{% if a.date.text %}: {{ a.date.text }}{% endif %}</h2>
<p class="meta">Date: {{ a.date.start or "unknown" }}{% if a.date.end and a.date.end != a.date.start %} to {{ a.date.end }}{% endif %}
{% if a.date.precision %} (precision: {{ a.date.precision }}){% endif %}{% if a.date.inferred %} (year inferred from the report){% endif %}</p>
<div class="quote">{{ a.text }}</div>
{% for l in a.links %}
<h3>Link {{ loop.index }} as written: <span class="u">{{ l.url_raw }}</span></h3>
{% if l.text_raw and l.text_raw != l.url_raw %}<p class="meta">In the text: <span class="u">{{ l.text_raw }}</span></p>{% endif %}
<p>Status: <b>{{ l.target.status }}</b>{% if l.target.status_reason %} ({{ l.target.status_reason }}){% endif %}.
Final URL: <span class="u">{{ l.target.final_url or "none" }}</span>.
Resolved: {{ l.target.resolution_method or "not yet" }}{% if l.target.resolution_source %} via {{ l.target.resolution_source }}{% endif %}
{% if l.target.memento_url %} (memento <span class="u">{{ l.target.memento_url }}</span> of {{ l.target.memento_datetime }}){% endif %}.</p>
{% if l.target.archived_target or l.target.live_note %}<p>Archive said: <span class="u">{{ l.target.archived_target or "nothing" }}</span>.
Shortener said: <span class="u">{{ l.target.live_target or "no answer yet" }}</span>.
{% if l.target.answers == "agree" %}<span class="good">The answers agree.</span>{% elif l.target.answers == "disagree" %}<b class="bad">The answers disagree.</b>{% endif %}
{% if l.target.live_note %}({{ l.target.live_note }}){% endif %}</p>{% endif %}
{% if l.redirect_chain %}<table><tr><th>hop</th><th>URL</th><th>status</th><th>location</th><th>kind</th><th>fetched</th></tr>
{% for h in l.redirect_chain %}<tr><td>{{ h.stage }} {{ h.attempt }}.{{ h.seq }}</td><td class="u">{{ h.url }}</td><td>{{ h.status_code if h.status_code is not none else "" }}</td>
<td class="u">{{ h.location or "" }}</td><td>{{ h.kind }}{% if h.note %}<br><span class="meta">{{ h.note }}</span>{% endif %}</td><td>{{ h.fetched_at }}</td></tr>{% endfor %}</table>{% endif %}
{% if l.captures %}<table><tr><th>capture</th><th>URL</th><th>captured</th><th>source</th><th>HTTP</th><th>sha256 of payload</th><th>record</th></tr>
{% for c in l.captures %}<tr><td>{{ c.id }} {{ c.role }}{% if c.id == l.chosen.capture_id %}<br><b>the evidence</b>{% endif %}{% if c.is_revisit %} (revisit of {{ c.revisit_of }}){% endif %}
{% if c.not_evidence %}<br><span class="bad">not evidence: {{ c.not_evidence_reason }}</span>{% endif %}</td>
<td class="u">{{ c.url }}{% if c.title %}<br><i>{{ c.title }}</i>{% endif %}</td><td>{{ c.captured_at }}</td>
<td>{{ c.source }}{% if c.archive_name %}: {{ c.archive_name }}{% endif %}{% if c.memento_url %}<br><span class="u">{{ c.memento_url }}</span>{% endif %}</td>
<td>{{ c.http_status if c.http_status is not none else "" }} {{ c.content_type or "" }}{% if c.truncated %} <span class="bad">truncated</span>{% endif %}</td>
<td><code>{{ c.sha256 or "" }}</code></td><td><code>{{ c.record_id }}</code><br>offset {{ c.package.offset }}, {{ c.package.length }} bytes</td></tr>{% endfor %}</table>
<p>Evidence: {{ l.chosen.because }}.</p>
{% else %}<p class="bad">No capture of this link is in the package.</p>{% endif %}
{% endfor %}{% endfor %}
</body></html>
"""

_env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
_template = _env.from_string(_HTML)


def render_html(summary: dict) -> str:
    return _template.render(s=summary)


def write_json(summary: dict, write: Callable[[str], Any]) -> None:
    """summary.json through ``write``, a piece at a time: each activity and record compact on a line of its own
    (json's C encoder: an indented document of a large report took most of the export's time)."""
    jsonstream.write(summary, write)


def write_html(summary: dict, write: Callable[[str], Any]) -> None:
    """summary.html through ``write``, rendered a piece at a time (jinja2's ``generate``)."""
    out = jsonstream.Buffered(write)
    for piece in _template.generate(s=summary):
        out.write(piece)
    out.flush()
