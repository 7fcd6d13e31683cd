"""Object storage (issue 12): WARC files, WACZ exports and the manifest mirror in S3-compatible storage.

The server is moto's standalone S3 server on 127.0.0.1 (tests/servers/s3.py), reached over HTTP by
boto3: ours, and pywb's own S3 loader in the replay process. The pipeline runs the simulated web's
report with ``storage.url: s3://...``; everything after reads from the object store.
"""
from __future__ import annotations

import glob
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import zipfile

import pytest
import requests
from sqlalchemy import func, select

from archiver.config import load_settings
from archiver.db.tables import Capture, Hop, ManifestEntry, Target, WarcFile
from archiver.errors import StoreError
from archiver.simweb import SimWeb
from archiver.store import check_key, open_store
from tests.conftest import run_cli, write_config


@pytest.fixture
def sim():
    with SimWeb() as web:
        yield web


@pytest.fixture
def bucket(s3_server):
    return s3_server.new_bucket()


def _config(tmp_path, db_url, sim, s3_server, bucket, **storage):
    return write_config(
        tmp_path, db_url, name="s3.yaml",
        storage={"root": str(tmp_path / "spool"), "warc_max_bytes": 30_000,  # several files: rotation uploads
                 **s3_server.storage(bucket, **storage)},
        resolver={"shorteners": sim.shortener_hosts, **sim.resolver_extra()},
        fetch={"politeness_delay_s": 0, "retry_base_s": 0.01, "max_attempts": 3})


def _objects(s3_server, bucket, prefix):
    pages = s3_server.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return {o["Key"]: o["Size"] for p in pages for o in p.get("Contents", [])}


def _run_report(tmp_path, cfg, sim):
    report = tmp_path / "report.txt"
    report.write_text(sim.report_text(), encoding="utf-8")
    assert run_cli(["init"], cfg).code == 0
    assert run_cli(["ingest", str(report)], cfg).code == 0
    r = run_cli(["run", "--json"], cfg)
    assert r.code == 0, r.err
    return r.json()


def _sessionmaker(cfg):
    from archiver.db.session import make_engine, make_sessionmaker

    engine = make_engine(load_settings(cfg, env={}))
    return engine, make_sessionmaker(engine)


