"""The poll job against the fake X API (recorded shapes) and a real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlmodel import select


from socialdesk.jobs.poll import Poller
from tests.support.networks import x_network
from socialdesk.networks.x.fake.server import FakeX
from socialdesk.networks.x.search import SEARCH_PATH, XSource
from socialdesk.store import rules as rule_store
from socialdesk.store.db import session_scope
from socialdesk.store.models import CaseRow, PostRow

QUERY = "acme phone"


class Clock:
    """Real time plus an offset the test can move forward."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


def make_poller(engine, fake_x: FakeX, clock: Clock, *, page_size=100, timeout=5.0, own=frozenset()) -> Poller:
    http = httpx.Client(timeout=timeout)
    source = XSource(http=http, api_url=fake_x.url, bearer_token="test-bearer", page_size=page_size)
    return Poller(engine=engine, networks=x_network(source), own_handles=own, clock=clock)


def add_rule(engine, **kw) -> int:
    with session_scope(engine) as session:
        rule = rule_store.add_rule(session=session, network="x", query=kw.pop("query", QUERY), channel_id="C1",
                                   every_seconds=kw.pop("every", 60), lang=None,
                                   include_reposts=kw.pop("include_reposts", False), now=datetime.now(UTC),
                                   backfill=kw.pop("backfill", False))
        return rule.id


def stored_ids(engine) -> list[str]:
    with session_scope(engine) as session:
        return sorted(session.exec(select(PostRow.external_id)))


def case_count(engine) -> int:
    with session_scope(engine) as session:
        return len(session.exec(select(CaseRow)).all())


def rule(engine, rule_id):
    with session_scope(engine) as session:
        return rule_store.get_rule(session=session, rule_id=rule_id)


def post_many(fake_x: FakeX, n: int, text="my acme phone is broken #{i}") -> list[str]:
    return [fake_x.post(username=f"cust{i % 7}", text=text.format(i=i))["id"] for i in range(n)]


def poll_again(poller: Poller, clock: Clock, rule_id: int, seconds: float = 61) -> int:
    clock.offset += timedelta(seconds=seconds)
    return poller.poll_rule(rule_id)


def test_new_rule_takes_only_the_newest_page(engine, fake_x, clock):
    old = post_many(fake_x, 15)
    rule_id = add_rule(engine)
    poller = make_poller(engine, fake_x, clock, page_size=10)
    assert poller.poll_rule(rule_id) == 10
    assert stored_ids(engine) == sorted(old[-10:])
    assert rule(engine, rule_id).cursor == {"since_id": old[-1]}
    [request] = fake_x.requests_to(SEARCH_PATH)
    assert "since_id" not in request.query and request.query["max_results"] == "10"
    assert request.query["expansions"] == "author_id"
    assert "note_tweet" in request.query["tweet.fields"] and "conversation_id" in request.query["tweet.fields"]


def test_backfill_walks_every_page_of_a_new_rule(engine, fake_x, clock):
    old = post_many(fake_x, 25)
    rule_id = add_rule(engine, backfill=True)
    assert make_poller(engine, fake_x, clock, page_size=10).poll_rule(rule_id) == 25
    assert stored_ids(engine) == sorted(old)
    assert rule(engine, rule_id).cursor == {"since_id": old[-1]}


def test_walks_every_page_then_continues_from_the_newest(engine, fake_x, clock):
    rule_id = add_rule(engine)
    poller = make_poller(engine, fake_x, clock, page_size=10)
    poller.poll_rule(rule_id)  # nothing yet
    burst = post_many(fake_x, 35)
    assert poll_again(poller, clock, rule_id) == 35
    assert stored_ids(engine) == sorted(burst)
    assert rule(engine, rule_id).cursor == {"since_id": burst[-1]}
    later = post_many(fake_x, 3)
    assert poll_again(poller, clock, rule_id) == 3
    requests = fake_x.requests_to(SEARCH_PATH)
    assert requests[-1].query["since_id"] == burst[-1]
    assert case_count(engine) == 38 and stored_ids(engine) == sorted(burst + later)


