"""The I/O edge of ingestion: read a path or fetch a URL, parse, store in one transaction.

Outcomes (``IngestResult.status``):

* ``ingested``     a report we had never seen;
* ``unchanged``    these exact bytes are already stored (``Report.sha256`` is unique), nothing added;
* ``new_version``  the same path or URL held other bytes before: a new report linked to the
                   latest earlier one by ``previous_id``.

Unreadable input raises InputError; fetch problems raise FetchError: the CLI turns
either into one line and an exit code.
"""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import urljoin

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..config import Settings
from ..db.tables import Activity, Link, Report
from ..errors import FetchError, InputError, TooManyHops
from . import store
from .limits import Limits


@dataclass(frozen=True)
class IngestResult:
    source: str
    status: str  # ingested | unchanged | new_version | error
    report_id: int | None = None
    previous_id: int | None = None
    format: str | None = None
    title: str | None = None
    activities: int = 0
    links: int = 0
    error: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def is_url(source: str) -> bool:
    return source.lower().startswith(("http://", "https://"))


def read_source(source: str, settings: Settings) -> tuple[bytes, str, str]:
    """(bytes, canonical source, source_kind) for a path or an http(s) URL."""
    if is_url(source):
        return _fetch(source, settings), source, "url"
    if "://" in source:
        raise InputError(f"{source}: only http and https URLs can be fetched")
    path = Path(source).expanduser()
    if not path.exists():
        raise InputError(f"{source}: file not found")
    if path.is_dir():
        raise InputError(f"{source}: is a folder, not a report file")
    # a report is read into memory whole (the readers need random access): refuse what is too big first
    limit = settings.ingest.max_report_bytes
    try:
        size = path.stat().st_size
        if size > limit:
            raise InputError(f"{source}: {size} bytes, larger than ingest.max_report_bytes ({limit})")
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{source}: cannot read ({exc.strerror or exc})") from exc
    return data, str(path.resolve()), "file"


def _fetch(url: str, settings: Settings) -> bytes:
    """GET a report through the fetch policy, following redirects one checked hop at a time."""
    from ..net.http import HttpClient  # the network is only needed for URLs

    limit = min(settings.fetch.max_bytes, settings.ingest.max_report_bytes)
    with HttpClient(settings.fetch) as client:
        for _hop in range(settings.fetch.max_hops + 1):
            fetched, data = client.get_bytes(url, max_bytes=limit)
            location = fetched.headers.get("Location")
            if 300 <= fetched.status < 400 and location:
                url = urljoin(url, location)
                continue
            if fetched.status >= 400:
                raise FetchError(f"{url}: HTTP {fetched.status} {fetched.reason}".rstrip(), url=url)
            return data
    raise TooManyHops(f"{url}: more than {settings.fetch.max_hops} redirects", url=url)


def ingest_source(session_factory: Callable[[], Session], source: str, settings: Settings) -> IngestResult:
    """Ingest one report given by path or URL (the CLI and the web upload call this)."""
    data, canonical, kind = read_source(source, settings)
    return ingest_bytes(session_factory, data, canonical, kind, settings, display=source)


def ingest_bytes(session_factory: Callable[[], Session], data: bytes, source: str, source_kind: str,
                 settings: Settings, display: str | None = None) -> IngestResult:
    """Parse and store report bytes; ``source`` links versions of the same document."""
    from . import parse_report

    display = display or source
    sha = hashlib.sha256(data).hexdigest()
    with session_factory() as session:
        known = store.find_by_sha256(session, sha)
        if known is not None:
            return _unchanged(session, display, known)
    name = source if source_kind == "url" else Path(source).name
    try:
        parsed = parse_report(data, name, Limits.from_settings(settings.ingest))
    except InputError as exc:  # name the report as the user gave it
        message = str(exc)
        if message.startswith(name + ":") and name != display:
            raise InputError(display + message[len(name):]) from exc
        raise
    with session_factory() as session:
        try:
            with session.begin():
                previous = store.latest_for_source(session, source)
                report = store.save_report(session, parsed, source, source_kind, sha, len(data),
                                           shorteners=settings.resolver.shorteners,
                                           previous_id=previous.id if previous else None)
                report_id = report.id
        except IntegrityError:  # another ingest stored the same bytes a moment ago
            session.rollback()
            known = store.find_by_sha256(session, sha)
            if known is None:
                raise
            return _unchanged(session, display, known)
    return IngestResult(
        source=display, status="new_version" if previous else "ingested", report_id=report_id,
        previous_id=previous.id if previous else None, format=parsed.format, title=parsed.title,
        activities=len(parsed.activities), links=sum(len(a.links) for a in parsed.activities))


def _unchanged(session: Session, display: str, report: Report) -> IngestResult:
    n_acts = session.scalar(select(func.count()).select_from(Activity).where(Activity.report_id == report.id))
    n_links = session.scalar(select(func.count()).select_from(Link).join(Activity)
                             .where(Activity.report_id == report.id))
    return IngestResult(source=display, status="unchanged", report_id=report.id, previous_id=report.previous_id,
                        format=report.format, title=report.title, activities=n_acts or 0, links=n_links or 0)
