"""Engines and sessions. Nothing here opens a session implicitly: callers own them.

The connection pool is sized from ``fetch.concurrency`` (:func:`pool_limits`): each worker
thread of a pass holds one connection (its stage's session) and never waits for a
second one. Code running inside a stage that needs the database (the revisit look-up
of capture/recorder.py) uses the stage's own session (:func:`current_stage_session`)
instead of opening another.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy import exc as exc_mod

from ..config import Settings
from ..errors import ConfigError, DatabaseUnavailable, NotInitialised

if TYPE_CHECKING:  # the ORM is imported by the commands that use it: `archiver search` reads through Core
    from sqlalchemy.orm import Session, sessionmaker


def make_engine(settings: Settings) -> Engine:
    url = settings.database_url
    size, overflow = pool_limits(settings)
    kwargs: dict = {"echo": settings.database.echo, "future": True, "pool_size": size, "max_overflow": overflow}
    if url.startswith("sqlite"):
        db_path = url.split("///", 1)[1] if "///" in url else ""
        if db_path and db_path != ":memory:" and "mode=memory" not in db_path:
            folder = Path(db_path.split("?", 1)[0]).parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(f"config: 'database.url': cannot create the folder {folder} "
                                  f"({exc.strerror or exc})") from exc
        else:  # an in-memory database lives in one connection (SingletonThreadPool): no pool to size
            del kwargs["pool_size"], kwargs["max_overflow"]
        kwargs["connect_args"] = {"timeout": 60, "check_same_thread": False}
    else:
        kwargs["pool_pre_ping"] = True
    try:
        engine = create_engine(url, **kwargs)
    except Exception as exc:  # bad URL or missing driver
        raise ConfigError(f"config: 'database.url': cannot use {url.split('://')[0]!r} ({exc})") from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        _SqliteWriters().attach(engine)
    return engine


def pool_limits(settings: Settings) -> tuple[int, int]:
    """(pool_size, max_overflow): one connection per worker thread (``fetch.concurrency``) plus the
    pass's own (claims, heartbeat, the run row) and headroom; the overflow covers the rare second
    session a worker opens outside its stage (the WARC sink's file rows when a file rotates), so
    that no thread ever waits for a connection."""
    size = settings.fetch.concurrency + 4
    return size, size


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=60000")
    cur.close()


class _SqliteWriters:
    """One writing transaction at a time in this process, queued on a lock.

    SQLite allows one writer; a second one gets SQLITE_BUSY and its busy handler sleeps (1, 2,
    5 … up to 100 ms a try) before asking again. With a pass's worker threads committing one
    item each, those sleeps were most of a capture stage's wall time. So a connection takes
    this lock before its first write statement and gives it back when its transaction ends
    (the dialect's commit or rollback, or the pool taking the connection back): the next
    writer starts the moment the lock is free. Other processes still meet SQLite's own lock
    and busy timeout. A thread's second connection does not wait for its first, and no one
    waits longer than the busy timeout, after which SQLite decides as before: no deadlock
    here that SQLite would not have had."""

    _WRITES = ("insert", "update", "delete", "replace", "create", "drop", "alter")

    def __init__(self, timeout_s: float = 60.0):
        self._lock = threading.Lock()  # not an RLock: a transaction may end on another thread
        self._guard = threading.Lock()
        self._owner: int | None = None
        self._depth = 0
        self._holders: set[int] = set()  # id() of the DBAPI connections holding the lock
        self._timeout = timeout_s

    def attach(self, engine: Engine) -> None:
        event.listen(engine, "before_cursor_execute", self._before)
        dialect = engine.dialect
        for name in ("do_commit", "do_rollback"):
            setattr(dialect, name, self._ending(getattr(dialect, name)))
        event.listen(engine.pool, "checkin", lambda dbapi_conn, record: self._end(dbapi_conn))
        event.listen(engine.pool, "invalidate", lambda dbapi_conn, record, exc: self._end(dbapi_conn))

    def _ending(self, original):
        def end_transaction(dbapi_connection):
            try:
                original(dbapi_connection)
            finally:
                self._end(getattr(dbapi_connection, "dbapi_connection", dbapi_connection))
        return end_transaction

    def _before(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if not statement.lstrip()[:7].lower().startswith(self._WRITES):
            return
        key = id(conn.connection.dbapi_connection)
        with self._guard:
            if key in self._holders:
                return
            if self._owner == threading.get_ident():  # this thread's second connection: SQLite decides
                self._depth += 1
                self._holders.add(key)
                return
        if self._lock.acquire(timeout=self._timeout):
            with self._guard:
                self._owner, self._depth = threading.get_ident(), 1
                self._holders.add(key)

    def _end(self, dbapi_connection) -> None:
        with self._guard:
            key = id(dbapi_connection)
            if key not in self._holders:
                return
            self._holders.discard(key)
            self._depth -= 1
            if self._depth:
                return
            self._owner = None
        self._lock.release()


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    from sqlalchemy.orm import sessionmaker

    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def database_errors(engine: Engine) -> Iterator[None]:
    """A database that cannot be reached or opened, as one line: DatabaseUnavailable (exit 1) for
    a server that does not answer, ConfigError (exit 2) for an SQLite file that cannot be opened
    or written where the configuration puts it."""
    try:
        yield
    except (exc_mod.OperationalError, exc_mod.InterfaceError) as exc:
        text = str(getattr(exc, "orig", None) or exc).strip()
        detail = text.splitlines()[0] if text else type(exc).__name__
        where = engine.url.render_as_string(hide_password=True)
        if engine.dialect.name == "sqlite":
            raise ConfigError(f"database: cannot open or write {engine.url.database or where} ({detail}); "
                              "check 'database.url' and 'storage.root'") from exc
        raise DatabaseUnavailable(f"database: cannot connect to {where} ({detail})") from exc


def require_schema(engine: Engine) -> None:
    """Raise NotInitialised (one line) when the database has no archiver schema."""
    with database_errors(engine):
        names = set(inspect(engine).get_table_names())
    if "alembic_version" not in names or "reports" not in names:
        raise NotInitialised("database is not initialised: run `archiver init` first")


_stage = threading.local()


@contextmanager
def stage_session(session: Session) -> Iterator[Session]:
    """Make ``session`` the session of the stage running on this thread (see current_stage_session)."""
    prev = getattr(_stage, "session", None)
    _stage.session = session
    try:
        yield session
    finally:
        _stage.session = prev


def current_stage_session() -> Session | None:
    """The session of the pipeline stage running on this thread, if any: code called from a stage
    reads through it rather than taking a second pooled connection."""
    return getattr(_stage, "session", None)
