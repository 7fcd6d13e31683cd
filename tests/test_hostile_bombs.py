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
from tests.conftest import write_config
from tests.hostile_bombs import brotli_bomb_bytes, gzip_bomb, gzip_bomb_bytes, long_line_dump, wacz_bomb
from tests.servers.wire import Reply, WireServer, response_head

REPO = Path(__file__).resolve().parents[1]
ADDRESS_SPACE = 1536 << 20  # 1.5 GiB of virtual memory for the whole CLI process
GIB = 1 << 30

pytestmark = pytest.mark.tampers  # a bomb is kept as sent: the store check would re-read gigabytes


def _limit():
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def cli(config: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """`archiver --config CONFIG args` in a subprocess under the address-space limit."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "MALLOC_ARENA_MAX": "2"}
    proc = subprocess.run([sys.executable, "-m", "archiver", "--config", str(config), *args], env=env,
                          capture_output=True, text=True, timeout=timeout, preexec_fn=_limit)
    assert "MemoryError" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="session")
def bombs():
    """Encoded bodies inflating to 4 GiB, generated once (about 5 MB in memory in all)."""
    gz = gzip_bomb_bytes(4 * GIB, prefix=b"%PDF-1.4\n")
    return {
        "gzip": gz,
        "br": brotli_bomb_bytes(4 * GIB, prefix=b"%PDF-1.4\n"),
        "gzip, gzip": gzip_bomb_bytes(0, prefix=gz),  # a 4 MB gzip inside a gzip: a few kB as sent
    }


@pytest.fixture
def sqlite_config(tmp_path):
    return write_config(tmp_path, f"sqlite:///{(tmp_path / 'archiver.db').as_posix()}",
                        fetch={"soft404_probe": False, "requisites": {"enabled": False}})


def _serve(srv: WireServer, path: str, ctype: str, coding: str, body: bytes) -> str:
    head = response_head("200 OK", [("Content-Type", ctype), ("Content-Encoding", coding),
                                    ("Content-Length", str(len(body)))])
    return srv.route(path, Reply([head, body]))


@pytest.mark.parametrize("coding", ["gzip", "br", "gzip, gzip"])
@pytest.mark.parametrize("ctype", ["application/pdf", "text/html", "text/plain"])
def test_run_on_an_encoded_bomb_target_stays_bounded(tmp_path, sqlite_config, bombs, coding, ctype):
    with WireServer() as srv:
        url = _serve(srv, "/doc", ctype, coding, bombs[coding])
        (tmp_path / "r.txt").write_text(f"- On 1 May 2018 the plan was published.\n  {url}\n")
        assert cli(sqlite_config, "init").returncode == 0
        assert cli(sqlite_config, "ingest", str(tmp_path / "r.txt")).returncode == 0
        run = cli(sqlite_config, "run", "--json")
    assert run.returncode == 0, run.stderr
    doc = json.loads(run.stdout)
    assert doc["captured"] == 1 and doc["extracted"] == 1
    engine = create_engine(f"sqlite:///{tmp_path / 'archiver.db'}")
    with Session(engine) as s:
        cap = s.scalars(select(Capture).where(Capture.url == url)).one()
        ext = s.scalars(select(Extraction).where(Extraction.capture_id == cap.id)).one()
        assert s.scalars(select(Target)).one().status == "captured"
    engine.dispose()
    assert cap.payload_length == len(bombs[coding]) and not cap.truncated  # the WARC keeps it as sent
    if ctype == "application/pdf":
        assert ext.error and "extract.max_pdf_bytes" in ext.error
    else:  # text cut at the extraction limits, which are far below the bomb
        assert ext.text and len(ext.text) <= 2_000_000


def test_get_of_a_bomb_writes_at_most_max_bytes(tmp_path, bombs):
    cfg = write_config(tmp_path, f"sqlite:///{(tmp_path / 'archiver.db').as_posix()}",
                       fetch={"soft404_probe": False, "max_bytes": 50_000_000, "requisites": {"enabled": False}})
    with WireServer() as srv:
        url = _serve(srv, "/doc", "application/octet-stream", "gzip, gzip", bombs["gzip, gzip"])
        (tmp_path / "r.txt").write_text(f"- On 1 May 2018 the plan was published.\n  {url}\n")
        assert cli(cfg, "init").returncode == 0 and cli(cfg, "ingest", str(tmp_path / "r.txt")).returncode == 0
        assert cli(cfg, "run", "--json").returncode == 0
    got = cli(cfg, "get", url, "-o", str(tmp_path / "body"))
    assert got.returncode == 0, got.stderr
    assert (tmp_path / "body").stat().st_size == 50_000_000
    assert "fetch.max_bytes" in got.stderr


# ---- files: a WACZ, a dump -------------------------------------------------------------------------

@pytest.mark.parametrize("lie", [False, True], ids=["sizes-declared", "sizes-lie"])
def test_verify_export_refuses_a_datapackage_bomb(tmp_path, sqlite_config, lie):
    pkg = wacz_bomb(tmp_path / "bomb.wacz", 3 * GIB, lie=lie)
    assert pkg.stat().st_size < 4_000_000
    got = cli(sqlite_config, "verify-export", str(pkg))
    assert got.returncode == 1
    assert "datapackage.json" in got.stdout and ("larger than" in got.stdout or "CRC" in got.stdout
                                                 or "unreadable" in got.stdout), got.stdout
    doc = json.loads(cli(sqlite_config, "verify-export", str(pkg), "--json").stdout)
    assert not doc["ok"] and doc["problems"][0]["file"] == "datapackage.json"


def test_dumps_import_skips_a_2_gib_line(tmp_path, sqlite_config):
    dump = long_line_dump(tmp_path / "goo.gl.txt.gz", 2 * GIB)  # past the address-space limit
    assert cli(sqlite_config, "init").returncode == 0
    got = cli(sqlite_config, "dumps", "import", str(dump), "--json")
    assert got.returncode == 0, got.stderr
    doc = json.loads(got.stdout)
    assert doc["entries"] == 4 and doc["overlong_lines"] == 1
