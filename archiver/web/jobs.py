"""Runs started from the interface: one background thread at a time, with a progress record.

The pipeline holds the database lock itself, so a run started here and one from
`archiver run` never overlap; this module only keeps one per server process and
remembers what each did for the progress page.
"""
from __future__ import annotations

import hashlib
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from ..config import Settings
from ..db.base import utcnow
from ..errors import InputError

MAX_UPLOAD_BYTES = 200_000_000
UPLOAD_SUFFIXES = (".pdf", ".docx", ".txt", ".md", ".html", ".htm")


@dataclass
class Job:
    id: str
    state: str = "running"  # running | ok | partial | failed | interrupted
    started_at: datetime = field(default_factory=utcnow)
    finished_at: datetime | None = None
    stage: str | None = None
    done: int = 0
    total: int = 0
    summary: dict | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("id", "state", "started_at", "finished_at", "stage", "done",
                                              "total", "summary", "error")}


class Jobs:
    def __init__(self, settings: Settings, session_factory, runner: Callable | None = None):
        self.settings = settings
        self.session_factory = session_factory
        self.runner = runner
        self.jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self.stop = threading.Event()

    def _run_fn(self) -> Callable:
        if self.runner is not None:
            return self.runner
        from ..pipeline import run

        return run

    def running(self) -> Job | None:
        return next((j for j in self.all() if j.state == "running"), None)

    def all(self) -> list[Job]:
        """A snapshot: the run thread of another request may add a job meanwhile."""
        return list(self.jobs.values())

    def start_run(self) -> Job:
        with self._lock:
            if self.running():
                raise InputError("a run is already in progress")
            job = Job(id=uuid.uuid4().hex[:12])
            self.jobs[job.id] = job
        threading.Thread(target=self._work, args=(job,), name=f"run-{job.id}", daemon=True).start()
        return job

    def _work(self, job: Job) -> None:
        from ..pipeline import summary_dict

        def progress(stage: str, done: int, total: int) -> None:
            job.stage, job.done, job.total = stage, done, total

        try:
            summary = self._run_fn()(self.settings, self.session_factory, progress=progress, stop=self.stop,
                                     kind="run")
            job.summary = summary_dict(summary)
            job.state = "ok" if summary.ok else "partial"
        except Exception as exc:  # shown on the progress page; the pipeline recorded it in `runs` too
            job.error = f"{type(exc).__name__}: {exc}"
            job.state = "failed"
        finally:
            job.finished_at = utcnow()

    def get(self, job_id: str) -> Job | None:
        return self.jobs.get(job_id)


def safe_name(name: str) -> str:
    base = Path(name.replace("\\", "/")).name
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("._") or "report"
    return base[:120]


async def read_upload(file) -> bytes:
    """The uploaded bytes, read no further than one byte past the limit (save_upload refuses those)."""
    return await file.read(MAX_UPLOAD_BYTES + 1)


def save_upload(storage_root: Path, name: str, data: bytes) -> Path:
    """Keep the uploaded bytes under <storage>/uploads/<sha256 prefix>-<name>; never a path the user chose."""
    if not data:
        raise InputError("the uploaded file is empty")
    if len(data) > MAX_UPLOAD_BYTES:
        raise InputError(f"the uploaded file is larger than {MAX_UPLOAD_BYTES} bytes")
    clean = safe_name(name)
    if not clean.lower().endswith(UPLOAD_SUFFIXES):
        raise InputError(f"unsupported file type: {clean} (use {', '.join(UPLOAD_SUFFIXES)})")
    folder = Path(storage_root) / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{hashlib.sha256(data).hexdigest()[:16]}-{clean}"
    path.write_bytes(data)
    return path


def ingest_upload(settings: Settings, session_factory, path: Path) -> Any:
    """Hand the saved file to the ingest stage; its result (report ids or rows) is shown as given."""
    from ..ingest import ingest_source

    return ingest_source(session_factory, str(path), settings)