def test_a_long_backlog_is_finished_on_the_next_poll_without_skipping(engine, fake_x, clock, monkeypatch):
    monkeypatch.setattr("socialdesk.jobs.poll.MAX_PAGES_PER_POLL", 3)
    rule_id = add_rule(engine)
    poller = make_poller(engine, fake_x, clock, page_size=10)
    poller.poll_rule(rule_id)
    burst = post_many(fake_x, 45)
    assert poll_again(poller, clock, rule_id) == 30
    cursor = rule(engine, rule_id).cursor
    assert cursor["next_token"] and cursor["pending_newest_id"] == burst[-1]
    newer = post_many(fake_x, 2)  # arrives mid-walk
    assert poll_again(poller, clock, rule_id) == 15
    assert rule(engine, rule_id).cursor == {"since_id": burst[-1]}
    assert poll_again(poller, clock, rule_id) == 2
    assert stored_ids(engine) == sorted(burst + newer)


def test_rate_limit_stops_requests_until_the_reset(engine, fake_x, clock):
    rule_id = add_rule(engine, every=5)
    poller = make_poller(engine, fake_x, clock, page_size=10)
    poller.poll_rule(rule_id)
    burst = post_many(fake_x, 25)
    reset = fake_x.rate_limit_next(SEARCH_PATH, 120)
    assert poll_again(poller, clock, rule_id, 6) == 0
    state = rule(engine, rule_id)
    assert state.not_before == datetime.fromtimestamp(reset, UTC)
    assert "rate limit" in state.last_error
    sent = len(fake_x.requests_to(SEARCH_PATH))
    for _ in range(5):  # the scheduler keeps firing: nothing may go out before the reset
        assert poll_again(poller, clock, rule_id, 6) == 0
    assert len(fake_x.requests_to(SEARCH_PATH)) == sent
    clock.offset = timedelta(seconds=reset - datetime.now(UTC).timestamp() + 1)
    assert poller.poll_rule(rule_id) == 25
    assert stored_ids(engine) == sorted(burst)
    assert rule(engine, rule_id).consecutive_failures == 0


def test_a_429_between_pages_loses_nothing(engine, fake_x, clock):
    rule_id = add_rule(engine)
    poller = make_poller(engine, fake_x, clock, page_size=10)
    poller.poll_rule(rule_id)
    burst = post_many(fake_x, 25)
    before = len(fake_x.requests_to(SEARCH_PATH))
    fake_x.fail_next(SEARCH_PATH, status=200)  # faults are served in order: page 1 passes,
    reset = fake_x.rate_limit_next(SEARCH_PATH, 60)  # then page 2 is refused
    assert poll_again(poller, clock, rule_id) == 10
    assert len(fake_x.requests_to(SEARCH_PATH)) == before + 2
    assert rule(engine, rule_id).cursor["next_token"]
    clock.offset += timedelta(seconds=61)
    assert clock().timestamp() > reset
    assert poller.poll_rule(rule_id) == 15
    assert stored_ids(engine) == sorted(burst)


def test_server_errors_back_off_and_recover(engine, fake_x, clock):
    rule_id = add_rule(engine, every=5)
    poller = make_poller(engine, fake_x, clock)
    poller.poll_rule(rule_id)
    burst = post_many(fake_x, 4)
    fake_x.unavailable_next(SEARCH_PATH, times=2)
    assert poll_again(poller, clock, rule_id, 6) == 0
    first = rule(engine, rule_id)
    assert first.consecutive_failures == 1 and "503" in first.last_error
    assert (first.not_before - clock()).total_seconds() == pytest.approx(5, abs=2)
    assert poll_again(poller, clock, rule_id, 6) == 0
    second = rule(engine, rule_id)
    assert second.consecutive_failures == 2
    assert (second.not_before - clock()).total_seconds() == pytest.approx(10, abs=2)
    assert poll_again(poller, clock, rule_id, 11) == 4
    assert rule(engine, rule_id).consecutive_failures == 0 and rule(engine, rule_id).last_error is None
    assert stored_ids(engine) == sorted(burst)


