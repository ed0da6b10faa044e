"""Migration 0024: the streams table's times keep their instant on a PostgreSQL server whose time zone is not UTC.

0010 made them `timestamp without time zone`: PostgreSQL wrote an aware time as the server's wall
clock and it came back as UTC, hours off. A stream's lease then looked expired (its rules polled
while it streamed them) or alive for hours after its replica died, and health's times were off.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from socialdesk.store import streams
from socialdesk.store.db import alembic_config, make_engine, session_scope, upgrade
from tests.support import postgres

pytestmark = pytest.mark.postgres


@pytest.fixture
def new_york(postgres_url: str):
    """A database on the test server whose sessions run in America/New_York (UTC-5 in December)."""
    name = f"t_tz_{uuid.uuid4().hex[:12]}"
    admin = postgres.admin_conninfo(postgres_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        conn.execute(f"ALTER DATABASE \"{name}\" SET timezone TO 'America/New_York'")
    engine = make_engine(make_url(postgres_url).set(database=name).render_as_string(hide_password=False))
    yield engine
    engine.dispose()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_stream_lease_is_read_back_as_written_whatever_the_server_time_zone(new_york):
    upgrade(new_york)
    now = datetime.now(UTC)
    with session_scope(new_york) as session:
        assert streams.take_lease(session=session, network="n", holder="replica-a", now=now, seconds=20)
        streams.record_connection(session=session, network="n", holder="replica-a", now=now)
        assert streams.save_cursor(session=session, network="n", holder="replica-a", cursor={"at": 1}, now=now)
    with session_scope(new_york) as session:
        row = streams.stream_state(session=session, network="n")
        assert row is not None
        assert (row.lease_until, row.connected_at, row.cursor_at, row.updated_at) == (
            now + timedelta(seconds=20), now, now, now)
        assert streams.is_live(session=session, network="n", now=now + timedelta(seconds=1))
        assert not streams.is_live(session=session, network="n", now=now + timedelta(seconds=21))


def test_0024_keeps_the_times_stored_before_it(new_york):
    from alembic import command

    config = alembic_config(new_york)
    command.upgrade(config, "0023")
    with new_york.begin() as conn:  # as 0010's columns held it: the server's wall clock (UTC-5)
        conn.execute(text("INSERT INTO streams (network, updated_at, lease_until) VALUES "
                          "('n', '2026-12-02 07:00:00', '2026-12-02 07:00:20')"))
    command.upgrade(config, "0024")
    zoned = {c["name"]: getattr(c["type"], "timezone", None) for c in inspect(new_york).get_columns("streams")}
    assert [zoned[c] for c in ("cursor_at", "lease_until", "connected_at", "updated_at")] == [True] * 4
    with session_scope(new_york) as session:
        row = streams.stream_state(session=session, network="n")
        assert row.updated_at == datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
        assert row.lease_until == datetime(2026, 12, 2, 12, 0, 20, tzinfo=UTC)
    command.downgrade(config, "0023")
    command.upgrade(config, "head")
