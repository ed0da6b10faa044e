"""Gaps no search can fill (Network.gap_limit): a walk resuming after longer than its network's search reaches
back records the posts it cannot read, on the rule (source health, an ops alert); a shorter pause records nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from socialdesk.config import Settings
from socialdesk.networks.base import Network
from socialdesk.networks.x import network as x
from socialdesk.networks.x.parse import snowflake_at
from socialdesk.networks.x.search import RECENT_SEARCH_REACH, SEARCH_PATH, XSource
from socialdesk.jobs.poll import Poller
from socialdesk.store import rules as rule_store
from socialdesk.store.db import as_utc, session_scope
from tests.jobs.test_poll import add_rule, rule, stored_ids


def test_the_x_network_says_how_far_back_its_search_reaches():
    settings = Settings(_env_file=None, SOCIALDESK_X_BEARER_TOKEN="t")
    with httpx.Client() as http:
        built = x.build(settings, http=http, clock=lambda: datetime.now(UTC), credentials=lambda name: None)
    assert timedelta(days=6, hours=23) < built.gap_limit <= timedelta(days=7)


def test_a_rule_polled_again_after_longer_than_search_reaches_records_its_gap(engine, fake_x, clock):
    limit = timedelta(days=7)
    source = XSource(http=httpx.Client(timeout=5), api_url=fake_x.url, bearer_token="test-bearer")
    network = Network(info=x.INFO, sources={"search": source}, gap_limit=limit)
    poller = Poller(engine=engine, networks={"x": network}, own_handles=frozenset(), clock=clock)
    short, long = add_rule(engine), add_rule(engine, query="acme tv")
    last = {short: clock() - timedelta(days=6), long: clock() - timedelta(days=9)}
    with session_scope(engine) as session:
        for rule_id, at in last.items():
            rule_store.save_cursor(session=session, rule_id=rule_id, cursor={}, not_before=None, now=at)
    for rule_id in (short, long):
        poller.poll_rule(rule_id)
    assert rule(engine, short).gap_from is None
    found = rule(engine, long)
    assert as_utc(found.gap_from) == last[long]  # from its last success …
    assert as_utc(found.gap_to) == as_utc(found.gap_at) - limit  # … to as far back as search reaches
    assert found.last_error is None  # the walk itself went on


class _StreamCarryingSearch:
    """A stream that carries search rules (never started here: the rule is polled while it is down)."""

    kinds = ("search",)
    opt_in = False


def test_a_rule_a_stream_carries_records_no_gap_of_its_own(engine, fake_x, clock):
    """Its last successful poll is old because the stream read its posts meanwhile: the stream worker
    accounts for the stream's own gaps (from its cursor), the poll does not report one."""
    source = XSource(http=httpx.Client(timeout=5), api_url=fake_x.url, bearer_token="test-bearer")
    network = Network(info=x.INFO, sources={"search": source}, gap_limit=timedelta(days=7),
                      stream=_StreamCarryingSearch())  # type: ignore[arg-type]
    poller = Poller(engine=engine, networks={"x": network}, own_handles=frozenset(), clock=clock)
    streamed = add_rule(engine)
    with session_scope(engine) as session:  # carried by the stream for a month; the stream just dropped
        rule_store.save_cursor(session=session, rule_id=streamed, cursor={}, not_before=None,
                               now=clock() - timedelta(days=30))
    poller.poll_rule(streamed)
    found = rule(engine, streamed)
    assert found.gap_from is None and as_utc(found.last_success_at) > clock() - timedelta(minutes=1)  # it was polled


def test_a_rule_an_admin_resumed_after_a_long_pause_records_no_gap(engine, fake_x, clock):
    """The admin was told what the pause cost when they resumed it (health.resume_notice): no ops alert
    later. A budget's pause is not an admin's choice, and its gap is still recorded."""
    source = XSource(http=httpx.Client(timeout=5), api_url=fake_x.url, bearer_token="test-bearer")
    network = Network(info=x.INFO, sources={"search": source}, gap_limit=timedelta(days=7))
    poller = Poller(engine=engine, networks={"x": network}, own_handles=frozenset(), clock=clock)
    resumed, budget = add_rule(engine), add_rule(engine, query="acme tv")
    with session_scope(engine) as session:
        for rule_id in (resumed, budget):
            rule_store.save_cursor(session=session, rule_id=rule_id, cursor={}, not_before=None,
                                   now=clock() - timedelta(days=12))
        rule_store.set_paused(session=session, rule_id=resumed, paused=True, now=clock() - timedelta(days=12))
        rule_store.set_paused(session=session, rule_id=resumed, paused=False, now=clock() - timedelta(minutes=1))
        rule_store.note_budget_pause(session=session, rule_id=budget, now=clock() - timedelta(minutes=1))
    for rule_id in (resumed, budget):
        poller.poll_rule(rule_id)
    assert rule(engine, resumed).gap_from is None
    assert as_utc(rule(engine, resumed).last_success_at) > clock() - timedelta(minutes=1)  # it was polled
    assert rule(engine, budget).gap_from is not None


def test_a_rule_whose_since_id_is_older_than_search_reaches_polls_and_moves_on(engine, fake_x, clock):
    """Recent search refuses a since_id from before its 7 days (FakeX as X): the walk starts at the oldest
    id search takes, the days before are the rule's gap, and the cursor leaves the refused id behind."""
    source = XSource(http=httpx.Client(timeout=5), api_url=fake_x.url, bearer_token="test-bearer", clock=clock)
    network = Network(info=x.INFO, sources={"search": source}, gap_limit=RECENT_SEARCH_REACH)
    poller = Poller(engine=engine, networks={"x": network}, own_handles=frozenset(), clock=clock)
    rule_id = add_rule(engine)
    stopped = clock() - timedelta(days=8)  # e.g. the app was down for a week
    old = str(snowflake_at(stopped))
    with session_scope(engine) as session:
        rule_store.save_cursor(session=session, rule_id=rule_id, cursor={"since_id": old}, not_before=None,
                               now=stopped)
    new = fake_x.post(username="dana", text="my acme phone is broken")["id"]
    assert poller.poll_rule(rule_id) == 1
    found = rule(engine, rule_id)
    assert found.last_error is None and found.failure_kind is None
    assert stored_ids(engine) == [new]
    assert found.cursor == {"since_id": new}  # moved on
    assert as_utc(found.gap_from) == stopped and as_utc(found.gap_to) == as_utc(found.gap_at) - RECENT_SEARCH_REACH
    assert all(int(r.query["since_id"]) > int(old) for r in fake_x.requests_to(SEARCH_PATH))
