"""Engines and sessions. Nothing here opens a session implicitly: callers own them."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.orm import Session, sessionmaker

from ..config import Settings
from ..errors import ConfigError, NotInitialised


def make_engine(settings: Settings) -> Engine:
    url = settings.database_url
    kwargs: dict = {"echo": settings.database.echo, "future": True}
    if url.startswith("sqlite"):
        db_path = url.split("///", 1)[-1]
        if db_path and db_path != ":memory:":
            Path(db_path).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": 60, "check_same_thread": False}
    else:
        kwargs["pool_pre_ping"] = True
    try:
        engine = create_engine(url, **kwargs)
    except Exception as exc:  # bad URL or missing driver
        raise ConfigError(f"config: 'database.url': cannot use {url.split('://')[0]!r} ({exc})") from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=60000")
    cur.close()


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def require_schema(engine: Engine) -> None:
    """Raise NotInitialised (one line) when the database has no archiver schema."""
    try:
        names = set(inspect(engine).get_table_names())
    except Exception as exc:
        raise ConfigError(f"database: cannot connect ({str(exc).splitlines()[0]})") from exc
    if "alembic_version" not in names or "reports" not in names:
        raise NotInitialised("database is not initialised: run `archiver init` first")
