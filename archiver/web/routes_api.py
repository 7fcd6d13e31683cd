"""JSON API: everything the pages show, under /api (OpenAPI at /openapi.json)."""
from __future__ import annotations

from fastapi import APIRouter, Depends, File, Query, Request, Response, UploadFile
from fastapi.encoders import jsonable_encoder
from starlette.concurrency import run_in_threadpool

from ..errors import NotFound
from . import data
from .auth import require_editor
from .jobs import ingest_upload, read_upload, save_upload
from .params import Id, Page, pager

router = APIRouter(prefix="/api", tags=["api"])


def _session(request: Request):
    with request.app.state.Session() as s:
        yield s


def _with_replay(request: Request, cap: dict) -> dict:
    from .app import replay_base

    return data.with_replay(cap, replay_base(request))


@router.get("/reports")
def reports(request: Request, response: Response, pg: Page = Depends(pager(100)), s=Depends(_session)):
    doc = data.list_reports(s, pg)
    pg.headers(request, response)
    return jsonable_encoder(doc)


@router.get("/reports/{report_id}")
def report(report_id: Id, s=Depends(_session)):
    return jsonable_encoder(data.get_report(s, report_id))


@router.get("/reports/{report_id}/activities")
def report_activities(request: Request, response: Response, report_id: Id, pg: Page = Depends(pager(100)),
                      s=Depends(_session)):
    doc = data.list_activities(s, report_id, pg)
    pg.headers(request, response)
    return jsonable_encoder(doc)


@router.get("/activities/{activity_id}")
def activity(request: Request, response: Response, activity_id: Id, pg: Page = Depends(pager(100)),
             s=Depends(_session)):
    doc = data.get_activity(s, activity_id, pg)
    for link in doc["links"]:
        link["captures"] = [_with_replay(request, c) for c in link["captures"]]
    pg.headers(request, response)
    return jsonable_encoder(doc)


@router.get("/captures/{capture_id}")
def capture(request: Request, capture_id: Id, s=Depends(_session)):
    return jsonable_encoder(_with_replay(request, data.get_capture(s, capture_id)))


@router.get("/timeline")
def timeline(request: Request, response: Response, url: str = Query(..., min_length=1),
             pg: Page = Depends(pager(100)), s=Depends(_session)):
    doc = [_with_replay(request, c) for c in data.timeline(s, url, pg)]
    pg.headers(request, response)
    return jsonable_encoder(doc)


@router.get("/search")
def search(q: str = Query(..., min_length=1), limit: int = Query(20, ge=1, le=200), s=Depends(_session)):
    from ..db.search import full_text_search

    return jsonable_encoder(full_text_search(s, q, limit))


@router.get("/health")
def health(offset: int = Query(0, ge=0), limit: int = Query(100, ge=1, le=1000), s=Depends(_session)):
    """The same document as ``archiver health --json [--offset N] [--limit N]``: each report's lists a window."""
    return jsonable_encoder(data.health(s, offset, limit))


@router.get("/runs")
def runs(request: Request, s=Depends(_session)):
    jobs = request.app.state.jobs
    return jsonable_encoder({"jobs": [j.as_dict() for j in jobs.all()], "runs": data.recent_runs(s)})


@router.post("/runs", status_code=202, dependencies=[Depends(require_editor)])
def start_run(request: Request):
    return jsonable_encoder(request.app.state.jobs.start_run().as_dict())


@router.get("/runs/{job_id}")
def run_status(request: Request, job_id: str):
    job = request.app.state.jobs.get(job_id)
    if job is None:
        raise NotFound(f"no run {job_id}")
    return jsonable_encoder(job.as_dict())


@router.post("/uploads", status_code=201, dependencies=[Depends(require_editor)])
async def upload(request: Request, file: UploadFile = File(...)):
    settings = request.app.state.settings
    data_ = await read_upload(file)  # the ingest runs in a worker thread: the server stays responsive
    path = await run_in_threadpool(save_upload, settings.storage.root, file.filename or "report", data_)
    result = await run_in_threadpool(ingest_upload, settings, request.app.state.Session, path)
    return jsonable_encoder({"stored_as": path.name, "result": _plain(result)})


def _plain(result):
    """Whatever the ingest stage returned, as JSON-able data (dataclasses and rows by their fields)."""
    if isinstance(result, (list, tuple)):
        return [_plain(r) for r in result]
    if hasattr(result, "__dataclass_fields__"):
        return {k: _plain(getattr(result, k)) for k in result.__dataclass_fields__}
    if hasattr(result, "__table__"):
        return {c.name: getattr(result, c.name) for c in result.__table__.columns}
    return result
