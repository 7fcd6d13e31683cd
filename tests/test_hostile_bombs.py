"""Bombs (issue 9, "Memory and time bounds on hostile input"): a body or a file that is small as sent
and gigantic once inflated. Each CLI command runs in a subprocess limited to ADDRESS_SPACE of
address space (RLIMIT_AS): it must finish, or fail with its one-line error, never with a
MemoryError or a traceback. The bombs inflate to 3-4 GiB, well past that limit, so a reader that
decodes without a bound cannot pass.
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from archiver.db.tables import Capture, Extraction, Target
from tests.conftest import run_cli, write_config
from tests.hostile_bombs import brotli_bomb_bytes, gzip_bomb_bytes, long_line_dump, wacz_bomb
from tests.servers.wire import Reply, WireServer, response_head

REPO = Path(__file__).resolve().parents[1]
ADDRESS_SPACE = 1536 << 20  # 1.5 GiB of virtual memory for the whole CLI process
GIB = 1 << 30

pytestmark = pytest.mark.tampers  # a bomb is kept as sent: the store check would re-read gigabytes


def cli(config: Path, *args: str, timeout: float = 120, env: dict | None = None,
        limit: int = ADDRESS_SPACE) -> subprocess.CompletedProcess:
    """`archiver --config CONFIG args` in a subprocess under the address-space limit."""
    env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    proc = subprocess.run([sys.executable, "-m", "archiver", "--config", str(config), *args], env=env,
                          capture_output=True, text=True, timeout=timeout,
                          preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit)))
    assert "MemoryError" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return proc


def _bombs() -> dict[str, bytes]:
    """Encoded bodies inflating to 4 GiB (about 5 MB in memory in all)."""
    gz = gzip_bomb_bytes(4 * GIB, prefix=b"%PDF-1.4\n")
    return {
        "gzip": gz,
        "br": brotli_bomb_bytes(4 * GIB, prefix=b"%PDF-1.4\n"),
        "gzip, gzip": gzip_bomb_bytes(0, prefix=gz),  # a 4 MB gzip inside a gzip: a few kB as sent
    }


# every coding on a PDF (read whole by pypdf: extract.max_pdf_bytes), and the two text readers
CASES = [("gzip", "application/pdf"), ("br", "application/pdf"), ("gzip, gzip", "application/pdf"),
         ("gzip", "text/html"), ("br", "text/plain")]


@pytest.fixture(scope="module")
def bombed(tmp_path_factory):
    """One store after `run` (in a subprocess, under the limit) over a report citing the bomb
    targets of CASES, all fetched and extracted concurrently."""
    root = tmp_path_factory.mktemp("bombed")
    cfg = write_config(root, f"sqlite:///{(root / 'archiver.db').as_posix()}",
                       fetch={"soft404_probe": False, "requisites": {"enabled": False}})
    bombs = _bombs()
    with WireServer() as srv:
        urls = {}
        for i, (coding, ctype) in enumerate(CASES):
            body = bombs[coding]
            head = response_head("200 OK", [("Content-Type", ctype), ("Content-Encoding", coding),
                                            ("Content-Length", str(len(body)))])
            urls[(coding, ctype)] = srv.route(f"/doc{i}", Reply([head, body]))
        report = "".join(f"- On {i + 1} May 2018 the plan was published.\n  {u}\n" for i, u in enumerate(urls.values()))
        (root / "r.txt").write_text(report)
        assert run_cli(["init"], cfg).code == 0 and run_cli(["ingest", str(root / "r.txt")], cfg).code == 0
        run = cli(cfg, "run", "--json", timeout=300)
    return cfg, root, urls, bombs, run


def test_run_on_encoded_bomb_targets_stays_bounded(bombed):
    cfg, root, urls, bombs, run = bombed
    assert run.returncode == 0, run.stderr
    doc = json.loads(run.stdout)
    assert doc["captured"] == len(urls) and doc["extracted"] == len(urls)
    engine = create_engine(f"sqlite:///{root / 'archiver.db'}")
    with Session(engine) as s:
        for (coding, ctype), url in urls.items():
            cap = s.scalars(select(Capture).where(Capture.url == url)).one()
            ext = s.scalars(select(Extraction).where(Extraction.capture_id == cap.id)).one()
            assert s.scalars(select(Target).where(Target.url == url)).one().status == "captured"
            assert cap.payload_length == len(bombs[coding]) and not cap.truncated  # the WARC keeps it as sent
            if ctype == "application/pdf":
                assert ext.error and "extract.max_pdf_bytes" in ext.error, (coding, ext.error)
            else:  # text, cut at the extraction limits (far below the bomb); the bomb's NULs are not text
                assert ext.error is None and len(ext.text or "") <= 2_000_000, (coding, ctype, ext.error)
                assert "\x00" not in (ext.text or ""), (coding, ctype)
    engine.dispose()


def test_get_of_a_bomb_writes_at_most_max_bytes(bombed, tmp_path):
    cfg, _root, urls, _bombs, _run = bombed
    got = cli(cfg, "get", urls[("gzip, gzip", "application/pdf")], "-o", str(tmp_path / "body"),
              env={"ARCHIVER__FETCH__MAX_BYTES": "50000000"})
    assert got.returncode == 0, got.stderr
    assert (tmp_path / "body").stat().st_size == 50_000_000
    assert "fetch.max_bytes" in got.stderr


# ---- files: a WACZ, a dump -------------------------------------------------------------------------

@pytest.mark.parametrize("lie", [False, True], ids=["sizes-declared", "sizes-lie"])
def test_verify_export_refuses_a_datapackage_bomb(tmp_path, lie):
    pkg = wacz_bomb(tmp_path / "bomb.wacz", 3 * GIB, lie=lie)
    assert pkg.stat().st_size < 4_000_000
    got = cli(tmp_path / "none.yaml", "verify-export", str(pkg))  # needs no config: the file alone
    assert got.returncode == 1, got.stderr  # what verify-export answers for any package that fails
    problem = got.stdout.strip()
    assert problem.startswith("problem: datapackage_invalid: datapackage.json: ") and "\n" not in problem, problem
    assert ("larger than" in problem) if not lie else ("Bad CRC-32" in problem), problem


def test_dumps_import_skips_a_1_gib_line(tmp_path):
    cfg = write_config(tmp_path, f"sqlite:///{(tmp_path / 'archiver.db').as_posix()}")
    dump = long_line_dump(tmp_path / "goo.gl.txt.gz", 1 * GIB)
    assert run_cli(["init"], cfg).code == 0
    got = cli(cfg, "dumps", "import", str(dump), "--json", limit=900 << 20)  # less than the line
    assert got.returncode == 0, got.stderr
    doc = json.loads(got.stdout)
    assert doc["entries"] == 4 and doc["overlong_lines"] == 1


# ---- the same bounds, in-process (fast) ------------------------------------------------------------

def test_small_api_responses_are_refused_past_max_bytes_decoded():
    """CDX, TimeMaps and reports by URL go through HttpClient.get_bytes: bounded while inflating."""
    from archiver.config import FetchSettings
    from archiver.errors import TooLarge
    from archiver.net.http import HttpClient

    body = gzip_bomb_bytes(0, prefix=gzip_bomb_bytes(1 * GIB))  # a 1 GiB bomb inside a gzip: 3 kB sent
    with WireServer() as srv:
        url = srv.route("/cdx", Reply([response_head("200 OK", [("Content-Encoding", "gzip, gzip"),
                                                                ("Content-Length", str(len(body)))]), body]))
        with HttpClient(FetchSettings(allow_private_addresses=True, timeout_s=5)) as client:
            with pytest.raises(TooLarge, match="larger than 1000000 bytes"):
                client.get_bytes(url, max_bytes=1_000_000)


def test_a_record_whose_warc_headers_never_end_is_unreadable_not_read_whole():
    import io
    import time

    from archiver.export.records import RecordUnreadable, read_record

    member = gzip_bomb_bytes(1 * GIB, fill=b"a", prefix=b"WARC/1.1\r\nWARC-Type: response\r\nX: ")
    started = time.monotonic()
    with pytest.raises(RecordUnreadable, match="no end of headers"):
        read_record(io.BytesIO(member), 0, len(member))
    assert time.monotonic() - started < 10  # it stopped after 1 MiB; it did not inflate the gigabyte


def test_bounded_lines_skip_what_is_too_long():
    import gzip
    import io

    from archiver.bounded import OVERLONG, bounded_lines

    data = b"short\n" + b"x" * 100 + b"\n" + b"y" * 10 + b"\nlast"
    assert list(bounded_lines(io.BytesIO(data), 10)) == [b"short\n", OVERLONG, b"y" * 10 + b"\n", b"last"]
    stream = gzip.GzipFile(fileobj=io.BytesIO(gzip.compress(data)))
    assert list(bounded_lines(stream, 10))[1] is OVERLONG
