"""capture.read: one seek, decoded and raw payloads, revisits followed, paths never trusted."""
import gzip
import hashlib

import pytest

from archiver.capture.read import open_payload, open_record, raw_payload, warc_path
from archiver.errors import ArchiveError
from tests.servers.targets import CHUNKS, CP1251_HTML, GZIP_HTML, capture_settings, recorder_for, serve


@pytest.fixture(scope="module")
def captured(tmp_path_factory):
    root = tmp_path_factory.mktemp("read")
    s = capture_settings(root)
    with serve() as site:
        with recorder_for(s) as (rec, sink):
            exs = {p: rec.fetch(site.url(p)) for p in ("/gzip.html", "/chunked.html", "/cp1251.html", "/doc.pdf")}
            exs["again"] = rec.fetch(site.url("/doc.pdf"))
            open_ref = rec.fetch(site.url("/final"))  # still in the .open file when read below
            yield root, exs, open_ref, sink


def test_open_payload_undoes_gzip_and_chunking(captured):
    root, exs, _, _ = captured
    h, body = open_payload(root, exs["/gzip.html"].warc.warc_file, exs["/gzip.html"].warc.offset)
    with body:
        assert body.read() == GZIP_HTML.encode() and h.get_header("Content-Encoding") == "gzip"
    _, body = open_payload(root, exs["/chunked.html"].warc.warc_file, exs["/chunked.html"].warc.offset)
    with body:
        assert body.read() == b"".join(CHUNKS)
    _, body = open_payload(root, exs["/cp1251.html"].warc.warc_file, exs["/cp1251.html"].warc.offset)
    with body:
        assert body.read() == CP1251_HTML.encode("cp1251")  # bytes as served, no re-encoding


def test_raw_payload_matches_sha256(captured):
    root, exs, _, _ = captured
    for key in ("/gzip.html", "/chunked.html", "/doc.pdf"):
        ex = exs[key]
        _, body = raw_payload(root, ex.warc.warc_file, ex.warc.offset)
        with body:
            data = body.read()
        assert hashlib.sha256(data).hexdigest() == ex.sha256 == ex.warc.sha256
    _, body = raw_payload(root, exs["/gzip.html"].warc.warc_file, exs["/gzip.html"].warc.offset)
    with body:
        assert gzip.decompress(body.read()) == GZIP_HTML.encode()


def test_revisit_followed_through_locator(captured):
    root, exs, _, _ = captured
    rev = exs["again"].warc
    assert rev.is_revisit
    with pytest.raises(ArchiveError, match="not found"):
        open_payload(root, rev.warc_file, rev.offset)
    first = exs["/doc.pdf"].warc
    locate = {first.record_id: (first.warc_file, first.offset)}.get
    _, body = open_payload(root, rev.warc_file, rev.offset, locate=locate)
    with body:
        assert body.read().startswith(b"%PDF-1.4")


def test_record_in_an_open_file_is_readable(captured):
    root, _, open_ref, sink = captured
    assert sink.current_file == open_ref.warc.warc_file
    rec = open_record(root, open_ref.warc.warc_file, open_ref.warc.offset)
    assert rec.rec_type == "response" and rec.content_stream().read() == b"<html><body>final page</body></html>"


@pytest.mark.parametrize("bad", ["../archiver.db", "/etc/passwd", "warcs/../../x.warc.gz", "uploads/x.warc.gz",
                                 "warcs/missing.warc.gz"])
def test_paths_outside_warcs_refused(captured, bad):
    root = captured[0]
    with pytest.raises(ArchiveError):
        warc_path(root, bad)


def test_bad_offset_is_an_archive_error(captured):
    root, exs, _, _ = captured
    with pytest.raises(ArchiveError):
        open_record(root, exs["/gzip.html"].warc.warc_file, exs["/gzip.html"].warc.offset + 3)
