"""store.checkpoint: SQLite's log copied into the database file in the background."""

from __future__ import annotations

import logging
import os
import time
from datetime import UTC, datetime

from socialdesk.store.checkpoint import WalCheckpointer
from socialdesk.store.db import SQLITE_AUTOCHECKPOINT_PAGES, make_engine, session_scope, upgrade
from socialdesk.store.models import AuthorRow

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _write_authors(engine, count: int) -> None:
    with session_scope(engine) as session:
        session.add_all(AuthorRow(network="x", external_id=f"u{i}", handle=f"h{i}", name="n" * 200, updated_at=NOW)
                        for i in range(count))


def test_the_thread_copies_the_log_into_the_database_file(tmp_path):
    path = tmp_path / "desk.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        upgrade(engine)
        raw = engine.raw_connection()
        assert raw.cursor().execute("PRAGMA wal_autocheckpoint").fetchone()[0] == SQLITE_AUTOCHECKPOINT_PAGES
        raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the migrations' pages are in the file
        raw.close()
        before = os.path.getsize(path)
        _write_authors(engine, 2000)  # far under the automatic threshold: the commit leaves it in the log
        assert os.path.getsize(path) == before
        checkpointer = WalCheckpointer(engine, every=0.05)
        checkpointer.start()
        try:
            deadline = time.monotonic() + 10
            while os.path.getsize(path) == before and time.monotonic() < deadline:
                time.sleep(0.02)
        finally:
            checkpointer.stop()
        assert os.path.getsize(path) > before
    finally:
        engine.dispose()


def test_a_failing_checkpoint_is_logged_once_and_its_recovery_too(tmp_path, caplog):
    folder = tmp_path / "not-yet"
    engine = make_engine(f"sqlite:///{folder / 'desk.db'}")
    checkpointer = WalCheckpointer(engine)
    try:
        with caplog.at_level(logging.INFO, logger="socialdesk.store.checkpoint"):
            checkpointer.checkpoint()
            checkpointer.checkpoint()
            folder.mkdir()
            checkpointer.checkpoint()
        messages = [r.getMessage() for r in caplog.records]
        assert messages == ["WAL checkpoint failed (OperationalError); retrying every 1 s", "WAL checkpoint recovered"]
    finally:
        engine.dispose()


def test_nothing_runs_on_postgresql(engine):
    checkpointer = WalCheckpointer(engine)
    checkpointer.start()
    assert checkpointer._thread is None if engine.dialect.name != "sqlite" else checkpointer._thread is not None
    checkpointer.stop()
