"""capture.media (issue 11, stretch): a page's video, found and downloaded by yt-dlp through our own recorder, kept
as a WARC resource record tied to the page; yt-dlp's requests are recorded and held to the address policy."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
from sqlalchemy import select
from warcio.archiveiterator import ArchiveIterator

import archiver.net.policy as policy
from archiver.db.session import make_engine, make_sessionmaker
from archiver.db.tables import Capture
from tests.browser.captured import capture_pages
from tests.servers.scripted import CLIP, scripted_site

MEDIA = {"browser": "never", "media": True}


@pytest.fixture(autouse=True)
def _yt_dlp(request):
    if "without_yt_dlp" in request.node.name:
        return
    try:
        import yt_dlp  # noqa: F401
    except ImportError:
        pytest.fail("yt-dlp is not installed: pip install -e '.[test]' (or '.[media]')")


def _records(root: Path) -> dict:
    out = {}
    for f in sorted((Path(root) / "warcs").glob("*.warc.gz")):
        with open(f, "rb") as fh:
            for r in ArchiveIterator(fh):
                out.setdefault((r.rec_type, r.rec_headers.get_header("WARC-Target-URI")), []).append(
                    (r.rec_headers, r.content_stream().read()))
    return out


def _roles(settings) -> list[tuple[str, str]]:
    engine = make_engine(settings)
    try:
        with make_sessionmaker(engine)() as s:
            return [(c.role, c.url) for c in s.scalars(select(Capture).order_by(Capture.id))]
    finally:
        engine.dispose()


def test_a_pages_video_is_kept_as_a_resource_record(tmp_path):
    with scripted_site() as site:
        page, clip = site.url("/video.html"), site.url("/clip.mp4")
        cap = capture_pages(tmp_path, [page], capture=MEDIA)
        assert ("GET", "/clip.mp4") in site.hits
    recs = _records(cap.settings.storage.root)
    (page_headers, _), = recs[("response", page)]
    (media_headers, media), = recs[("resource", "urn:media:" + page)]
    assert media == CLIP and media_headers.get_header("Content-Type") == "video/mp4"
    assert media_headers.get_header("WARC-Concurrent-To") == page_headers.get_header("WARC-Record-ID")
    assert any(body == CLIP for _, body in recs[("response", clip)])  # yt-dlp's request, recorded by us
    roles = _roles(cap.settings)
    assert ("media", "urn:media:" + page) in roles and ("media_fetch", clip) in roles
    # (the store is checked after the test: verify, export and verify-export accept the records)


def test_media_requests_keep_the_address_policy(tmp_path, monkeypatch):
    """With the default policy a video on a private address is refused: yt-dlp gets nothing, nothing is kept, the
    page's capture stands."""
    real = policy.address_problem
    monkeypatch.setattr(policy, "address_problem", lambda ip: None if ip == "127.0.0.1" else real(ip))
    with scripted_site() as site, scripted_site("127.0.0.2") as private:
        page = site.url(f"/video.html?{private.server_address[1]}")
        # the page names its video relative to itself; move it to the private site's copy
        original = site.RequestHandlerClass.do_GET

        def do_get(handler):
            if handler.path.startswith("/video.html"):
                body = (f'<html><body><h1>Session</h1><video src="{private.url("/clip.mp4")}"></video>'
                        "</body></html>").encode()
                return handler._send(body, "text/html; charset=utf-8")
            return original(handler)

        monkeypatch.setattr(site.RequestHandlerClass, "do_GET", do_get)
        cap = capture_pages(tmp_path, [page], capture=MEDIA,
                            fetch={"allow_private_addresses": False, "politeness_delay_s": 0, "timeout_s": 5,
                                   "retry_base_s": 0})
        assert private.hits == []  # never sent
    recs = _records(cap.settings.storage.root)
    assert ("response", page) in recs
    assert not [k for k in recs if (k[1] or "").startswith("urn:media:") or "127.0.0.2" in (k[1] or "")]
    roles = _roles(cap.settings)
    assert not [r for r in roles if r[0] == "media" or "127.0.0.2" in r[1]]
    assert [r for r in roles if r[0] == "media_fetch"] == [("media_fetch", page)]  # yt-dlp read the page, no more


def test_without_yt_dlp_the_capture_stands_with_one_notice(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "yt_dlp", None)  # import yt_dlp raises ImportError
    with scripted_site() as site:
        cap = capture_pages(tmp_path, [site.url("/video.html"), site.url("/shell.html")], capture=MEDIA)
    roles = [r[0] for r in _roles(cap.settings)]
    assert roles.count("target") == 2 and not {"media", "media_fetch"} & set(roles), roles
    notices = [line for line in cap.err.splitlines() if "yt-dlp is not installed" in line]
    assert len(notices) == 1, cap.err
