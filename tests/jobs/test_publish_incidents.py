"""Incidents through the publisher, against the Slack emulator: one incident card, each member in its thread."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk import WebClient

from socialdesk.jobs.publish import Publisher
from socialdesk.sandbox.scenario import SCENARIO
from socialdesk.slack import cards, ids
from socialdesk.store import cases as case_store
from socialdesk.store import ingest
from socialdesk.store import rules as rule_store
from socialdesk.store.db import session_scope
from tests.e2e.helpers import block_text, button_ids
from tests.support.factories import x_post
from tests.support.slack_proxy import SlackProxy

WIFI = [b for b in SCENARIO if "wifi" in b.text.lower()]
WINDOW = timedelta(hours=2)


def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def proxy(slack_emulator):
    with SlackProxy(slack_emulator.url) as p:
        yield p


def client_for(proxy: SlackProxy) -> WebClient:
    return WebClient(token=f"xoxb-{uuid.uuid4().hex}", base_url=proxy.url)


def storm(engine, channel: str, beats=WIFI, *, start: datetime | None = None, rule_id: int | None = None):
    """The beats' posts stored as one page on a rule (8 minutes apart); (rule id, case ids, posts)."""
    start = start or now() - timedelta(hours=1)
    with session_scope(engine) as session:
        rule_id = rule_id or rule_store.add_rule(session=session, network="x", query="acme", channel_id=channel,
                                                 every_seconds=60, lang=None, include_reposts=False, now=now()).id
        posts = [x_post(b.text, handle=f"{b.handle}_{uuid.uuid4().hex[:4]}", when=start + i * timedelta(minutes=8))
                 for i, b in enumerate(beats)]
        stored = ingest.store_page(session=session, posts=posts, rule_id=rule_id, channel_id=channel, now=now(),
                                   incident_window=WINDOW)
    return rule_id, stored.new_case_ids, posts


def ts_of(engine, case_id: int) -> str | None:
    with session_scope(engine) as session:
        return case_store.get_case(session=session, case_id=case_id).message_ts


def top_level(slack_emulator, channel: str) -> list[dict]:
    return [m for m in reversed(slack_emulator.history(channel)) if m.get("metadata")]


def members_in_thread(slack_emulator, channel: str, ts: str) -> list[dict]:
    return [m for m in slack_emulator.replies(channel, ts)[1:]
            if (m.get("metadata") or {}).get("event_type") == ids.INCIDENT_MEMBER_METADATA_TYPE]


def test_the_wifi_storm_is_one_incident_card_with_six_cases_in_its_thread(engine, slack_emulator, proxy):
    channel = slack_emulator.new_channel("storm")
    _, case_ids, posts = storm(engine, channel)
    publisher = Publisher(engine=engine, slack=client_for(proxy), clock=now, post_interval=0.2)
    assert publisher.run_once() == 6
    assert publisher.run_once() == 0

    [card] = top_level(slack_emulator, channel)  # no card of their own for the members
    assert card["metadata"]["event_payload"]["case_id"] == case_ids[0]
    assert block_text(card, "incident").startswith("🌩 *6 posts like this in 40 min* · 6 open")
    latest = block_text(card, "incident_latest")
    assert all(f"@{p.author.handle}" in latest for p in posts[1:])  # the five members, listed
    assert f"@{posts[0].author.handle}" not in latest and "Each one is its own case, in the thread" in latest
    incident_buttons = next(b for b in card["blocks"] if b.get("block_id") == "incident_actions")
    assert [e["action_id"] for e in incident_buttons["elements"]] == [
        ids.INCIDENT_REPLY_ALL, ids.INCIDENT_RESOLVE_ALL, ids.INCIDENT_IGNORE_ALL]

    members = members_in_thread(slack_emulator, channel, card["ts"])
    assert [m["metadata"]["event_payload"]["case_id"] for m in members] == case_ids[1:]  # each one once, in order
    for member, post in zip(members, posts[1:]):
        assert f"@{post.author.handle}" in block_text(member, "author")
        assert ids.CLAIM in button_ids(member) and ids.INCIDENT_SPLIT in button_ids(member)
        assert ts_of(engine, member["metadata"]["event_payload"]["case_id"]) == member["ts"]
    times = proxy.times_of("chat.postMessage")
    assert len(times) == 6 and all(b - a >= 0.19 for a, b in zip(times, times[1:]))  # the channel's pace kept


