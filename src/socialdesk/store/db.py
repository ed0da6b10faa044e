"""Engines, sessions and schema upgrades."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlmodel import Session

from socialdesk.store.jsonfmt import dumps

MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
# Pages of log past which a commit checkpoints itself (SQLite's default is 1,000): with the
# app running, store.checkpoint does it in the background well before (about 40 MB).
SQLITE_AUTOCHECKPOINT_PAGES = 10_000
WAL_SWITCH_RETRY_S = 0.02  # between tries to put a database another connection is writing into WAL mode
READ_ONLY = "socialdesk_read_only"  # execution option: a transaction that only reads (see read_scope)
# pg_advisory_xact_lock's key for schema upgrades (any constant bigint no other tool on the database uses).
MIGRATION_LOCK_KEY = 0x50C1A1DE5C0DE
log = logging.getLogger(__name__)


def utcnow() -> datetime:
    """Aware UTC: SQLModel's datetime columns refuse naive values."""
    return datetime.now(UTC)


def as_utc(when: datetime) -> datetime:
    """A time read back from the database: SQLite returns naive datetimes; the store writes UTC."""
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, json_serializer=dumps)


def _sqlite_engine(url: str) -> Engine:
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        pool_size=10,
        max_overflow=20,
        json_serializer=dumps,
    )

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        # Let SQLAlchemy, not pysqlite, decide when transactions begin.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        _use_wal(cur)
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA wal_autocheckpoint={SQLITE_AUTOCHECKPOINT_PAGES}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):  # type: ignore[no-untyped-def]
        # A writer takes the write lock up front: a deferred transaction that later writes
        # can fail with SQLITE_BUSY without waiting, which the busy timeout cannot help.
        # A reader must not take it: in WAL mode it then reads a snapshot and never waits
        # for a writer (a click's card lookup while another process holds the lock).
        reading = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")

    return engine


def _use_wal(cur: sqlite3.Cursor) -> None:
    """Put the database in WAL mode (kept in the file: once one connection has, the others find it so).

    Switching is a write that SQLite refuses at once, busy timeout or not, while another connection
    holds or wants the write lock: replicas opening a new database together failed to start on
    "database is locked". So it is retried for as long as the busy timeout would have waited."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(WAL_SWITCH_RETRY_S)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: committed on success, rolled back on error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


@contextmanager
def read_scope(engine: Engine) -> Iterator[Session]:
    """A transaction that only reads: on SQLite it takes no write lock, so it never waits
    for a writer; on PostgreSQL it is READ ONLY, so a write by mistake fails loudly, and
    REPEATABLE READ, so all its statements see one snapshot as on SQLite (a count and the
    rows it ranks agree; read-only transactions never fail to serialize)."""
    reader = engine.execution_options(**{READ_ONLY: True})
    with Session(reader, expire_on_commit=False) as session:
        if engine.dialect.name == "postgresql":
            session.connection().exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield session  # never committed: closing ends the snapshot, and what was read stays loaded


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent). Safe when replicas start at once
    on one database: each waits for the one migrating (`lock_for_migrations`), then finds the
    schema at head and does nothing."""
    command.upgrade(alembic_config(engine), "head")


def lock_for_migrations(connection: Connection) -> None:
    """Hold the database's migration lock until `connection`'s transaction ends (migrations/env.py
    takes it before alembic reads the current revision).

    On PostgreSQL, replicas migrating an empty database at once each created alembic_version
    and the tables (all but one failed to start on a duplicate); a transaction-level advisory
    lock makes the others wait, then read the revision the first one committed. On SQLite the
    migration's transaction is already BEGIN IMMEDIATE (`_sqlite_engine`): one writer at a time.
    """
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})")


def head_revision() -> str:
    """The newest migration shipped with this version."""
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config).get_current_head()  # type: ignore[return-value]


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
