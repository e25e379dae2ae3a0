"""A service's database: SQLAlchemy 2.x engine and sessions, SQLite (WAL, foreign keys on) by
default and PostgreSQL from a URL; the unit of work every use case runs in; Alembic migrations
applied at start (under a PostgreSQL advisory lock, so replicas starting together are safe)."""

from __future__ import annotations

import logging
import os
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, Result, create_engine, event, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from google.protobuf.message import Message

log = logging.getLogger(__name__)


@overload
def utc(value: datetime) -> datetime: ...
@overload
def utc(value: None) -> None: ...
def utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every stored time is UTC (a NOT NULL column's stays a
    datetime for the type checker too)."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def rows_changed(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE changed (its result is a CursorResult, which SQLAlchemy
    types as a plain Result: the one place that says so)."""
    return int(result.rowcount)  # type: ignore[attr-defined]  # a CursorResult at run time


# How long a writer waits for SQLite's write lock (another process's, or this one's turn).
SQLITE_BUSY_SECONDS = 30


def make_engine(url: str, *, echo: bool = False) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, echo=echo, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_SECONDS}
        )
        _sqlite_tuning(engine)
        return engine
    pool_size = int(os.environ.get("CRM_DB_POOL_SIZE", "10"))
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=pool_size, max_overflow=pool_size)


def _sqlite_tuning(engine: Engine) -> None:
    """WAL, foreign keys, and explicit BEGIN handling: pysqlite's own transaction handling defers
    BEGIN and breaks SAVEPOINT; writers take the write lock up front (BEGIN IMMEDIATE) so that two
    writers queue instead of failing with "database is locked" on lock upgrade.

    Writers of one process queue on a Python lock before BEGIN IMMEDIATE: SQLite's own busy handler
    polls with sleeps that grow to 100 ms, so under 16 concurrent writers a few of them waited over
    a second while the lock was free most of the time (measured: p99 750 ms for 6 ms writes). The
    lock is let go when the transaction ends; busy_timeout still covers other processes."""
    write_lock = threading.Lock()

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
        # FULL: a committed transaction survives power loss too (the outbox relies on it).
        cur.execute("PRAGMA synchronous=FULL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        if conn.get_execution_options().get("crm_read_only", False):
            conn.exec_driver_sql("BEGIN")
            return
        if not write_lock.acquire(timeout=SQLITE_BUSY_SECONDS):
            raise TimeoutError(f"no write turn on the SQLite database in {SQLITE_BUSY_SECONDS} s")
        conn.info["crm_write_lock"] = True
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _let_go(conn)
            raise

    def _let_go(conn: Any) -> None:
        if conn.info.pop("crm_write_lock", False):
            write_lock.release()

    # Fired as the transaction ends (just before SQLite's COMMIT or ROLLBACK runs: the next writer's
    # BEGIN IMMEDIATE may wait a millisecond on busy_timeout for it).
    event.listen(engine, "commit", _let_go)
    event.listen(engine, "rollback", _let_go)


class Database:
    """One service's database handle: engine, session factory, and the commit hooks the outbox
    relay uses to wake up as soon as a transaction with events commits."""

    def __init__(self, url: str, service: str):
        self.url = url
        self.service = service
        self.engine = make_engine(url)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(self.engine.execution_options(crm_read_only=True), expire_on_commit=False)
        self._commit_hooks: list[Callable[[], None]] = []

    def on_events_committed(self, hook: Callable[[], None]) -> None:
        self._commit_hooks.append(hook)

    def _events_committed(self) -> None:
        for hook in self._commit_hooks:
            try:
                hook()
            except Exception:  # the change is committed; a hook must not turn that into an error
                log.exception("commit hook failed")

    def session(self, read_only: bool = False) -> Session:
        return (self._read_sessions if read_only else self._sessions)()

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only session (no write lock on SQLite); always rolled back."""
        session = self.session(read_only=True)
        try:
            yield session
        finally:
            session.rollback()
            session.close()

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(select(1))
            return True
        except (OperationalError, DBAPIError):
            return False

    def dispose(self) -> None:
        self.engine.dispose()


class UnitOfWork:
    """One business transaction: `with db.uow() as uow: ...; uow.commit()`. Anything not committed
    is rolled back on exit. Integration events added with `uow.add_event(msg)` go into the outbox
    table inside the same transaction, so they are published if and only if the change commits."""

    def __init__(self, database: Database):
        self.database = database
        self.session: Session
        self._events = 0

    def __enter__(self) -> UnitOfWork:
        self.session = self.database.session()
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.session.rollback()
        finally:
            self.session.close()

    def add_event(self, message: Message) -> str:
        """Stages an integration event; returns its event id."""
        return self.add_events([message])[0]

    def add_events(self, messages: Sequence[Message]) -> list[str]:
        """Stages many events in one statement (bulk paths: imports, conversions of many rows)."""
        from crm_platform.outbox import stage_events

        self._events += len(messages)
        return stage_events(self.session, self.database.service, messages)

    def commit(self) -> None:
        self.session.commit()
        if self._events:
            self._events = 0
            self.database._events_committed()


_migration_lock = threading.Lock()


def run_migrations(database: Database, script_location: str, *, retries: int = 30) -> None:
    """Applies the service's Alembic migrations up to head. Waits for an unreachable database
    (bounded), and on PostgreSQL holds an advisory lock so concurrent replicas migrate once."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", script_location)
    cfg.set_main_option("sqlalchemy.url", database.url.replace("%", "%%"))
    lock_key = zlib.crc32(f"crm-migrations-{database.service}".encode())
    delay = 0.2
    for attempt in range(1, retries + 1):
        try:
            with _migration_lock, database.engine.connect() as conn:
                if not database.is_sqlite:
                    conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": lock_key})
                    conn.commit()
                try:
                    cfg.attributes["connection"] = conn
                    command.upgrade(cfg, "head")
                    conn.commit()
                finally:
                    if not database.is_sqlite:
                        conn.rollback()
                        conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": lock_key})
                        conn.commit()
            return
        except OperationalError as exc:
            if attempt == retries:
                raise
            log.warning("database not reachable for migrations (%s); retrying", exc.orig)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
