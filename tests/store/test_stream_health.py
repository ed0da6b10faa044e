"""A stream's failing run (streams.failing_since, the ops alert's clock) ends when a connection proves good,
not when one is made: a stream that connects and drops at once, again and again, is one run that grows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from socialdesk.store import streams as stream_store
from socialdesk.store.db import as_utc, session_scope

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def failing_since(engine):  # type: ignore[no-untyped-def]
    with session_scope(engine) as session:
        row = stream_store.stream_state(session=session, network="bluesky")
        return as_utc(row.failing_since) if row.failing_since else None


@pytest.mark.both_databases
def test_a_flapping_stream_stays_one_failing_run_until_a_connection_proves_good(engine):
    with session_scope(engine) as session:
        assert stream_store.take_lease(session=session, network="bluesky", holder="w", now=NOW, seconds=60)
    for minute in range(6):  # drops, reconnects at once, drops again …
        at = NOW + timedelta(minutes=minute)
        with session_scope(engine) as session:
            stream_store.record_connection(session=session, network="bluesky", holder="w", now=at, error="dropped")
            stream_store.record_connection(session=session, network="bluesky", holder="w",
                                           now=at + timedelta(seconds=2))
    assert failing_since(engine) == NOW  # six minutes of it: long enough to tell the ops channel
    with session_scope(engine) as session:  # a connection that delivered a post
        stream_store.record_healthy(session=session, network="bluesky", holder="w")
    assert failing_since(engine) is None
