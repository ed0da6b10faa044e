"""Another connection holding the database's write lock, for tests of what must not wait for it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, text


@contextmanager
def write_locked(engine: Engine, table: str) -> Iterator[Callable[[], None]]:
    """Another connection holds the write lock (SQLite) or an exclusive lock on `table` (PostgreSQL).

    Yields `release`, for a test that lets go before the block ends; the block's end releases anyway.
    """
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with engine.connect() as conn:
            conn.begin()  # BEGIN IMMEDIATE on SQLite (store.db)
            if engine.dialect.name == "postgresql":
                conn.execute(text(f"LOCK TABLE {table} IN EXCLUSIVE MODE"))  # reads go on, writes wait
            held.set()
            release.wait(30)
            conn.rollback()

    holder = threading.Thread(target=hold)
    holder.start()

    def let_go() -> None:
        release.set()
        holder.join(10)

    try:
        assert held.wait(10)
        yield let_go
    finally:
        let_go()
