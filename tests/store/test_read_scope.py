"""Sessions that only read never wait for a writer (#11: clicks queued behind a locked SQLite)."""

from __future__ import annotations

import sqlite3
import threading

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from socialdesk.store.db import read_scope, session_scope


def hold_write_lock(path: str) -> sqlite3.Connection:
    """Another process's writer, as far as SQLite can tell: its own connection holding the lock."""
    other = sqlite3.connect(path, isolation_level=None, timeout=0)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO seen_requests (signature, sent_at) VALUES ('held', '2026-01-01 00:00:00')")
    return other


def test_a_reader_reads_while_another_connection_holds_the_write_lock(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's write lock")
    with session_scope(engine) as session:
        session.execute(text("INSERT INTO seen_requests (signature, sent_at) VALUES ('before', '2026-01-01')"))
    other = hold_write_lock(str(engine.url.database))
    try:
        # The lock holder's uncommitted row is invisible; the committed one is read at once.
        result: list[str] = []
        reader = threading.Thread(target=lambda: result.extend(read_all(engine)))
        reader.start()
        reader.join(timeout=10)
        assert not reader.is_alive(), "the reader waited for the writer's lock"
        assert result == ["before"]

        # A writing session does wait for it (the busy timeout), which is why clicks write after their ack.
        writer_done = threading.Event()

        def write() -> None:
            with session_scope(engine) as session:
                session.execute(text("INSERT INTO seen_requests (signature, sent_at) VALUES ('after', '2026-01-01')"))
            writer_done.set()

        writer = threading.Thread(target=write)
        writer.start()
        assert not writer_done.wait(0.5)
    finally:
        other.execute("COMMIT")
        other.close()
    writer.join(timeout=30)
    assert writer_done.is_set()
    assert sorted(read_all(engine)) == ["after", "before", "held"]


def read_all(engine: Engine) -> list[str]:
    with read_scope(engine) as session:
        return [row[0] for row in session.execute(text("SELECT signature FROM seen_requests ORDER BY signature"))]


def test_a_read_scope_refuses_writes_on_postgres_and_keeps_none_on_sqlite(engine: Engine) -> None:
    if engine.dialect.name == "postgresql":
        with pytest.raises(DBAPIError, match="read-only"):
            with read_scope(engine) as session:
                session.execute(text("INSERT INTO seen_requests (signature, sent_at) VALUES ('x', now())"))
    else:
        with read_scope(engine) as session:  # a write by mistake is rolled back, never committed
            session.execute(text("INSERT INTO seen_requests (signature, sent_at) VALUES ('x', '2026-01-01')"))
    assert read_all(engine) == []


def test_a_reader_sees_one_snapshot_for_all_its_statements(engine: Engine) -> None:
    """A figure counts, then ranks what it counted: a row committed in between must not show in the second read."""
    with session_scope(engine) as session:
        session.execute(text("INSERT INTO seen_requests (signature, sent_at) VALUES ('first', '2026-01-01')"))
    with read_scope(engine) as reader:
        assert read_in(reader) == ["first"]
        with session_scope(engine) as session:  # committed while the reader is open
            session.execute(text("INSERT INTO seen_requests (signature, sent_at) VALUES ('second', '2026-01-01')"))
        assert read_in(reader) == ["first"]
    with read_scope(engine) as reader:
        assert read_in(reader) == ["first", "second"]


def read_in(session) -> list[str]:  # type: ignore[no-untyped-def]
    return list(session.execute(text("SELECT signature FROM seen_requests ORDER BY signature")).scalars())
