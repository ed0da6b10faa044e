"""Copying SQLite's write-ahead log into the database file off the writers' path.

By default SQLite checkpoints inside the commit that grows the log past 1,000 pages, so
every few pages of posts one commit also copies 4 MB: a tenth of ingest's time. With the
app running, this thread does it every second instead (a PASSIVE checkpoint: it never
waits for, nor blocks, readers and writers, and runs in SQLite's C code, beside the
Python threads). Connections keep a higher automatic threshold (store.db), so a process
without this thread, or a burst faster than it, still keeps the log bounded.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Engine

log = logging.getLogger(__name__)
EVERY_SECONDS = 1.0


class WalCheckpointer:
    def __init__(self, engine: Engine, *, every: float = EVERY_SECONDS) -> None:
        self._engine, self._every = engine, every
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False

    def start(self) -> None:
        if self._engine.dialect.name != "sqlite" or self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="socialdesk-wal-checkpoint", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is None:
            return
        self._stopping.set()
        self._thread.join(timeout=5)
        self._thread = None

    def checkpoint(self) -> None:
        """One PASSIVE checkpoint now; a failure is logged once, then again when it recovers."""
        try:
            # On the driver's connection: SQLAlchemy's would BEGIN first, and a checkpoint
            # cannot run inside a transaction.
            raw = self._engine.raw_connection()
            try:
                raw.cursor().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            finally:
                raw.close()
        except Exception as exc:  # noqa: BLE001 - e.g. the file is away: the commits' own checkpoints still run
            if not self._failing:
                log.warning("WAL checkpoint failed (%s); retrying every %g s", type(exc).__name__, self._every)
            self._failing = True
        else:
            if self._failing:
                log.info("WAL checkpoint recovered")
            self._failing = False

    def _run(self) -> None:
        while not self._stopping.wait(self._every):
            self.checkpoint()