def test_timeouts_count_as_unavailable(engine, fake_x, clock):
    rule_id = add_rule(engine)
    poller = make_poller(engine, fake_x, clock, timeout=0.3)
    fake_x.fail_next(SEARCH_PATH, status=200, delay=1.5)
    assert poller.poll_rule(rule_id) == 0
    assert "did not answer in time" in rule(engine, rule_id).last_error


def test_partial_errors_keep_the_data(engine, fake_x, clock):
    rule_id = add_rule(engine)
    poller = make_poller(engine, fake_x, clock)
    poller.poll_rule(rule_id)
    post_many(fake_x, 3)
    fake_x.partial_error_next(SEARCH_PATH)
    assert poll_again(poller, clock, rule_id) == 3


def test_reposts_and_own_posts_open_no_case(engine, fake_x, clock):
    rule_id = add_rule(engine)
    poller = make_poller(engine, fake_x, clock, own=frozenset({"acmephones"}))
    poller.poll_rule(rule_id)
    original = fake_x.post(username="dana", text="my acme phone died")
    fake_x.post(username="eli", text="", retweet_of=original["id"])
    fake_x.post(username="AcmePhones", text="Sorry about your acme phone, DM us")
    assert poll_again(poller, clock, rule_id) == 1
    assert stored_ids(engine) == [original["id"]]


def test_bad_credentials_are_reported_on_the_rule(engine, fake_x, clock):
    rule_id = add_rule(engine)
    http = httpx.Client()
    source = XSource(http=http, api_url=fake_x.url, bearer_token="wrong")
    Poller(engine=engine, networks=x_network(source), own_handles=frozenset(), clock=clock).poll_rule(rule_id)
    assert "SOCIALDESK_X_BEARER_TOKEN" in rule(engine, rule_id).last_error


def test_missing_source_is_reported_on_the_rule(engine, clock):
    rule_id = add_rule(engine)
    Poller(engine=engine, networks=x_network(), own_handles=frozenset(), clock=clock).poll_rule(rule_id)
    assert rule(engine, rule_id).last_error == "SOCIALDESK_X_BEARER_TOKEN is not set; add it and restart"


def test_paused_rules_are_not_polled(engine, fake_x, clock):
    rule_id = add_rule(engine)
    with session_scope(engine) as session:
        rule_store.set_paused(session=session, rule_id=rule_id, paused=True, now=datetime.now(UTC))
    make_poller(engine, fake_x, clock).poll_rule(rule_id)
    assert fake_x.requests_to(SEARCH_PATH) == []


def test_triage_scores_posts_and_sets_priority_from_the_rule(engine, fake_x, clock):
    from socialdesk.triage.sentiment import Triage

    with session_scope(engine) as session:
        rule_id = rule_store.add_rule(session=session, network="x", query="acme", channel_id="C1", every_seconds=60,
                                      lang=None, include_reposts=False, now=datetime.now(UTC),
                                      priority_keywords=["refund"], priority_followers=50_000).id
    http = httpx.Client()
    source = XSource(http=http, api_url=fake_x.url, bearer_token="test-bearer")
    poller = Poller(engine=engine, networks=x_network(source), own_handles=frozenset(), clock=clock, triage=Triage())
    poller.poll_rule(rule_id)
    fake_x.add_user(username="big_name", followers=120_000)
    fake_x.post(username="calm", text="does the acme x2 come in blue?")
    fake_x.post(username="angry", text="I want a REFUND for this acme junk")
    fake_x.post(username="big_name", text="trying the acme x2 today")
    fake_x.post(username="happy", text="love my acme phone, best purchase ever!! 😍")
    assert poll_again(poller, clock, rule_id) == 4
    with session_scope(engine) as session:
        rows = session.exec(select(CaseRow, PostRow).where(PostRow.id == CaseRow.first_post_id)).all()
    by_text = {post.text: (case.priority, case.sentiment, post.sentiment) for case, post in rows}
    assert by_text["I want a REFUND for this acme junk"][0] == "high"
    assert by_text["trying the acme x2 today"][0] == "high"
    assert by_text["does the acme x2 come in blue?"][0] == "normal"
    assert by_text["love my acme phone, best purchase ever!! 😍"][1] > 0.5
    assert all(case_mood == post_mood for _, case_mood, post_mood in by_text.values())


