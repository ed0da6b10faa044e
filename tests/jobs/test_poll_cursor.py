"""A walk whose stored X page token is refused: the poller restarts it, loses nothing, doubles nothing.

X answers a `next_token` it no longer accepts with a 400 "Invalid Request" naming the
parameter (FakeX answers every token it did not hand out, or has forgotten, that way;
../shared/refs/x holds no recording of this answer). The source raises
CursorExpired(restart=…); the poller must walk again from there, record no failure, and
keep the rule polling. Against FakeX and a real database (SQLite and PostgreSQL).
"""

from __future__ import annotations

import logging

import httpx
import pytest

from socialdesk.jobs.poll import Poller
from socialdesk.networks.x.search import SEARCH_PATH, XSource
from tests.jobs.test_poll import (
    add_rule,
    case_count,
    poll_again,
    post_many,
    rule,
    stored_ids,
)
from tests.support.networks import x_network

PAGE = 10
PAGES_PER_POLL = 2  # a walk of 25 posts takes two polls: its token is stored in between


@pytest.mark.parametrize("walk", ["search", "backfill"])
def test_a_refused_page_token_restarts_the_walk_and_loses_or_doubles_nothing(engine, fake_x, clock, monkeypatch,
                                                                             caplog, walk):
    monkeypatch.setattr("socialdesk.jobs.poll.MAX_PAGES_PER_POLL", PAGES_PER_POLL)
    opened: list[int] = []  # every case the poller announces (each becomes one card)
    http = httpx.Client(timeout=5)
    source = XSource(http=http, api_url=fake_x.url, bearer_token="test-bearer", page_size=PAGE)
    poller = Poller(engine=engine, networks=x_network(source), own_handles=frozenset(), clock=clock,
                    on_new_cases=opened.extend)
    if walk == "search":  # a rule polling for a while: its walks start from the newest post seen
        earlier = post_many(fake_x, 1, text="acme phone on day one #{i}")
        rule_id = add_rule(engine)
        assert poller.poll_rule(rule_id) == 1
        floor = earlier[-1]
        burst = post_many(fake_x, 25)
        assert poll_again(poller, clock, rule_id) == PAGE * PAGES_PER_POLL
    else:  # a new rule walking everything search still has: no floor
        earlier, floor = [], None
        burst = post_many(fake_x, 25)
        rule_id = add_rule(engine, backfill=True)
        assert poller.poll_rule(rule_id) == PAGE * PAGES_PER_POLL
    stale = rule(engine, rule_id).cursor
    assert stale["next_token"] and stale["since_id"] == floor

    fake_x.expire_page_tokens()  # e.g. the rule sat paused, or held back by a rate limit, for too long
    sent = len(fake_x.requests_to(SEARCH_PATH))
    with caplog.at_level(logging.DEBUG, logger="socialdesk.jobs.poll"):
        assert poll_again(poller, clock, rule_id) == 0  # never raises out of the job
    [refused] = fake_x.requests_to(SEARCH_PATH)[sent:]
    assert refused.query["next_token"] == stale["next_token"]
    state = rule(engine, rule_id)
    # CursorExpired.restart: a walk from the same floor (none for a backfill: every page), nothing skipped.
    assert state.cursor is not None and "next_token" not in state.cursor and state.cursor.get("since_id") == floor
    assert state.last_error is None and state.consecutive_failures == 0  # not a failure for anyone to fix
    assert state.not_before is None and state.lease_until is None  # due again next interval, and free
    assert not [r for r in caplog.records if r.exc_info]
    assert any("restarting the walk" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)

    late = post_many(fake_x, 3, text="acme phone arrived while restarting #{i}")
    restarted_at = len(fake_x.requests_to(SEARCH_PATH))
    for _ in range(4):  # the restarted walk re-reads what it had (dropped as duplicates), then finishes
        poll_again(poller, clock, rule_id)
        if "next_token" not in rule(engine, rule_id).cursor:
            break
    first = fake_x.requests_to(SEARCH_PATH)[restarted_at]
    assert "next_token" not in first.query and first.query.get("since_id") == floor
    assert rule(engine, rule_id).cursor == {"since_id": late[-1]}
    everything = earlier + burst + late
    assert stored_ids(engine) == sorted(everything)  # nothing lost
    assert case_count(engine) == len(everything) and sorted(opened) == sorted(set(opened))  # nothing doubled
    assert len(opened) == len(everything)

    newest = post_many(fake_x, 1, text="acme phone after the walk #{i}")  # and the rule keeps polling
    assert poll_again(poller, clock, rule_id) == 1
    assert stored_ids(engine) == sorted(everything + newest)
    final = rule(engine, rule_id)
    assert final.last_error is None and final.consecutive_failures == 0 and final.cursor == {"since_id": newest[-1]}