def test_a_pass_on_object_storage_is_verified_got_exported_and_replayed_from_it(tmp_path, db_url, sim, s3_server,
                                                                             bucket):
    cfg = _config(tmp_path, db_url, sim, s3_server, bucket)
    _run_report(tmp_path, cfg, sim)
    settings = load_settings(cfg, env={})
    store = open_store(settings.storage)
    stored = _objects(s3_server, bucket, "archive/warcs/")
    assert len(stored) >= 2  # rotated: each finished file went up as it was finished
    # the spool holds nothing once the pass is over: every file uploaded, checked, removed
    assert not glob.glob(str(tmp_path / "spool" / "warcs" / "*.warc.gz*"))
    engine, Session = _sessionmaker(cfg)
    try:
        with Session() as s:
            rows = s.scalars(select(WarcFile)).all()
            assert {f"archive/{r.path}" for r in rows} == set(stored)
            client = s3_server.client()
            for r in rows:  # the row says where it lives; the object is the file the writer hashed
                assert r.state == "finished" and r.location == f"s3://{bucket}/archive"
                obj = client.get_object(Bucket=bucket, Key=f"archive/{r.path}")
                assert hashlib.sha256(obj["Body"].read()).hexdigest() == r.sha256 == obj["Metadata"]["sha256"]
            # the manifest's mirror: one object per entry, equal to the table's rows
            mirror = _objects(s3_server, bucket, "archive/manifest/")
            entries = s.scalars(select(ManifestEntry).order_by(ManifestEntry.id)).all()
            assert len(mirror) == len(entries) == len(rows)
            page = s.scalars(select(Capture).where(Capture.role == "target", Capture.http_status == 200,
                                                   Capture.url.like("%/reports/open-budget.html"))).first()
            page_url = page.url
    finally:
        engine.dispose()
    assert not (tmp_path / "spool" / "manifest.jsonl").exists()

    v = run_cli(["verify", "--json"], cfg)
    assert v.code == 0, v.out
    doc = v.json()
    assert doc["files_checked"] == len(stored) and doc["records_checked"] > 10

    # get: the exact bytes the site served, read from the store by range
    out = tmp_path / "page.html"
    g = run_cli(["get", page_url, "-o", str(out)], cfg)
    assert g.code == 0, g.err
    assert out.read_bytes() == requests.get(page_url, timeout=10).content

    # export into the store, then check it there, and with py-wacz on a downloaded copy
    e = run_cli(["export", "--report", "1", "--stored", "report-1.wacz", "--json"], cfg)
    assert e.code == 0, e.err
    assert e.json()["path"] == f"s3://{bucket}/archive/exports/report-1.wacz"
    assert not (tmp_path / "spool" / "exports" / "report-1.wacz").exists()
    ve = run_cli(["verify-export", "--stored", "report-1.wacz"], cfg)
    assert ve.code == 0 and "records verified" in ve.out, ve.out + ve.err
    local = tmp_path / "report-1.wacz"
    s3_server.client().download_file(bucket, "archive/exports/report-1.wacz", str(local))
    w = subprocess.run([sys.executable, "-m", "wacz", "validate", "-f", str(local)], capture_output=True,
                       text=True, timeout=120)
    assert w.returncode == 0 and "passed WACZ is valid" in w.stdout, w.stdout + w.stderr
    with zipfile.ZipFile(local) as zf:
        pages = [json.loads(x) for x in zf.read("pages/pages.jsonl").splitlines()[1:]]
    assert page_url in {p["url"] for p in pages}

    # replay: pywb indexes the objects and reads the record through its own S3 loader
    from archiver.web.replay import ReplayServer, refresh_index

    with ReplayServer(settings.storage.root, "127.0.0.1", 0, store=store) as server:
        r = requests.get(f"{server.origin}/web/2id_/{page_url}", timeout=30, allow_redirects=True)
        assert r.status_code == 200, r.text[:300]
        assert r.content == requests.get(page_url, timeout=10).content
    assert refresh_index(settings.storage.root, store) == 0  # parts are rebuilt only when an object changes


