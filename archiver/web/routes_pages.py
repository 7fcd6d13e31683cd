"""Server-rendered pages: they work without JavaScript (forms, links, meta refresh)."""
from __future__ import annotations

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from ..errors import InputError, NotFound
from . import auth, data
from .access import SESSION_MAX_AGE_S
from .params import Id, Page, pager
from .jobs import ingest_upload, read_upload, save_upload
from .routes_api import _plain, _session

router = APIRouter(include_in_schema=False)


def _page(request: Request, name: str, **ctx):
    from .app import replay_origin

    ctx.setdefault("role", auth.current_role(request))
    ctx.setdefault("auth_on", bool(request.app.state.settings.web.tokens))
    ctx["replay_origin"] = replay_origin(request)
    return request.app.state.templates.TemplateResponse(request, name, ctx, status_code=ctx.pop("status", 200))


@router.get("/")
def reports(request: Request, pg: Page = Depends(pager(50)), s=Depends(_session)):
    return _page(request, "reports.html", reports=data.list_reports(s, pg), runs=data.recent_runs(s, 5),
                 job=request.app.state.jobs.running(), pg=pg)


@router.get("/reports/{report_id}")
def report(request: Request, report_id: Id, pg: Page = Depends(pager(50)), s=Depends(_session)):
    return _page(request, "report.html", report=data.get_report(s, report_id),
                 activities=data.list_activities(s, report_id, pg), pg=pg, links_shown=data.LINKS_SHOWN)


def _primary(link: dict) -> dict | None:
    """The snapshot to show: the capture queries.choose_capture picked (as `archiver get` serves it)."""
    return next((c for c in link["captures"] if c["id"] == link["chosen_capture_id"]), None)


def _replayable(request: Request, captures: list[dict]) -> list[dict]:
    from .app import replay_base

    return [data.with_replay(c, replay_base(request)) for c in captures]


@router.get("/activities/{activity_id}")
def activity(request: Request, activity_id: Id, pg: Page = Depends(pager(20, most=100)), s=Depends(_session)):
    act = data.get_activity(s, activity_id, pg)
    for link in act["links"]:
        link["captures"] = _replayable(request, link["captures"])
        link["primary"] = _primary(link)
        # a revisit has no text of its own: show the latest extraction (the revisited record's, unchanged)
        with_text = [c for c in link["captures"] if c.get("extraction") and c["extraction"]["text"]]
        link["text_capture"] = with_text[-1] if with_text else None
    return _page(request, "activity.html", activity=act, pg=pg)


@router.get("/captures/{capture_id}")
def capture(request: Request, capture_id: Id, s=Depends(_session)):
    return _page(request, "capture.html", capture=_replayable(request, [data.get_capture(s, capture_id)])[0])


@router.get("/timeline")
def timeline(request: Request, url: str = Query(..., min_length=1), pg: Page = Depends(pager(100)),
             s=Depends(_session)):
    return _page(request, "timeline.html", url=url, captures=data.timeline(s, url, pg), pg=pg)


@router.get("/search")
def search(request: Request, q: str = "", s=Depends(_session)):
    hits, error = [], None
    if q.strip():
        from ..db.search import full_text_search

        try:
            hits = full_text_search(s, q, 50)
        except InputError as exc:
            error = str(exc)
    return _page(request, "search.html", q=q, hits=hits, error=error)


@router.get("/health")
def health(request: Request, pg: Page = Depends(pager(100)), changed: Page = Depends(pager(100, "changed_page")),
           reports: Page = Depends(pager(50, "reports_page")), s=Depends(_session)):
    return _page(request, "health.html", health=data.health_view(s, pg, changed, reports), pg=pg,
                 changed_pg=changed, reports_pg=reports)


@router.get("/upload")
def upload_form(request: Request):
    return _page(request, "upload.html", result=None, error=None)


@router.post("/upload")
async def upload(request: Request, file: UploadFile = File(...)):
    auth.require_editor(request)
    settings = request.app.state.settings
    try:
        data_ = await read_upload(file)  # the ingest runs in a worker thread: the server stays responsive
        path = await run_in_threadpool(save_upload, settings.storage.root, file.filename or "report", data_)
        result = _plain(await run_in_threadpool(ingest_upload, settings, request.app.state.Session, path))
    except InputError as exc:
        return _page(request, "upload.html", result=None, error=str(exc), status=400)
    return _page(request, "upload.html", result=result, stored_as=path.name, error=None)


@router.post("/runs")
def start_run(request: Request):
    auth.require_editor(request)
    job = request.app.state.jobs.start_run()
    return RedirectResponse(f"/runs/{job.id}", status_code=303)


@router.get("/runs/{job_id}")
def run_page(request: Request, job_id: str):
    job = request.app.state.jobs.get(job_id)
    if job is None:
        raise NotFound(f"no run {job_id}")
    return _page(request, "run.html", job=job.as_dict())


@router.get("/login")
def login_form(request: Request):
    return _page(request, "login.html", error=None)


@router.post("/login")
def login(request: Request, token: str = Form(...)):
    """A wrong token counts against the client's address (web/throttle.py); a right one gets a signed
    session in the cookie (web/auth.py), never the token itself."""
    state = request.app.state
    role, wait = state.failures.check(auth.client_address(request), lambda: state.access.role_for(token))
    if wait:
        return state.too_many(request, wait)
    if role is None:
        return _page(request, "login.html", error="unknown token", status=401)
    resp = RedirectResponse("/", status_code=303)
    resp.set_cookie(auth.cookie_name(request), state.access.session(role), max_age=SESSION_MAX_AGE_S,
                    httponly=True, samesite="strict", secure=auth.cookie_secure(request), path="/")
    return resp


@router.post("/logout")
def logout(request: Request):
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(auth.cookie_name(request), path="/", secure=auth.cookie_secure(request),
                       httponly=True, samesite="strict")
    return resp