def test_a_member_joining_later_goes_into_the_thread_and_the_count_follows(engine, slack_emulator, proxy):
    channel = slack_emulator.new_channel("storm2")
    rule_id, first, posts = storm(engine, channel, WIFI[:2])
    slack = client_for(proxy)
    Publisher(engine=engine, slack=slack, clock=now, post_interval=0).run_once()
    [card] = top_level(slack_emulator, channel)
    assert block_text(card, "incident").startswith("🌩 *2 posts like this in 8 min*")
    _, later, _ = storm(engine, channel, WIFI[2:3], rule_id=rule_id, start=posts[-1].created_at + timedelta(minutes=10))
    assert Publisher(engine=engine, slack=slack, clock=now, post_interval=0).run_once() == 1
    [card] = top_level(slack_emulator, channel)
    assert block_text(card, "incident").startswith("🌩 *3 posts like this in 18 min*")  # redrawn, live
    members = members_in_thread(slack_emulator, channel, card["ts"])
    assert [m["metadata"]["event_payload"]["case_id"] for m in members] == [first[1], later[0]]


def test_a_member_posted_just_before_a_crash_is_found_in_the_thread_not_posted_again(engine, slack_emulator, proxy):
    channel = slack_emulator.new_channel("stormcrash")
    _, (anchor, member), _ = storm(engine, channel, WIFI[:2])
    slack = client_for(proxy)
    with session_scope(engine) as session:  # the anchor's card is out; the member is being posted …
        view = case_store.case_view(session=session, case_id=anchor)
    with session_scope(engine) as session:
        case_store.record_card(session=session, case_id=anchor, message_ts=cards.post_card(slack, view), now=now())
        case_store.mark_publish_attempt(session=session, case_id=member, now=now())
    with session_scope(engine) as session:
        member_view = case_store.case_view(session=session, case_id=member)
    ts = cards.post_card(slack, member_view)  # … and the process died before its ts was recorded
    assert Publisher(engine=engine, slack=slack, clock=now, post_interval=0).run_once() == 0
    [card] = top_level(slack_emulator, channel)
    assert [m["ts"] for m in members_in_thread(slack_emulator, channel, card["ts"])] == [ts]
    assert ts_of(engine, member) == ts


def test_a_members_follow_up_goes_into_the_incident_cards_thread(engine, slack_emulator, proxy):
    channel = slack_emulator.new_channel("stormfu")
    rule_id, (anchor, member), posts = storm(engine, channel, WIFI[:2])
    slack = client_for(proxy)
    Publisher(engine=engine, slack=slack, clock=now, post_interval=0).run_once()
    again = dataclasses.replace(x_post("still no wifi, any news?", handle=posts[1].author.handle,
                                       author_id=posts[1].author.external_id),
                                conversation_id=posts[1].conversation_id, in_reply_to_id=posts[1].external_id)
    with session_scope(engine) as session:
        [post_id] = ingest.store_page(session=session, posts=[again], rule_id=rule_id, channel_id=channel, now=now(),
                                      incident_window=WINDOW).follow_up_post_ids
    assert Publisher(engine=engine, slack=slack, clock=now, post_interval=0).run_once() == 1
    thread = slack_emulator.replies(channel, ts_of(engine, anchor))
    follow_ups = [m for m in thread if (m.get("metadata") or {}).get("event_type") == cards.FOLLOW_UP_METADATA_TYPE]
    assert [m["metadata"]["event_payload"]["post_id"] for m in follow_ups] == [post_id]
    [member_message] = members_in_thread(slack_emulator, channel, ts_of(engine, anchor))
    assert "New reply from the customer" in block_text(member_message, "status")