@pytest.mark.tampers
def test_kill_9_leaves_a_spool_file_that_the_next_pass_repairs_and_uploads_and_tampering_fails_verify(
        tmp_path, db_url, sim, s3_server, bucket):
    cfg = _config(tmp_path, db_url, sim, s3_server, bucket)
    sim.slow_s = 0.6
    codes = [sim.set_code(f"Slow{i}", "slow", sim.site_url + f"/reports/open-budget.html?v={i}") for i in range(6)]
    report = tmp_path / "slow.txt"
    report.write_text("".join(f"- On {i + 1} May 2018 meeting {i}.\n  {u}\n" for i, u in enumerate(codes)),
                      encoding="utf-8")
    assert run_cli(["init"], cfg).code == 0
    assert run_cli(["ingest", str(report)], cfg).code == 0
    engine, Session = _sessionmaker(cfg)
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ARCHIVER", "AWS_"))}
        proc = subprocess.Popen([sys.executable, "-m", "archiver", "--config", str(cfg), "run", "--json"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # in the middle of the work, with records written
            with Session() as s:
                if s.scalar(select(func.count()).select_from(Capture)) >= 2:
                    break
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        left = glob.glob(str(tmp_path / "spool" / "warcs" / "*.warc.gz.open"))
        assert left, "the killed pass left no unfinished WARC file"
        with open(left[0], "ab") as fh:
            fh.write(b"\x1f\x8b\x08\x00torn")  # a record cut mid-write
        name = os.path.basename(left[0])[: -len(".open")]
        assert f"archive/warcs/{name}" not in _objects(s3_server, bucket, "archive/warcs/")

        r = run_cli(["run", "--json"], cfg)
        assert r.code == 0, r.err
        assert not glob.glob(str(tmp_path / "spool" / "warcs" / "*"))  # repaired, uploaded, removed
        stored = _objects(s3_server, bucket, "archive/warcs/")
        assert f"archive/warcs/{name}" in stored
        with Session() as s:
            targets = s.scalars(select(Target)).all()
            assert all(t.status == "captured" and t.stage == "done" for t in targets)
            for t in targets:
                assert len([c for c in t.captures if c.role == "target"]) == 1, t.url
            row = s.scalar(select(WarcFile).where(WarcFile.path == f"warcs/{name}"))
            assert row.location == f"s3://{bucket}/archive" and row.state == "finished"
            # what the killed pass wrote can be read back after the repair, from the store
            rescued = s.scalars(select(Capture).where(Capture.warc_file == f"warcs/{name}")).all()
            assert rescued
        v = run_cli(["verify", "--json"], cfg)
        assert v.code == 0, v.out

        # tamper one object in the store: one byte of a record changes
        client = s3_server.client()
        key = f"archive/warcs/{name}"
        data = bytearray(client.get_object(Bucket=bucket, Key=key)["Body"].read())
        data[len(data) // 2] ^= 0x01
        client.put_object(Bucket=bucket, Key=key, Body=bytes(data))
        v = run_cli(["verify", "--json"], cfg)
        assert v.code == 1
        problems = v.json()["problems"]
        assert {p["file"] for p in problems} == {f"warcs/{name}"}
        assert any(p["kind"] == "manifest_mismatch" and "sha256" in p["detail"] for p in problems)

        # and a deleted object is missing, not silently read from elsewhere
        client.delete_object(Bucket=bucket, Key=key)
        v = run_cli(["verify", "--json"], cfg)
        assert v.code == 1 and any(p["kind"] == "missing_file" for p in v.json()["problems"])
    finally:
        engine.dispose()


def test_uploads_are_multipart_for_big_files_checked_by_sha256_and_read_by_range(tmp_path, s3_server, bucket):
    from archiver.capture.read import open_payload
    from archiver.capture.warcfile import WarcSink
    from archiver.config import Settings

    settings = Settings.model_validate({"storage": {
        "root": str(tmp_path / "spool"), **s3_server.storage(bucket, s3={"multipart_threshold": 5 << 20,
                                                                           "multipart_chunk": 5 << 20})}})
    big = os.urandom(11 << 20)  # incompressible: an 11 MiB gzip member, so the file goes up in 3 parts
    with WarcSink(settings) as sink:
        b = sink.builder
        refs = sink.write_records([b.create_warc_record("urn:test:big", "resource", payload=_stream(big),
                                                        warc_content_type="application/octet-stream"),
                                   b.create_warc_record("urn:test:small", "resource", payload=_stream(b"tiny"),
                                                        warc_content_type="text/plain")])
    assert sink.uploads.uploaded == [refs[0].warc_file] and not sink.uploads.failures
    head = s3_server.client().head_object(Bucket=bucket, Key=f"archive/{refs[0].warc_file}")
    assert head["ETag"].strip('"').endswith("-3")  # three parts
    assert not (tmp_path / "spool" / refs[0].warc_file).exists()

    store = open_store(settings.storage)
    ranges = []
    store.client.meta.events.register("before-send.s3.GetObject",
                                      lambda request, **kw: ranges.append(request.headers.get("Range")))
    _h, stream = open_payload(store, refs[1].warc_file, refs[1].offset)
    with stream:
        assert stream.read() == b"tiny"
    assert len(ranges) == 1  # one ranged GET, of a small window: not the 11 MiB object
    first, last = (int(x) for x in ranges[0].decode().split("=")[1].split("-"))
    assert first == refs[1].offset and last - first < 1 << 20

    # a file whose bytes are not the sha256 given is refused, and nothing is left claiming otherwise
    bad = tmp_path / "x.warc.gz"
    bad.write_bytes(b"abc")
    with pytest.raises(StoreError, match="sha256"):
        store.put_file(bad, "warcs/x.warc.gz", sha256="0" * 64)


def _stream(data: bytes):
    import io

    return io.BytesIO(data)


def test_a_failed_upload_stays_in_the_spool_and_goes_up_with_the_next_sink(tmp_path, s3_server):
    from archiver.capture.warcfile import WarcSink
    from archiver.config import Settings

    bucket = "not-created-yet"
    settings = Settings.model_validate({"storage": {"root": str(tmp_path / "spool"), **s3_server.storage(bucket)}})
    with WarcSink(settings) as sink:
        ref = sink.write_records([sink.builder.create_warc_record("urn:test:a", "resource", payload=_stream(b"a"),
                                                                  warc_content_type="text/plain")])[0]
    assert sink.uploads.failures == [ref.warc_file] and (tmp_path / "spool" / ref.warc_file).exists()
    s3_server.client().create_bucket(Bucket=bucket)
    again = WarcSink(settings)
    assert again.uploads.uploaded == [ref.warc_file] and not (tmp_path / "spool" / ref.warc_file).exists()
    again.close()


@pytest.mark.parametrize("key", ["../x", "warcs/../../etc/passwd", "/etc/passwd", "warcs/a/../b", "exports/",
                                 "other/x.warc.gz", "warcs/.hidden", "warcs/a\x00b", "warcs\\x"])
def test_keys_outside_the_store_folders_are_refused(key):
    with pytest.raises(StoreError):
        check_key(key)


def test_stored_names_from_the_command_line_are_checked(tmp_path, db_url, sim, s3_server, bucket):
    cfg = _config(tmp_path, db_url, sim, s3_server, bucket)
    assert run_cli(["init"], cfg).code == 0
    r = run_cli(["verify-export", "--stored", "../warcs/x.wacz"], cfg)
    assert r.code == 2 and "refusing storage key" in r.err and "Traceback" not in r.err
    r = run_cli(["export", "--report", "1", "--stored", "a/b.wacz"], cfg)
    assert r.code == 2 and "no folder" in r.err
    r = run_cli(["verify-export", "--stored", "nope.wacz"], cfg)
    assert r.code == 2 and "no package nope.wacz" in r.err


def test_init_refuses_a_bucket_it_cannot_reach_in_one_line(tmp_path, db_url, sim, s3_server):
    cfg = _config(tmp_path, db_url, sim, s3_server, "no-such-bucket-here")
    r = run_cli(["init"], cfg)
    assert r.code == 2 and r.err.startswith("error: storage.url:") and "NoSuchBucket" in r.err, r.err
    assert "Traceback" not in r.err and len(r.err.strip().splitlines()) == 1


@pytest.mark.tampers
def test_keep_local_keeps_the_spool_copy_and_verify_checks_it_too(tmp_path, db_url, sim, s3_server, bucket):
    cfg = _config(tmp_path, db_url, sim, s3_server, bucket, keep_local=True)
    _run_report(tmp_path, cfg, sim)
    kept = sorted(glob.glob(str(tmp_path / "spool" / "warcs" / "*.warc.gz")))
    stored = _objects(s3_server, bucket, "archive/warcs/")
    assert kept and {f"archive/warcs/{os.path.basename(k)}" for k in kept} == set(stored)
    assert run_cli(["verify"], cfg).code == 0
    with open(kept[0], "r+b") as fh:  # the kept copy changes; the object does not
        fh.seek(200)
        byte = fh.read(1)
        fh.seek(200)
        fh.write(bytes([byte[0] ^ 1]))
    v = run_cli(["verify", "--json"], cfg)
    assert v.code == 1
    assert [p["kind"] for p in v.json()["problems"]] == ["manifest_mismatch"]
    assert "spool copy" in v.json()["problems"][0]["detail"]