def test_the_signed_in_brand_account_never_opens_cases(engine, fake_x, clock):
    rule_id = add_rule(engine)
    http = httpx.Client()
    source = XSource(http=http, api_url=fake_x.url, bearer_token="test-bearer")
    networks = x_network(source)
    networks["x"].brand_handle = lambda: "AcmeCare"  # the account `socialdesk auth x` signed in
    poller = Poller(engine=engine, networks=networks, own_handles=frozenset(), clock=clock)
    poller.poll_rule(rule_id)
    fake_x.post(username="acmecare", text="our acme phone update is out")
    customer = fake_x.post(username="dana", text="acme phone question")
    assert poll_again(poller, clock, rule_id) == 1
    assert stored_ids(engine) == [customer["id"]]


def test_a_worker_killed_mid_poll_holds_its_rule_no_longer_than_the_lease(engine, fake_x, clock):
    from socialdesk.jobs.poll_leases import LEASE_SECONDS

    rule_id = add_rule(engine, every=60)
    with session_scope(engine) as session:  # a worker took the lease, then was killed -9
        assert rule_store.take_lease(session=session, rule_id=rule_id, now=clock(), seconds=LEASE_SECONDS, min_gap=0)
    poller = make_poller(engine, fake_x, clock)
    fake_x.post(username="dana", text="acme phone broken")
    clock.offset += timedelta(seconds=LEASE_SECONDS - 5)
    assert poller.poll_rule(rule_id) == 0 and fake_x.requests_to(SEARCH_PATH) == []  # still held
    clock.offset += timedelta(seconds=6)
    assert poller.poll_rule(rule_id) == 1  # well within one poll interval of the kill


def test_a_walk_renews_its_lease_and_gives_back_only_its_own(engine, fake_x, clock):
    from socialdesk.jobs.poll_leases import LEASE_SECONDS

    rule_id = add_rule(engine, backfill=True)
    post_many(fake_x, 30)

    class SlowClock(Clock):
        """Each reading is 20 s later: a walk of several pages outlives one lease."""

        def __call__(self) -> datetime:
            self.offset += timedelta(seconds=20)
            return super().__call__()

    slow = SlowClock()
    renewals: list[tuple[datetime, datetime]] = []  # (lease_until seen before a page, the time then)
    xsource = XSource(http=httpx.Client(timeout=5), api_url=fake_x.url, bearer_token="test-bearer", page_size=10)

    class Watching:
        """The real X source; before each page it reads the rule's lease as another worker would."""

        def fetch(self, query, cursor):  # type: ignore[no-untyped-def]
            with session_scope(engine) as session:
                held = rule_store.get_rule(session=session, rule_id=rule_id).lease_until
            renewals.append((held.replace(tzinfo=held.tzinfo or UTC), slow()))
            return xsource.fetch(query, cursor)

    poller = Poller(engine=engine, networks=x_network(Watching()), own_handles=frozenset(), clock=slow)
    assert poller.poll_rule(rule_id) == 30
    assert len(renewals) >= 3
    assert all(until > at for until, at in renewals)  # still held before every page, 20 s apart each
    assert [u for u, _ in renewals] == sorted(u for u, _ in renewals)  # pushed forward page after page
    with session_scope(engine) as session:
        assert rule_store.get_rule(session=session, rule_id=rule_id).lease_until is None  # given back at the end
        # A lease another worker holds now is not given back by one whose lease lapsed.
        taken = rule_store.take_lease(session=session, rule_id=rule_id, now=slow(), seconds=LEASE_SECONDS, min_gap=0)
        rule_store.release_lease(session=session, rule_id=rule_id, taken_at=datetime(2000, 1, 1, tzinfo=UTC))
        assert rule_store.get_rule(session=session, rule_id=rule_id).lease_until == taken.lease_until
