"""Video and audio a cited page carries, found and downloaded by yt-dlp (``capture.media: true``, issue 11).

yt-dlp knows where thousands of sites keep their media, and for any other page finds HTML5
``<video>``/``<audio>`` sources itself. It is an optional dependency (``pip install -e '.[media]'``):
without it ``capture.media`` is skipped with a one-line notice per pass.

yt-dlp never touches the network itself: its one request handler (:class:`_RecorderRH`) hands every
request to the pass's Recorder (through the per-host gate), so what it asks for is held to the same
address policy, limits and politeness as every fetch, and is recorded as request/response records
(``media_fetch`` rows), which replay. What it downloads (a file, or the file it joined from pieces)
is then written as one ``resource`` record, ``urn:media:<page url>`` (its media type guessed from the
file's name), tied to the page's response record like the browser's screenshot, and cut at
``capture.media_max_bytes``. A page without media, or media yt-dlp cannot get, is noted and the
capture stands: media is a bonus, never a reason to fail the item.

Known costs: yt-dlp reads the page again itself (one more recorded request, usually a revisit), and
each answer is handed to it from memory (the Recorder's decoded copy, at most ``media_max_bytes``),
not streamed from the WARC; HLS/DASH pieces are joined by yt-dlp only where ffmpeg is installed.
"""
from __future__ import annotations

import io
import logging
import mimetypes
import tempfile
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from warcio.limitreader import LimitReader
from warcio.timeutils import datetime_to_iso_date

from .. import digests
from ..errors import FetchError, FetchRefused
from ..model import CaptureResult, Outcome, WarcRef
from .browse import is_html
from .browser_route import HOP_BY_HOP

log = logging.getLogger(__name__)
FORWARDED = ("accept", "accept-language", "referer", "range")


def after_capture(result: CaptureResult, *, tools: Any) -> CaptureResult:
    """The media hook of the capture stage: ``result`` with ``media`` set when the page had some."""
    settings = tools.settings
    if not settings.capture.media or result.outcome is not Outcome.CAPTURED or result.response is None \
            or not result.final_url or not is_html(result.response.content_type) or result.not_evidence_reason:
        return result
    try:
        import yt_dlp  # noqa: F401
    except ImportError:
        tools.once("media notice", lambda: log.warning(
            "capture.media is true but yt-dlp is not installed (pip install -e '.[media]'): no media captured"))
        return result
    fetched: list[WarcRef] = []
    with tempfile.TemporaryDirectory(dir=tools.sink.dir, prefix=".media-") as tmp:
        files, why = download(result.final_url, Path(tmp), fetch=tools.recorder.fetch, settings=settings,
                              fetched=fetched)
        written = write_media(tools.sink, result.final_url, files, concurrent_to=result.response.record_id,
                              when=result.response.captured_at, max_bytes=settings.capture.media_max_bytes)
    if why:
        log.info("media of %s: %s", result.final_url, why)
    return replace(result, media=tuple(written), media_fetched=tuple(fetched))


def download(page_url: str, out: Path, *, fetch: Callable, settings, fetched: list) -> tuple[list[Path], str | None]:
    """yt-dlp on ``page_url``, every request through ``fetch``; (files written in ``out``, why not)."""
    import yt_dlp

    handler = _handler_class(fetch, settings, fetched)

    class _YDL(yt_dlp.YoutubeDL):
        @property
        def _request_director(self):  # only ours: no other handler, so nothing reaches the network directly
            director = self.__dict__.get("_archiver_director")
            if director is None:
                director = self.__dict__["_archiver_director"] = self.build_request_director([handler])
            return director

    params = {"quiet": True, "no_warnings": True, "noprogress": True, "noplaylist": True, "cachedir": False,
              "outtmpl": str(out / "media.%(ext)s"), "format": "best", "retries": 0, "fragment_retries": 0,
              "max_filesize": settings.capture.media_max_bytes, "continuedl": False, "http_chunk_size": None,
              "socket_timeout": settings.fetch.timeout_s, "logger": _Quiet(), "user_agent": settings.fetch.user_agent}
    try:
        with _YDL(params) as ydl:
            ydl.download([page_url])
    except Exception as exc:  # yt-dlp's DownloadError and friends: a page without media is not a failure
        return [], str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
    files = sorted(p for p in out.iterdir() if p.is_file() and not p.name.endswith((".part", ".ytdl")))
    return files, None if files else "no media downloaded"


