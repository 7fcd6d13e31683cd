"""Every kind of record the pipeline writes, read by the WARC 1.1 field rules (tests/warc_rules.py, as strict as
jwarc) and by the verifiers of tools we did not write: FastWARC (`fastwarc check`), warcat (`warcat verify`)
and warcio (`warcio check`). jwarc itself is Java, which this machine does not have. Then the same store on the
replay origin: a copy recovered from an archive replays at the archive's date with one Memento-Datetime
(memento_client reads it), and nothing the origin answers names a WARC file or an offset."""
from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from datetime import datetime

import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.standards_store import build_store
from tests.warc_rules import check_files, check_record

FASTWARC = "from fastwarc.cli import main; main()"  # its console script, run by this interpreter


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return build_store(tmp_path_factory.mktemp("standards"))


def _kinds(store) -> Counter:
    """What the store holds, by record type and by the cases that differ."""
    seen: Counter = Counter()
    for path in store.warcs:
        with open(path, "rb") as fh:
            for rec in ArchiveIterator(fh):
                h = rec.rec_headers
                seen[rec.rec_type] += 1
                if h.get_header("WARC-Source-URI"):
                    seen["recovered response"] += 1
                if rec.rec_type == "metadata":
                    seen["metadata " + h.get_header("Content-Type")] += 1
                if h.get_header("WARC-Truncated") and rec.rec_type == "response":
                    seen["truncated response"] += 1
                if (h.get_header("WARC-Target-URI") or "").startswith("https:"):
                    seen["https " + rec.rec_type] += 1
    return seen


def test_every_record_follows_the_warc_1_1_field_rules(store):
    kinds = _kinds(store)
    # the store holds every kind we write (no 'resource' records: archiver writes none)
    for kind in ("warcinfo", "request", "response", "revisit", "recovered response", "truncated response",
                 "metadata application/warc-fields", "metadata application/x-pem-file", "https response"):
        assert kinds[kind] >= 1, (kind, kinds)
    assert check_files(store.warcs) == []


def test_archiver_verify_passes_on_the_store(store):
    from tests.conftest import run_cli

    r = run_cli(["verify"], store.config)
    assert r.code == 0, r.out + r.err


FIELDS = [("WARC-Type", "response"), ("WARC-Record-ID", "<urn:uuid:8f2c7c2e-58b0-4d2f-9d1a-6a0b3f7f5e11>"),
          ("WARC-Date", "2026-01-01T10:00:00.123456Z"), ("WARC-Target-URI", "http://example.org/"),
          ("Content-Type", "application/http; msgtype=response"), ("Content-Length", "100")]
REVISIT = [("WARC-Type", "revisit"), *FIELDS[1:4], *FIELDS[4:],
           ("WARC-Profile", "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"),
           ("WARC-Payload-Digest", "sha1:UHM57EHXNQ2HWAOJEG2YC5OB5M33T27L"), ("WARC-Truncated", "length"),
           ("WARC-Refers-To", "<urn:uuid:11111111-58b0-4d2f-9d1a-6a0b3f7f5e11>"),
           ("WARC-Refers-To-Target-URI", "http://example.org/"), ("WARC-Refers-To-Date", "2025-01-01T10:00:00Z")]


def _without(fields, name):
    return [(k, v) for k, v in fields if k != name]


@pytest.mark.parametrize("fields, has_http, expected", [
    (FIELDS, True, None),
    (REVISIT, True, None),
    (FIELDS + [("WARC-Refers-To-Target-URI", "http://a/"), ("WARC-Refers-To-Date", "2017-01-01T00:00:00Z")], True,
     "WARC-Refers-To-Target-URI is not allowed on a response record"),
    (FIELDS + [("WARC-Refers-To", "<urn:x:1>")], True, "WARC-Refers-To is not allowed on a response record"),
    (_without(REVISIT, "WARC-Truncated"), True, "WARC-Truncated: length"),
    (_without(REVISIT, "WARC-Profile"), True, "must have a WARC-Profile"),
    ([(k, "http://netpreserve.org/warc/1.0/revisit/identical-payload-digest" if k == "WARC-Profile" else v)
      for k, v in REVISIT], True, "not a WARC 1.1 revisit profile"),
    ([("WARC-Type", "metadata"), *FIELDS[1:4], ("Content-Type", "application/warc-fields"),
      ("Content-Length", "10"), ("WARC-Payload-Digest", "sha1:AAAA")], False,
     "WARC-Payload-Digest is not allowed on a metadata record"),
    ([(k, "2026-01-01 10:00:00Z" if k == "WARC-Date" else v) for k, v in FIELDS], True, "WARC-Date"),
    ([(k, "urn:uuid:x" if k == "WARC-Record-ID" else v) for k, v in FIELDS], True, "is not <uri>"),
    ([(k, "<http://example.org/>" if k == "WARC-Target-URI" else v) for k, v in FIELDS], True, "is not a URI"),
    (FIELDS + [("WARC-Truncated", "because")], True, "WARC-Truncated 'because'"),
    (FIELDS + [("WARC-Filename", "x.warc.gz")], True, "WARC-Filename is not allowed"),
    (FIELDS + [("WARC-IP-Address", "300.1.1.1")], True, "not an address"),
    (FIELDS + [("WARC-Date", "2026-01-01T10:00:00Z")], True, "WARC-Date repeated"),
    ([(k, "application/http" if k == "Content-Type" else v) for k, v in FIELDS], True, "msgtype=response"),
    (_without(FIELDS, "WARC-Target-URI"), True, "must have a WARC-Target-URI"),
    ([("WARC-Type", "warcinfo"), *FIELDS[1:3], ("Content-Type", "text/plain"), ("Content-Length", "5")], False,
     "application/warc-fields"),
])
def test_the_rules_catch_what_they_describe(fields, has_http, expected):
    problems = check_record("WARC/1.1", fields, has_http)
    if expected is None:
        assert problems == []
    else:
        assert any(expected in p for p in problems), problems


