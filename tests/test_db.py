from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from archiver.db import migrate
from archiver.db.base import Base
from tests.conftest import run_cli


def test_init_twice_is_harmless(cli, config_file):
    r = run_cli(["init", "--json"], config_file)
    assert r.code == 0, r.err
    doc = r.json()
    assert doc["changed"] is False and doc["revision"] == doc["revision_before"]


def test_migrations_match_models(engine):
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    # FTS / tsvector objects are created by migrations outside the ORM models
    diff = [d for d in diff if "search" not in str(d)]
    assert diff == []


def test_downgrade_and_upgrade_again(engine):
    migrate.downgrade(engine, "base")
    assert "reports" not in inspect(engine).get_table_names()
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision(engine)


def test_commands_refuse_uninitialised_database(config_file):
    r = run_cli(["reports"], config_file)
    assert r.code == 2
    assert "archiver init" in r.err and "Traceback" not in r.err
