"""`archiver init` where it cannot work: storage it may not write, a database it cannot open or reach.
One line on stderr and the README's exit codes (2: the configuration points somewhere unusable;
1: the database server did not answer), never a traceback.

Tests may run as root, for whom chmod does not stop writes: the unwritable places are ones root
cannot write either (a path under a regular file, /proc)."""
from __future__ import annotations

import socket

import pytest

from tests.conftest import run_cli, write_config

pytestmark = pytest.mark.tampers  # the configurations point at unusable databases: no store to check after


def _one_line(r, code):
    assert r.code == code, (r.code, r.out, r.err)
    assert r.err.startswith("error: ") and r.err.count("\n") == 1, r.err
    assert "Traceback" not in r.err and not r.out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again: nobody listens there


@pytest.mark.parametrize("where", ["under-a-file", "proc"])
def test_storage_that_cannot_be_written(tmp_path, where):
    (tmp_path / "file").write_text("x")
    root = tmp_path / "file" / "storage" if where == "under-a-file" else "/proc/self/archiver-storage"
    cfg = write_config(tmp_path, f"sqlite:///{tmp_path}/archiver.db", storage={"root": str(root)})
    r = run_cli(["init"], cfg)
    _one_line(r, 2)
    assert "storage.root: cannot write in" in r.err and str(root) in r.err


def test_existing_storage_that_cannot_be_written(tmp_path):
    """/proc/self exists (mkdir passes) but nothing can be created in it: found before the database."""
    cfg = write_config(tmp_path, f"sqlite:///{tmp_path}/archiver.db", storage={"root": "/proc/self"})
    r = run_cli(["init"], cfg)
    _one_line(r, 2)
    assert "cannot write in /proc/self" in r.err
    assert not (tmp_path / "archiver.db").exists()


@pytest.mark.parametrize("db", ["under-a-file", "proc"])
def test_sqlite_database_that_cannot_be_opened(tmp_path, db):
    (tmp_path / "file").write_text("x")
    path = tmp_path / "file" / "archiver.db" if db == "under-a-file" else "/proc/self/archiver.db"
    cfg = write_config(tmp_path, f"sqlite:///{path}")
    r = run_cli(["init"], cfg)
    _one_line(r, 2)
    assert "database.url" in r.err
    assert run_cli(["status"], cfg).code == 2  # every other command says the same in one line


def test_unreachable_database_server(tmp_path):
    url = f"postgresql+psycopg://archiver:secret@127.0.0.1:{_free_port()}/archiver?connect_timeout=3"
    cfg = write_config(tmp_path, url)
    r = run_cli(["init"], cfg)
    _one_line(r, 1)
    assert "database: cannot connect to postgresql+psycopg://archiver:***@127.0.0.1" in r.err
    assert "secret" not in r.err
    r = run_cli(["reports"], cfg)
    _one_line(r, 1)