def test_fastwarc_verifies_every_digest(store):
    """Block digests of every record; payload digests too, where FastWARC (like warcat) hashes a revisit's empty
    block against the WARC-Payload-Digest of the payload it leaves out: only revisits may fail that, each with the
    payload digest of the record it refers to (WARC 1.1 §5.9)."""
    revisits, originals, resources = _revisits(store), _original_digests(store), _resources(store)
    for path in store.warcs:
        r = subprocess.run([sys.executable, "-c", FASTWARC, "check", str(path)], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, (path.name, r.stdout[-2000:], r.stderr[-2000:])
        assert re.search(r"\b\d+ records were verified successfully", r.stdout), r.stdout
        r = subprocess.run([sys.executable, "-c", FASTWARC, "check", "--verify-payloads", str(path)], capture_output=True, text=True,
                           timeout=120)
        failed = re.findall(r"^(<urn:[^>]+>)\s*$", r.stdout, re.M)
        assert r.returncode == (1 if failed else 0), r.stdout[-2000:]
        for rid in failed:
            if rid in resources:  # no HTTP message: FastWARC computes no payload (it answers False even for
                digest, block = resources[rid]  # warcio's own resource records); the payload is the block
                assert digest == block, (path.name, rid)
                continue
            assert rid in revisits, (path.name, rid)
            digest, refers_to = revisits[rid]
            assert originals[refers_to] == digest


def _fields_by_id(store, rec_type: str, *fields: str) -> dict[str, tuple]:
    """Records of one type in the store: WARC-Record-ID -> the values of ``fields``."""
    out = {}
    for path in store.warcs:
        with open(path, "rb") as fh:
            for rec in ArchiveIterator(fh):
                if rec.rec_type == rec_type:
                    h = rec.rec_headers
                    out[h.get_header("WARC-Record-ID")] = tuple(h.get_header(f) for f in fields)
    return out


def _resources(store) -> dict[str, tuple[str, str]]:
    """resource records (the browser's screenshots, DOM...): id -> (payload digest, block digest)."""
    return _fields_by_id(store, "resource", "WARC-Payload-Digest", "WARC-Block-Digest")


def _revisits(store) -> dict[str, tuple[str, str]]:
    return _fields_by_id(store, "revisit", "WARC-Payload-Digest", "WARC-Refers-To")


def _original_digests(store) -> dict[str, str]:
    out = {}
    for path in store.warcs:
        with open(path, "rb") as fh:
            for rec in ArchiveIterator(fh):
                h = rec.rec_headers
                if rec.rec_type == "response":
                    out[h.get_header("WARC-Record-ID")] = h.get_header("WARC-Payload-Digest")
    return out


def test_warcat_verifies_each_file(store):
    """warcat checks mandatory fields, record ids, where WARC-Concurrent-To and WARC-Refers-To may appear and
    that they point back at records already read, and the digests. It also hashes a revisit's empty block
    against its WARC-Payload-Digest, which WARC 1.1 §5.9 says is the digest of the payload left out: those
    (and only those) it may report, and each must be the payload digest of the record the revisit refers to."""
    revisits, originals = _revisits(store), _original_digests(store)
    for path in store.warcs:
        r = subprocess.run([sys.executable, "-m", "warcat", "verify", str(path)], capture_output=True, text=True,
                           timeout=300)
        reported, current = [], None
        for line in r.stderr.splitlines():
            m = re.match(r"Record (<[^>]+>) failed validation", line)
            current = m.group(1) if m else current
            m = re.search(r"VerifyProblem: \('([^']+)'", line)
            if m:
                reported.append((current, m.group(1)))
        for rid, what in reported:
            assert what == "Bad payload digest." and rid in revisits, (path.name, rid, what)
            digest, refers_to = revisits[rid]
            assert originals[refers_to] == digest
        assert r.returncode == (1 if reported else 0), r.stderr[-2000:]


def test_warcio_checks_every_digest(store):
    for path in store.warcs:
        r = subprocess.run([sys.executable, "-m", "warcio.cli", "check", "-v", str(path)], capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
        assert "digest pass" in r.stdout


# ---- the same store on the replay origin --------------------------------------------------------

@pytest.fixture(scope="module")
def replay(store):
    from archiver.web.replay import ReplayServer

    with ReplayServer(store.root, "127.0.0.1", 0) as server:
        yield server


def test_a_recovered_copy_replays_at_the_archive_date_with_one_memento_datetime(store, replay):
    import requests
    from memento_client import MementoClient

    from archiver.simweb_pages import ARCHIVED_GONE_HTML

    uri_m = f"{replay.origin}/web/{store.memento_ts}id_/{store.recovered_url}"
    r = requests.get(uri_m, timeout=10)
    assert r.status_code == 200 and r.content == ARCHIVED_GONE_HTML.encode("utf-8")
    assert r.raw.headers.getlist("Memento-Datetime") == ["Wed, 05 Jul 2017 12:00:00 GMT"]  # once: ours
    assert len(r.raw.headers.getlist("Link")) == 1
    info = MementoClient(timegate_uri=replay.origin + "/web/", check_native_timegate=False).get_memento_info(
        uri_m, datetime(2017, 7, 1))
    assert info["original_uri"] == store.recovered_url
    assert info["mementos"]["closest"]["datetime"] == datetime(2017, 7, 5, 12, 0)


def test_recovered_captures_keep_the_archive_date_in_the_database_and_the_export(store, tmp_path):
    from tests.conftest import run_cli

    r = run_cli(["export", "--report", "1", "-o", tmp_path / "r.wacz", "--json"], store.config)
    assert r.code == 0, r.err
    import json
    import zipfile

    with zipfile.ZipFile(tmp_path / "r.wacz") as zf:
        summary = json.loads(zf.read("evidence/summary.json"))
    recovered = [c for c in summary["records"] if c["source"] == "archive" and c["url"] == store.recovered_url]
    assert recovered and all(c["captured_at"] == c["memento_datetime"] == "2017-07-05T12:00:00Z" for c in recovered)
    # the read model behind show, get and the interface
    from sqlalchemy import select

    from archiver.config import load_settings
    from archiver.db import queries
    from archiver.db.session import make_engine, make_sessionmaker
    from archiver.db.tables import Capture

    engine = make_engine(load_settings(store.config, env={}))
    try:
        with make_sessionmaker(engine)() as s:
            rows = s.scalars(select(Capture).where(Capture.source == "archive", Capture.role == "target")).all()
            shown = [queries.capture_dict(c, full=True) for c in rows]
    finally:
        engine.dispose()
    assert shown and all(d["timestamp"].startswith("2017-07-05T12:00:00") for d in shown)
    assert all(d["memento_datetime"].startswith("2017-07-05T12:00:00") for d in shown)


def test_nothing_on_the_replay_origin_names_a_warc_file_or_offset(store, replay):
    import requests

    names = [p.name for p in store.warcs] + ["warcs/", '"offset"', '"filename"', ".warc.gz"]
    page, ts = store.page_url, "20300101000000"
    paths = [f"/web/cdx?url={page}", f"/web/cdx?url={page}&output=json", f"/web/timemap/json/{page}",
             f"/web/timemap/cdxj/{page}", f"/web/timemap/link/{page}", "/collinfo.json", "/", "/web/",
             f"/web/{page}", f"/web/{ts}/{page}", f"/web/{ts}mp_/{page}", f"/web/{ts}id_/{page}",
             f"/web/{store.memento_ts}id_/{store.recovered_url}", f"/web/cdx?url={page}&fl=filename,offset",
             "/cdx/search/cdx?url=127.0.0.1&matchType=domain&output=json",
             "/cdx/search/cdx?url=127.0.0.1&matchType=domain&fl=filename,offset",
             "/cdx/search/cdx?url=127.0.0.1&matchType=domain&fl=urlkey,timestamp,original,mimetype,statuscode,"
             "digest,length&showResumeKey=true&limit=1"]
    for path in paths:
        r = requests.get(replay.origin + path, timeout=10, headers={"Accept-Datetime": "Sat, 01 Jul 2017 00:00:00 GMT"})
        seen = r.text + "".join(f"{k}: {v}\n" for k, v in r.headers.items())
        leaked = [n for n in names if n in seen]
        assert not leaked, (path, r.status_code, leaked)
