"""The publisher against the Slack emulator (behind a proxy that can rate-limit)."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import pytest
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from socialdesk.jobs.publish import Publisher
from socialdesk.slack import ids
from socialdesk.slack.cards import post_card
from socialdesk.store import cases as case_store
from socialdesk.store import ingest
from socialdesk.store.db import session_scope
from tests.support.factories import x_post
from tests.support.slack_proxy import SlackProxy
from tests.support.waiting import wait_for


def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def proxy(slack_emulator):
    with SlackProxy(slack_emulator.url) as p:
        yield p


def client_for(proxy: SlackProxy, retries: int = 2) -> WebClient:
    # A token of its own: the emulator counts requests per token string.
    return WebClient(token=f"xoxb-{uuid.uuid4().hex}", base_url=proxy.url,
                     retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=retries)])


def open_cases(engine, channel: str, n: int) -> list[int]:
    with session_scope(engine) as session:
        return ingest.store_posts(session=session, posts=[x_post(f"my acme phone #{i}") for i in range(n)],
                                  rule_id=None, channel_id=channel, now=now())


def card_case_ids(slack_emulator, channel: str) -> list[int]:
    """Case ids of the cards in the channel, oldest first."""
    messages = reversed(slack_emulator.history(channel))
    return [m["metadata"]["event_payload"]["case_id"] for m in messages
            if (m.get("metadata") or {}).get("event_type") == ids.CASE_METADATA_TYPE]


def ts_of(engine, case_id: int) -> str | None:
    with session_scope(engine) as session:
        return case_store.get_case(session=session, case_id=case_id).message_ts


def test_cards_go_out_once_each_in_order_and_paced_per_channel(engine, slack_emulator, proxy):
    channel = slack_emulator.new_channel("pub")
    case_ids = open_cases(engine, channel, 4)
    publisher = Publisher(engine=engine, slack=client_for(proxy), clock=now, post_interval=0.4)
    assert publisher.run_once() == 4
    assert publisher.run_once() == 0
    assert card_case_ids(slack_emulator, channel) == case_ids
    times = proxy.times_of("chat.postMessage")
    assert all(b - a >= 0.38 for a, b in zip(times, times[1:])), times  # never faster than the pace
    cards = {m["metadata"]["event_payload"]["case_id"]: m["ts"] for m in slack_emulator.history(channel) if m.get("metadata")}
    assert all(ts_of(engine, c) == cards[c] for c in case_ids)


def test_channels_do_not_wait_for_each_other(engine, slack_emulator, proxy):
    first, second = slack_emulator.new_channel("pa"), slack_emulator.new_channel("pb")
    open_cases(engine, first, 1)
    open_cases(engine, second, 1)
    # One card a minute per channel and a run of at most 20 s: the second channel's card goes out
    # in this run only if it does not wait behind the first channel's pace (no wall clock compared).
    Publisher(engine=engine, slack=client_for(proxy), clock=now, post_interval=60, time_budget=20).run_once()
    assert len(card_case_ids(slack_emulator, first)) == 1 and len(card_case_ids(slack_emulator, second)) == 1


def test_retry_after_is_honoured_and_nothing_is_lost(engine, slack_emulator, proxy):
    channel = slack_emulator.new_channel("rl")
    case_ids = open_cases(engine, channel, 3)
    proxy.rate_limit("chat.postMessage", retry_after=1, times=1)
    Publisher(engine=engine, slack=client_for(proxy), clock=now, post_interval=0.1).run_once()
    [limited] = proxy.times_of("chat.postMessage", status=429)
    posted = proxy.times_of("chat.postMessage")
    assert posted[0] - limited >= 0.99  # not one request before Retry-After ran out
    assert card_case_ids(slack_emulator, channel) == case_ids


def test_a_case_still_limited_after_retries_waits_and_is_posted_later(engine, slack_emulator, proxy):
    channel = slack_emulator.new_channel("rl2")
    [case_id] = open_cases(engine, channel, 1)
    proxy.rate_limit("chat.postMessage", retry_after=1, times=2)
    publisher = Publisher(engine=engine, slack=client_for(proxy, retries=1), clock=now, post_interval=0.1, time_budget=0.5)
    assert publisher.run_once() == 0
    with session_scope(engine) as session:
        case = case_store.get_case(session=session, case_id=case_id)
    assert case.message_ts is None and case.publish_error == "ratelimited"
    publisher_later = Publisher(engine=engine, slack=client_for(proxy), clock=now, post_interval=0.1, time_budget=5)
    assert publisher_later.run_once() == 0  # still inside Retry-After: held back
    time.sleep(1.1)
    assert publisher_later.run_once() == 1
    assert card_case_ids(slack_emulator, channel) == [case_id]


def test_a_card_posted_just_before_a_crash_is_found_not_posted_again(engine, slack_emulator, proxy):
    channel = slack_emulator.new_channel("crash")
    [case_id] = open_cases(engine, channel, 1)
    slack = client_for(proxy)
    # The dead process got as far as posting; its ts never reached the database.
    with session_scope(engine) as session:
        case_store.mark_publish_attempt(session=session, case_id=case_id, now=now())
        view = case_store.case_view(session=session, case_id=case_id)
    ts = post_card(slack, view)
    assert Publisher(engine=engine, slack=slack, clock=now).run_once() == 0
    assert card_case_ids(slack_emulator, channel) == [case_id]
    assert ts_of(engine, case_id) == ts
    with session_scope(engine) as session:
        [posted] = [e for e in case_store.events(session=session, case_id=case_id) if e.kind == "card_posted"]
    assert posted.payload == {"ts": ts, "recovered": True}


def test_a_crash_before_posting_still_gets_its_card(engine, slack_emulator, proxy):
    channel = slack_emulator.new_channel("crash2")
    [case_id] = open_cases(engine, channel, 1)
    with session_scope(engine) as session:
        case_store.mark_publish_attempt(session=session, case_id=case_id, now=now())
    assert Publisher(engine=engine, slack=client_for(proxy), clock=now).run_once() == 1
    assert card_case_ids(slack_emulator, channel) == [case_id]


def test_a_wrong_channel_is_reported_and_the_case_kept(engine, slack_emulator, proxy):
    [case_id] = open_cases(engine, "C0NOSUCH1", 1)
    assert Publisher(engine=engine, slack=client_for(proxy), clock=now).run_once() == 0
    with session_scope(engine) as session:
        case = case_store.get_case(session=session, case_id=case_id)
    assert case.message_ts is None
    assert case.publish_error.startswith("channel_not_found: the rule's channel id is wrong")
    assert case.publish_lease_until > now()


def test_ticks_and_wakes_during_a_long_drain_are_no_warnings_and_lose_no_card(engine, slack_emulator, proxy,
                                                                                caplog):
    """Cards paced a second apart keep one drain running through several ticks; a case opened
    meanwhile (its wake) still goes out in time, and APScheduler logs no skipped runs."""
    from socialdesk.jobs.poll import Poller
    from socialdesk.jobs.scheduler import PUBLISH_JOB, build_scheduler

    busy, other = slack_emulator.new_channel("pub-busy"), slack_emulator.new_channel("pub-other")
    paced = open_cases(engine, busy, 3)
    publisher = Publisher(engine=engine, slack=client_for(proxy), clock=now, post_interval=1.0)
    poller = Poller(engine=engine, networks={}, own_handles=frozenset(), clock=now)
    scheduler = build_scheduler(engine=engine, poller=poller, publisher=publisher)
    caplog.set_level("WARNING", logger="apscheduler")
    scheduler.start()
    try:
        wait_for(lambda: len(card_case_ids(slack_emulator, busy)) == 1, timeout=15, what="the drain's first card")
        [woken] = open_cases(engine, other, 1)
        scheduler.modify_job(PUBLISH_JOB, next_run_time=datetime.now(UTC))  # what the poller's wake does
        wait_for(lambda: card_case_ids(slack_emulator, busy) == paced, timeout=15, what="the paced cards")
        assert card_case_ids(slack_emulator, other) == [woken]
    finally:
        scheduler.shutdown(wait=True)
    assert [r.getMessage() for r in caplog.records if "maximum number of running instances" in r.getMessage()] == []
