"""Replicas starting at once on one empty database each migrate it first (`socialdesk run` and every
command do, in the container too): one migrates, the others wait for it and find nothing left to do.

Processes, not threads: that is how replicas run, and alembic's `context` is one per process.
"""

from __future__ import annotations

import os
import subprocess
import sys

from sqlalchemy import inspect

from socialdesk.store.db import current_revision, head_revision, make_engine

REPLICAS = 3
TIMEOUT = 120  # seconds for all of them; one migration from empty takes a few


def test_replicas_migrating_one_empty_database_at_once_all_succeed_and_it_is_migrated_once(db_url):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOCIALDESK_", "SLACK_"))}
    env["SOCIALDESK_DATABASE_URL"] = db_url
    # Each waits on stdin until all are up (imports take a second): their first statements come together.
    procs = [subprocess.Popen([sys.executable, "-c", ("import sys; from socialdesk.cli import main; sys.stdin.read(); "
                                                      "sys.exit(main(['db', 'upgrade']))")],
                              env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(REPLICAS)]
    try:
        for proc in procs:
            proc.stdin.close()  # type: ignore[union-attr]
        results = [(proc.wait(TIMEOUT), proc.stderr.read()) for proc in procs]  # type: ignore[union-attr]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert [code for code, _ in results] == [0] * REPLICAS, "\n\n".join(err[-3000:] for code, err in results if code)
    engine = make_engine(db_url)
    try:
        assert current_revision(engine) == head_revision()
        assert {"alembic_version", "cases", "rules", "streams"} <= set(inspect(engine).get_table_names())
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM alembic_version").scalar() == 1
    finally:
        engine.dispose()