def _handler_class(fetch: Callable, settings, fetched: list):
    from yt_dlp.networking.common import RequestHandler, Response
    from yt_dlp.networking.exceptions import HTTPError, RequestError, TransportError

    class ArchiverRH(RequestHandler):  # yt-dlp wants the "RH" suffix
        _SUPPORTED_URL_SCHEMES = ("http", "https")
        _SUPPORTED_PROXY_SCHEMES = None
        _SUPPORTED_FEATURES = ()

        def _check_extensions(self, extensions):
            for name in ("cookiejar", "timeout", "legacy_ssl", "keep_header_casing", "impersonate"):
                extensions.pop(name, None)

        def _send(self, request):
            url, method = request.url, (request.method or "GET").upper()
            if method not in ("GET", "HEAD"):
                raise RequestError(f"{method} is not sent by media capture")
            headers = {k: v for k, v in request.headers.items() if k.lower() in FORWARDED}
            try:
                for _ in range(settings.fetch.max_hops + 1):
                    ex = fetch(url, headers=headers, keep_body=settings.capture.media_max_bytes)
                    fetched.append(ex.warc)
                    location = ex.headers.get("Location")
                    if not (300 <= ex.status < 400 and location):
                        break
                    from urllib.parse import urljoin

                    url = urljoin(url, location.strip())
                else:
                    raise TransportError(f"more than {settings.fetch.max_hops} redirects")
            except FetchRefused as exc:
                raise RequestError(f"refused: {exc}") from exc
            except FetchError as exc:
                raise TransportError(str(exc)) from exc
            body = ex.body
            out = {k: v for k, v in ex.headers.items() if k.lower() not in HOP_BY_HOP}
            out["Content-Length"] = str(len(body))
            response = Response(io.BytesIO(body), url, out, status=ex.status, reason=ex.reason)
            if ex.status >= 400:
                raise HTTPError(response)
            return response

    return ArchiverRH


class _Quiet:
    """yt-dlp's messages into our log, at debug level (its errors come back as the exception)."""

    def debug(self, msg):
        log.debug("yt-dlp: %s", msg)

    info = warning = debug

    def error(self, msg):
        log.info("yt-dlp: %s", msg)


def write_media(sink, page_url: str, files: list[Path], *, concurrent_to: str | None, when: datetime | None,
                max_bytes: int) -> list[tuple[str, WarcRef]]:
    """One ``resource`` record per file (``urn:media:<page url>``, then ``#2``...), as browser_records writes."""
    if not files:
        return []
    b = sink.builder
    date = datetime_to_iso_date((when or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(tzinfo=None),
                                use_micros=True)
    records, extras, handles = [], [], []
    try:
        for n, path in enumerate(files, start=1):
            length = min(path.stat().st_size, max_bytes)  # yt-dlp's max_filesize already holds it there
            media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            fh = open(path, "rb")
            handles.append(fh)
            d = digests.BlockDigester(http=False)
            for chunk in iter(lambda: fh.read(min(1 << 20, length - fh.tell())), b""):  # streamed, twice
                d.update(chunk)
            d = d.result()
            fh.seek(0)
            headers = {"WARC-Date": date, "WARC-Block-Digest": d.block_digest,
                       "WARC-Payload-Digest": d.payload_digest}
            if concurrent_to:
                headers["WARC-Concurrent-To"] = concurrent_to
            uri = f"urn:media:{page_url}" + (f"#{n}" if n > 1 else "")
            records.append(b.create_warc_record(uri, "resource", payload=LimitReader(fh, length), length=length,
                                                warc_content_type=media_type, warc_headers_dict=headers))
            extras.append({"sha256": d.sha256, "payload_length": length, "content_type": media_type})
        return [("media", ref) for ref in sink.write_records(records, extras)]
    finally:
        for fh in handles:
            fh.close()
