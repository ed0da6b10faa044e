"""The poller meters what X bills for each page (FakeX, real databases) and leaves a rule its budget pauses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from socialdesk.jobs.poll import Poller
from socialdesk.networks.base import Network
from socialdesk.networks.x import network as x
from socialdesk.networks.x.fake.server import FakeX
from socialdesk.networks.x.mentions import MENTIONS_PATH, XMentionsSource
from socialdesk.networks.x.search import SEARCH_PATH, XSource
from socialdesk.networks.x.settings import XSettings
from socialdesk.spend import Meter
from socialdesk.store import rules as rule_store
from socialdesk.store import spend as spend_store
from socialdesk.store.db import session_scope
from socialdesk.store.models import RuleRow
from tests.jobs.test_poll import Clock, poll_again, post_many


def billed_x(fake_x: FakeX, http: httpx.Client, *, budget: float | None = None, page_size: int = 10) -> dict[str, Network]:
    settings = XSettings(SOCIALDESK_X_MONTHLY_BUDGET=budget) if budget else XSettings()
    sources = {"search": XSource(http=http, api_url=fake_x.url, bearer_token="test-bearer", page_size=page_size),
               "mentions": XMentionsSource(http=http, api_url=fake_x.url, bearer_token="test-bearer",
                                           page_size=page_size)}
    return {"x": Network(info=x.INFO, sources=sources, billing=x.billing(settings))}


@pytest.fixture
def http():
    with httpx.Client(timeout=5) as client:
        yield client


def add_rule(engine, *, budget: float | None = None, kind: str = "search", query: str = "acme phone") -> int:
    with session_scope(engine) as session:
        return rule_store.add_rule(session=session, network="x", query=query, channel_id="C1", every_seconds=60,
                                   lang=None, include_reposts=False, now=datetime.now(UTC), backfill=True, kind=kind,
                                   monthly_budget=budget).id


def spent(engine, clock) -> dict[tuple[int, str], int]:
    now = clock()
    with session_scope(engine) as session:
        rows = spend_store.spent(session=session, start=now.date().replace(day=1), end=now.date() + timedelta(days=1))
    return {(r.rule_id, r.kind): r.reads for r in rows}


def test_each_post_and_author_a_walk_reads_is_billed_once(engine, fake_x, clock, http):
    post_many(fake_x, 25)  # 3 pages of 10, by 7 customers
    rule_id = add_rule(engine)
    poller = Poller(engine=engine, networks=billed_x(fake_x, http), own_handles=frozenset(), clock=clock)
    assert poller.poll_rule(rule_id) == 25
    assert len(fake_x.requests_to(SEARCH_PATH)) == 3
    assert spent(engine, clock) == {(rule_id, "post"): 25, (rule_id, "user"): 7}
    # A second rule reading the same posts the same UTC day costs nothing: X charged them already.
    other = add_rule(engine, query="acme")
    poller.poll_rule(other)
    assert spent(engine, clock) == {(rule_id, "post"): 25, (rule_id, "user"): 7}
    more = post_many(fake_x, 2, text="acme phone again #{i}")
    poll_again(poller, clock, rule_id)
    assert spent(engine, clock)[(rule_id, "post")] == 25 + len(more)


def test_the_brands_mentions_read_with_the_bearer_token_are_post_and_user_reads(engine, fake_x, clock, http):
    """X prices owned reads only when {id} is the authenticated user (refs/x/docs/pricing.mdx): an app bearer
    token authenticates no user, so the mentions timeline bills as normal post and user reads."""
    for n in range(3):
        fake_x.post(username=f"cust{n}", text=f"@{fake_x.own_user['username']} hello {n}")
    rule_id = add_rule(engine, kind="mentions", query=f"user:{fake_x.own_user['id']}")
    Poller(engine=engine, networks=billed_x(fake_x, http), own_handles=frozenset(), clock=clock).poll_rule(rule_id)
    assert len(fake_x.requests_to(MENTIONS_PATH.format(id=fake_x.own_user["id"]))) == 1
    assert spent(engine, clock) == {(rule_id, "post"): 3, (rule_id, "user"): 3}  # 3 posts and their 3 authors


def test_a_rule_whose_budget_is_spent_is_not_polled_until_it_is_raised(engine, fake_x, clock, http):
    post_many(fake_x, 10)  # $0.05 of posts + 7 authors at $0.01 = $0.12 in one page
    rule_id = add_rule(engine, budget=0.10)
    poller = Poller(engine=engine, networks=billed_x(fake_x, http), own_handles=frozenset(), clock=clock)
    assert poller.poll_rule(rule_id) == 10
    post_many(fake_x, 3, text="acme phone later #{i}")
    assert poll_again(poller, clock, rule_id) == 0
    assert len(fake_x.requests_to(SEARCH_PATH)) == 1  # paused by budget: X was not asked (nor billed)
    with session_scope(engine) as session:
        assert Meter(billed_x(fake_x, http)).paused_by_budget(session=session, now=clock()) == {rule_id}
        assert session.get(RuleRow, rule_id).last_error is None  # a pause is not a failure
        rule_store.set_budget(session=session, rule_id=rule_id, monthly_budget=1.0)
    assert poll_again(poller, clock, rule_id) == 3  # raised: it polls from where it stopped


def test_the_networks_budget_pauses_every_rule_of_it(engine, fake_x, clock, http):
    post_many(fake_x, 10)
    first, second = add_rule(engine), add_rule(engine, query="acme")
    poller = Poller(engine=engine, networks=billed_x(fake_x, http, budget=0.10), own_handles=frozenset(), clock=clock)
    poller.poll_rule(first)
    assert poller.poll_rule(second) == 0
    assert len(fake_x.requests_to(SEARCH_PATH)) == 1


def test_a_new_month_lifts_the_pause(engine, fake_x, http):
    clock = Clock()
    start = datetime.now(UTC)
    clock.offset = datetime(start.year + 1, 1, 31, 23, 59, 0, tzinfo=UTC) - start  # late on a month's last day
    post_many(fake_x, 10)
    rule_id = add_rule(engine, budget=0.10)
    poller = Poller(engine=engine, networks=billed_x(fake_x, http), own_handles=frozenset(), clock=clock)
    poller.poll_rule(rule_id)
    post_many(fake_x, 2, text="acme phone later #{i}")
    assert poll_again(poller, clock, rule_id, seconds=30) == 0  # still January
    assert poll_again(poller, clock, rule_id, seconds=61) == 2  # February


def search_pages(fake_x: FakeX) -> list[tuple]:
    """Each search request's parameters: a page asked twice would show twice."""
    return [tuple(sorted(r.query.items())) for r in fake_x.requests_to(SEARCH_PATH)]


