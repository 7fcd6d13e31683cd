"""Shared fixtures: settings in a temp folder, a migrated database on SQLite and
(when ARCHIVER_TEST_DATABASE_URL is set) PostgreSQL, and an in-process CLI runner.

Every PostgreSQL test gets a schema of its own (search_path), dropped afterwards,
so tests clean up after themselves and can run in parallel.
"""
from __future__ import annotations

import io
import ipaddress
import os
import socket
import uuid
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from sqlalchemy import create_engine, text

from archiver.config import load_settings
from archiver.db import migrate
from archiver.db.session import make_engine, make_sessionmaker

REPO = Path(__file__).resolve().parents[1]
SAMPLE_REPORT = REPO / "examples" / "ogp-azerbaijan-2016-2018.txt"
PG_URL = os.environ.get("ARCHIVER_TEST_DATABASE_URL")

BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])

_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", socket.gethostname()}
_real_getaddrinfo = socket.getaddrinfo


def _is_local_name(host) -> bool:
    if host is None:
        return True
    name = host.decode() if isinstance(host, bytes) else str(host)
    name = name.strip("[]").lower()
    try:
        ipaddress.ip_address(name.split("%")[0])
        return True  # an address, not a name: no DNS query is made
    except ValueError:
        return name in _LOCAL_NAMES or name.endswith(".localhost")


def _local_getaddrinfo(host, *args, **kwargs):
    """Nothing in the tests may reach outside the machine, DNS included: names other than
    localhost fail as they would offline, without a query to the configured resolver."""
    if not _is_local_name(host):
        raise socket.gaierror(socket.EAI_NONAME, f"Name or service not known (tests resolve no outside names: {host})")
    return _real_getaddrinfo(host, *args, **kwargs)


@pytest.fixture(autouse=True)
def _no_outside_dns(monkeypatch):
    monkeypatch.setattr(socket, "getaddrinfo", _local_getaddrinfo)


@pytest.fixture(autouse=True)
def _archive_limits_forgotten():
    """Each test starts with the archives' process-wide state as a new process has it (resolve/ratelimit.py):
    none known to be unreachable (an archive's name, e.g. simarchive, is shared by many tests), whole rates,
    none held in a Redis another test named."""
    yield
    from archiver.resolve import ratelimit

    ratelimit.reset()


@pytest.fixture(autouse=True)
def _no_browser_capture(request, monkeypatch):
    """capture.browser is "auto" by default: in-process pipelines of tests that did not ask for the
    browser (marker ``browser_capture``) capture without it, whatever settings they built."""
    if request.node.get_closest_marker("browser_capture") is None:
        import archiver.capture.browse as browse

        monkeypatch.setattr(browse, "browser_mode", lambda url, settings: "never")


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path):
    """A database URL for one test: a temp SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{(tmp_path / 'archiver.db').as_posix()}"
        return
    schema = "t_" + uuid.uuid4().hex[:12]
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def write_config(tmp_path: Path, db_url: str, *, name: str = "config.yaml", **sections) -> Path:
    """Write a config file for a test; sections are merged over the test defaults.

    Give another `name` when a test also uses the `config_file`/`Session` fixtures, which
    write config.yaml in the same folder."""
    data = {
        "database": {"url": db_url},
        "storage": {"root": str(tmp_path / "storage")},
        "fetch": {"allow_private_addresses": True, "politeness_delay_s": 0, "timeout_s": 5,
                  "retry_base_s": 0},
        # no Chromium unless a test asks for it (tests/test_browser_capture.py): the suite stays fast
        "capture": {"browser": "never"},
        # no Internet Archive (the shipped default) unless a test names its archives: nothing in the tests
        # may reach outside the machine, and its subprocesses have no DNS guard (_no_outside_dns)
        "resolver": {"archives": []},
    }
    for key, value in sections.items():
        data.setdefault(key, {}).update(value)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def s3_server():
    """moto's S3 server on 127.0.0.1 for the session (tests/servers/s3.py); each test makes its own bucket."""
    from tests.servers import s3

    server, handle = s3.start()
    yield handle
    server.stop()


@pytest.fixture
def config_file(tmp_path, db_url):
    return write_config(tmp_path, db_url)


@pytest.fixture
def settings(config_file):
    return load_settings(config_file, env={})


