"""Engines: a SQLite database another connection is writing still opens, in WAL mode."""

from __future__ import annotations

import sqlite3
import threading

from sqlalchemy import text

from socialdesk.store.db import make_engine


def test_a_new_connection_waits_to_switch_a_database_into_wal_while_another_holds_the_write_lock(tmp_path):
    # Replicas opening one new database together: SQLite refuses the switch at once, busy timeout
    # or not, while another connection holds the write lock; one replica failed to start on it.
    path = tmp_path / "socialdesk.db"
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    writer.execute("CREATE TABLE other_tool (x)")  # still in the default rollback journal mode
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO other_tool VALUES (1)")
    released = threading.Timer(0.3, writer.execute, ("COMMIT",))
    released.start()
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("SELECT count(*) FROM other_tool")).scalar() == 1
    finally:
        released.join()
        engine.dispose()
        writer.close()