@pytest.mark.parametrize("whose", ["rule", "network"])
def test_a_walk_stops_before_the_page_after_its_budget_is_reached(engine, fake_x, clock, http, whose):
    post_many(fake_x, 25)  # 3 pages of 10: the first alone costs $0.05 of posts and at least $0.01 of authors
    rule_id = add_rule(engine, budget=0.06 if whose == "rule" else None)
    networks = billed_x(fake_x, http, budget=0.06 if whose == "network" else None)
    poller = Poller(engine=engine, networks=networks, own_handles=frozenset(), clock=clock)
    assert poller.poll_rule(rule_id) == 10
    assert len(fake_x.requests_to(SEARCH_PATH)) == 1  # not the 2 pages after it: they would be billed past it
    with session_scope(engine) as session:
        assert session.get(RuleRow, rule_id).cursor.get("next_token")  # where it stopped: nothing is lost
    assert poll_again(poller, clock, rule_id) == 0  # paused by budget
    poller = Poller(engine=engine, networks=billed_x(fake_x, http), own_handles=frozenset(), clock=clock)
    with session_scope(engine) as session:
        rule_store.set_budget(session=session, rule_id=rule_id, monthly_budget=None)
    assert poll_again(poller, clock, rule_id) == 15  # raised: the walk goes on from the page it stopped before
    pages = search_pages(fake_x)
    assert len(pages) == 3 and len(set(pages)) == 3  # no page read twice


def test_filling_a_gap_stops_at_the_budget_and_goes_on_from_there(engine, fake_x, clock, http):
    post_many(fake_x, 25)
    rule_id = add_rule(engine, budget=0.06)
    poller = Poller(engine=engine, networks=billed_x(fake_x, http), own_handles=frozenset(), clock=clock)
    assert poller.fill_gap(rule_id, start={}) is False  # one page, then its budget is spent: not caught up
    assert len(fake_x.requests_to(SEARCH_PATH)) == 1
    clock.offset += timedelta(seconds=61)
    assert poller.fill_gap(rule_id, start=None) is False  # still spent: nothing is read
    assert len(fake_x.requests_to(SEARCH_PATH)) == 1
    with session_scope(engine) as session:
        rule_store.set_budget(session=session, rule_id=rule_id, monthly_budget=1.0)
    clock.offset += timedelta(seconds=61)
    assert poller.fill_gap(rule_id, start=None) is True
    pages = search_pages(fake_x)
    assert len(pages) == 3 and len(set(pages)) == 3
    with session_scope(engine) as session:
        assert len(spend_store.seen_count(session=session, network="x")) == 2  # posts and users, each once


def test_a_budget_pause_leaves_another_replicas_lease_alone_and_is_stamped(engine, fake_x, clock, http):
    post_many(fake_x, 10)
    rule_id = add_rule(engine, budget=0.05)
    poller = Poller(engine=engine, networks=billed_x(fake_x, http), own_handles=frozenset(), clock=clock)
    poller.poll_rule(rule_id)  # $0.12: spent
    clock.offset += timedelta(seconds=61)
    with session_scope(engine) as session:  # another replica's walk holds the lease (its token: last_polled_at)
        taken = rule_store.take_lease(session=session, rule_id=rule_id, now=clock(), seconds=30, min_gap=0)
        token = taken.last_polled_at
    clock.offset += timedelta(seconds=5)
    assert poller.poll_rule(rule_id) == 0
    with session_scope(engine) as session:
        row = session.get(RuleRow, rule_id)
        assert row.last_polled_at == token  # not overwritten: that walk still renews and saves with it
        assert token < row.budget_paused_at <= clock()  # when the pause was last in force (health's "behind" counts from it)
    clock.offset += timedelta(seconds=61)  # the lease ran out: the skip counts as this turn's poll again
    poller.poll_rule(rule_id)
    with session_scope(engine) as session:
        assert session.get(RuleRow, rule_id).last_polled_at > token
