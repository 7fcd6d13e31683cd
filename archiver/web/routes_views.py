"""The browser's pictures of a page (screenshot, thumbnail), and a report's dossier, on the interface's origin.

These are PNGs our own Chromium made (capture/browser.py), not archived bytes: they are
served here, as ``image/png`` with ``nosniff`` under the interface's CSP (``img-src 'self'``),
so the evidence page can show them first. Everything archived, the rendered DOM included
(the page's own markup and scripts), is reached only through the replay origin.
"""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from ..capture.read import open_payload
from ..db.tables import Capture
from ..errors import NotFound
from ..store import open_store
from .params import Id
from .routes_api import _session

router = APIRouter(include_in_schema=False)
PICTURES = ("screenshot", "thumbnail")


@router.get("/captures/{capture_id}/picture.png")
def picture(request: Request, capture_id: Id, s=Depends(_session)):
    cap = s.get(Capture, capture_id)
    if cap is None or cap.role not in PICTURES or cap.content_type != "image/png":
        raise NotFound(f"capture {capture_id} is not a screenshot")
    _headers, stream = open_payload(open_store(request.app.state.settings.storage), cap.warc_file, cap.offset)

    def body():
        with stream:
            yield from stream

    return StreamingResponse(body(), media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})


# the dossier is standalone: its screenshots are data: PNGs, its style inline, no script at all
DOSSIER_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'none'"


@router.get("/reports/{report_id}/dossier.html")
async def dossier(request: Request, report_id: Id):
    """The report's evidence dossier as HTML (the CLI prints it to PDF: no browser runs in the server)."""
    from ..export.dossier import build, render_html

    def make() -> str:
        with request.app.state.Session() as s:
            return render_html(build(s, open_store(request.app.state.settings.storage), report_id))

    html = await run_in_threadpool(make)
    return HTMLResponse(html, headers={"Content-Security-Policy": DOSSIER_CSP})
