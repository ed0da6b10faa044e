"""The stream worker skips an event it cannot handle, and only that: a database failure is retried.

The in-process tagging stream of test_stream_network_matched (no replay: after a drop its
world's search fills the gap); real SQLite and PostgreSQL underneath.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator

import pytest

from socialdesk.jobs.stream import StreamWorker
from socialdesk.metrics import Metrics
from socialdesk.store import streams as stream_store
from socialdesk.store.db import session_scope
from tests.jobs.test_stream_network_matched import NETWORK, Desk, add_rule, now, stored_ids, wait_for


@pytest.fixture
def desk(engine) -> Iterator[Desk]:  # type: ignore[no-untyped-def]
    made = Desk(engine)
    made.metrics = Metrics()
    made.worker = StreamWorker(engine=engine, network=made.network, poller=made.poller, clock=now,
                               metrics=made.metrics)
    yield made
    made.worker.stop()


def skipped(desk: Desk, error: str) -> float | None:
    return desk.metrics.registry.get_sample_value("socialdesk_stream_events_skipped_total",
                                                  {"network": NETWORK, "error": error})


def state(engine):  # type: ignore[no-untyped-def]
    with session_scope(engine) as session:
        row = stream_store.stream_state(session=session, network=NETWORK)
        session.expunge(row)
        return row


def cursor(engine) -> dict:  # type: ignore[no-untyped-def]
    return state(engine).cursor


def test_an_event_that_cannot_be_handled_is_skipped_counted_and_logged_by_its_id(engine, desk, caplog):
    add_rule(engine, "acme")
    desk.start()
    before = desk.world.post("acme before")
    desk.stream.publish(before)
    wait_for(lambda: before.external_id in stored_ids(engine), what="the post before")
    # A post no parser should have let through: its conversation id is a list (unhashable).
    poison = dataclasses.replace(desk.world.post("my secret words"), conversation_id=["x"])
    desk.stream.publish(poison, tags=[])
    after = desk.world.post("acme after")
    with caplog.at_level(logging.ERROR, logger="socialdesk.jobs.stream"):
        desk.stream.publish(after)
        wait_for(lambda: after.external_id in stored_ids(engine), what="the post after the one skipped")
        wait_for(lambda: cursor(engine) == {"since_id": after.external_id}, what="the cursor past it")
    assert sorted(stored_ids(engine)) == sorted([before.external_id, after.external_id])
    assert desk.stream.connections == 1  # skipped, not reconnected
    assert skipped(desk, "TypeError") == 1
    [line] = [r.getMessage() for r in caplog.records if r.name == "socialdesk.jobs.stream"]
    assert poison.external_id in line and "TypeError" in line and "secret" not in line


def test_a_database_failure_while_handling_a_post_is_not_skipped(engine, desk):
    add_rule(engine, "acme")
    desk.start()
    with engine.begin() as conn:  # where posts are stored goes away for a while
        conn.exec_driver_sql("ALTER TABLE posts RENAME TO posts_away")
    lost = desk.world.post("acme while the database fails")
    desk.stream.publish(lost)
    wait_for(lambda: state(engine).last_error, what="the worker to stop, and its gap search to fail")
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE posts_away RENAME TO posts")
    wait_for(lambda: lost.external_id in stored_ids(engine), what="the post, once the database is back")
    assert skipped(desk, "OperationalError") is None and skipped(desk, "ProgrammingError") is None