@pytest.fixture
def engine(settings):
    eng = make_engine(settings)
    migrate.upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def Session(engine):
    return make_sessionmaker(engine)


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def json(self):
        import json
        return json.loads(self.out)


def run_cli(args: list[str], config: Path | None = None, env: dict | None = None) -> CliResult:
    """Run the CLI in-process, as a user would from a shell, and capture what it prints."""
    from archiver.cli import main

    argv = (["--config", str(config)] if config else []) + [str(a) for a in args]
    out, err = io.StringIO(), io.StringIO()
    old_env = dict(os.environ)
    os.environ.update(env or {})
    code = 0
    try:
        with redirect_stdout(out), redirect_stderr(err):
            main(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        os.environ.clear()
        os.environ.update(old_env)
    return CliResult(code, out.getvalue(), err.getvalue())


@pytest.fixture
def cli(config_file):
    """cli(*args) runs `archiver --config <test config> args...`; init is done first."""
    assert run_cli(["init"], config_file).code == 0

    def _run(*args, env=None):
        return run_cli(list(args), config_file, env)

    return _run


# ---- every store a test leaves behind must verify and export (issue 8, "Done when") ----------------

def pytest_configure(config):
    config.addinivalue_line("markers", "browser_capture: the pipeline may load pages in Chromium (capture.browser)")
    config.addinivalue_line("markers", "tampers: the test damages its store, or fills it with stand-in bytes, "
                            "on purpose (its store is not checked after it)")


def _stores(tmp_path: Path):
    """(config file, settings) for each initialised store a test wrote under tmp_path."""
    from archiver.config import load_settings

    seen = set()
    for cfg in sorted(tmp_path.rglob("*.yaml")):
        try:
            data = yaml.safe_load(cfg.read_text(encoding="utf-8")) or {}
            if not isinstance(data, dict) or "database" not in data or "storage" not in data:
                continue
            s = load_settings(cfg, env={})
        except Exception:
            continue
        key = (s.database.url, str(s.storage.root))
        if key in seen or not (Path(s.storage.root) / "warcs").is_dir():
            continue
        seen.add(key)
        yield cfg, s


def check_store(settings, out_dir: Path) -> list[str]:
    """`verify` finds no problem, and every activity exports to a WACZ that `verify-export` accepts."""
    from sqlalchemy import inspect, select

    from archiver.db.tables import Activity
    from archiver.export.evidence import select_activity
    from archiver.export.verify import verify_storage
    from archiver.export.verify_wacz import verify_package
    from archiver.export.wacz import export_wacz
    from archiver.store import open_store

    engine = make_engine(settings)
    try:
        if not inspect(engine).has_table("captures"):
            return []
        Session = make_sessionmaker(engine)
        problems: list[str] = []
        with Session() as session:
            report = verify_storage(session, open_store(settings.storage))
            problems += [f"verify: {p.line()}" for p in report.problems]
            if problems:
                return problems
            for aid in session.scalars(select(Activity.id)).all():
                out = out_dir / f"store-check-{aid}.wacz"
                selection = select_activity(session, aid)
                try:
                    export_wacz(session, open_store(settings.storage), selection, out, software="store-check")
                except Exception as exc:
                    problems.append(f"export of activity {aid}: {type(exc).__name__}: {exc}")
                    continue
                pkg = verify_package(out)
                problems += [f"verify-export of activity {aid}: {p.line()}" for p in pkg.problems]
                out.unlink()
        return problems
    finally:
        engine.dispose()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_teardown(item, nextitem):
    """Before fixtures are torn down (PostgreSQL schemas dropped), check the stores the test made;
    fail the test's teardown afterwards, so that teardown itself still runs."""
    problems = []
    tmp = getattr(item, "funcargs", {}).get("tmp_path")
    rep = getattr(item, "rep_call", None)
    if tmp is not None and not item.get_closest_marker("tampers") and rep is not None and rep.passed:
        out_dir = Path(tmp) / ".store-check"
        out_dir.mkdir(exist_ok=True)
        for cfg, s in _stores(Path(tmp)):
            problems += [f"{cfg.name}: {p}" for p in check_store(s, out_dir)]
    yield
    if problems:
        pytest.fail("the store this test left fails `verify` or `export`:\n" + "\n".join(problems[:20]),
                    pytrace=False)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call":
        item.rep_call = rep
