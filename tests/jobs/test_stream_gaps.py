"""A stream down for longer than its network's search reaches back (Network.gap_limit): search fills what it can
and the stream's row records the posts lost (source health, an ops alert). Against the local Jetstream and PDS."""

from __future__ import annotations

from datetime import timedelta

from socialdesk.store import streams as stream_store
from socialdesk.store.db import as_utc, session_scope
from tests.jobs.test_stream import add_rule, connected, desks, jetstream, now, pds, stored, wait_for  # noqa: F401

__all__ = ["desks", "jetstream", "pds"]  # fixtures


def stream_row(engine):
    with session_scope(engine) as session:
        return stream_store.stream_state(session=session, network="bluesky")


def test_a_gap_older_than_search_reaches_is_recorded_and_the_rest_is_filled(engine, pds, jetstream, desks):
    add_rule(engine, "acme late")
    cust = pds.world.add_account("cust.bsky.social")
    while_down = [pds.world.add_post(cust, f"acme order {i} is late")["uri"] for i in range(3)]
    stopped = now() - timedelta(days=2)
    with session_scope(engine) as session:  # as a replica left it two days ago
        session.add(stream_store.StreamRow(network="bluesky", cursor={"time_us": 1}, cursor_at=stopped,
                                           updated_at=now()))
    desk = desks()
    desk.network.gap_limit = timedelta(days=1)  # a network whose search reaches a day back
    desk.start()
    wait_for(lambda: set(while_down) <= set(stored(engine)), timeout=30, what="the gap filled by search")
    connected(jetstream)
    row = stream_row(engine)
    assert as_utc(row.gap_from) == stopped
    assert as_utc(row.gap_to) == as_utc(row.gap_at) - timedelta(days=1)


def test_a_gap_search_reaches_is_filled_and_records_nothing(engine, pds, jetstream, desks):
    add_rule(engine, "acme late")
    cust = pds.world.add_account("cust.bsky.social")
    while_down = [pds.world.add_post(cust, "acme order is late")["uri"]]
    with session_scope(engine) as session:
        session.add(stream_store.StreamRow(network="bluesky", cursor={"time_us": 1},
                                           cursor_at=now() - timedelta(days=2), updated_at=now()))
    desk = desks()
    desk.network.gap_limit = timedelta(days=3)
    desk.start()
    wait_for(lambda: set(while_down) <= set(stored(engine)), timeout=30, what="the gap filled by search")
    connected(jetstream)
    assert stream_row(engine).gap_from is None
