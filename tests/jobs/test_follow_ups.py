"""Follow-ups into the card's thread, against the Slack emulator (behind the rate-limiting proxy)."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk import WebClient
from sqlalchemy import update
from sqlmodel import select

from socialdesk.domain import Post
from socialdesk.jobs.notices import Notifier
from socialdesk.jobs.publish import Publisher
from socialdesk.slack import cards
from socialdesk.store import cases as case_store
from socialdesk.store import conversations, ingest, lifecycle
from socialdesk.store.db import session_scope
from socialdesk.store.models import CaseRow, PostRow
from tests.support.factories import x_post
from tests.support.networks import x_network
from tests.support.slack_proxy import SlackProxy

HOSTILE = "<!channel> still broken & nobody answers <@U0ADMIN>"


def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def proxy(slack_emulator):
    with SlackProxy(slack_emulator.url) as p:
        yield p


def client_for(proxy: SlackProxy) -> WebClient:
    return WebClient(token=f"xoxb-{uuid.uuid4().hex}", base_url=proxy.url)


def reply_to(parent: Post, text: str) -> Post:
    post = x_post(text, handle=parent.author.handle)
    return dataclasses.replace(post, conversation_id=parent.conversation_id, in_reply_to_id=parent.external_id)


def open_case(engine, channel: str) -> tuple[int, Post]:
    first = x_post("my acme phone broke", handle=f"cust_{uuid.uuid4().hex[:6]}")
    with session_scope(engine) as session:
        [case_id] = ingest.store_posts(session=session, posts=[first], rule_id=None, channel_id=channel, now=now())
    return case_id, first


def follow_up(engine, first: Post, text: str = HOSTILE) -> int:
    with session_scope(engine) as session:
        stored = ingest.store_page(session=session, posts=[reply_to(first, text)], rule_id=None, channel_id="C0",
                                   now=now())
    [post_id] = stored.follow_up_post_ids
    return post_id


def card_ts(engine, case_id: int) -> str:
    with session_scope(engine) as session:
        ts = case_store.get_case(session=session, case_id=case_id).message_ts
    assert ts
    return ts


def thread_follow_ups(slack_emulator, channel: str, ts: str) -> list[dict]:
    return [m for m in slack_emulator.replies(channel, ts)[1:]
            if (m.get("metadata") or {}).get("event_type") == cards.FOLLOW_UP_METADATA_TYPE]


def thread_ts_of(engine, post_id: int) -> str | None:
    with session_scope(engine) as session:
        return session.exec(select(PostRow.thread_ts).where(PostRow.id == post_id)).one()


def test_a_follow_up_goes_once_into_the_cards_thread_and_the_card_is_refreshed(engine, slack_emulator, proxy):
    channel = slack_emulator.new_channel("fu")
    case_id, first = open_case(engine, channel)
    post_id = follow_up(engine, first)  # before the card exists: it waits for the card
    publisher = Publisher(engine=engine, slack=client_for(proxy), clock=now, post_interval=0.3)
    assert publisher.run_once() == 2  # the card, then the follow-up in its thread
    assert publisher.run_once() == 0
    ts = card_ts(engine, case_id)
    [message] = thread_follow_ups(slack_emulator, channel, ts)
    assert message["thread_ts"] == ts and thread_ts_of(engine, post_id) == message["ts"]
    assert message["metadata"]["event_payload"] == {"case_id": case_id, "post_id": post_id}
    shown = message["blocks"][0]["text"]["text"]
    assert shown == (f"💬 *New reply from @{first.author.handle}*: &lt;!channel&gt; still broken &amp; "
                     "nobody answers &lt;@U0ADMIN&gt;")
    assert "<!channel>" not in message["text"] and "<@U0ADMIN>" not in message["text"]
    assert "/status/" in message["blocks"][1]["elements"][0]["text"]
    [update_call] = proxy.calls_to("chat.update")
    assert update_call.params["ts"] == ts
    assert len(slack_emulator.history(channel)) == 1  # in the thread only, no second card
    # Pacing holds across cards and follow-ups in one channel.
    posts = proxy.times_of("chat.postMessage")
    assert posts[1] - posts[0] >= 0.28


def test_a_follow_up_posted_just_before_a_crash_is_found_not_posted_again(engine, slack_emulator, proxy):
    channel = slack_emulator.new_channel("fucrash")
    case_id, first = open_case(engine, channel)
    slack = client_for(proxy)
    Publisher(engine=engine, slack=slack, clock=now).run_once()
    post_id = follow_up(engine, first)
    # The dead process noted its attempt and posted; the ts never reached the database.
    attempted = now() - timedelta(seconds=61)  # its lease has run out
    with session_scope(engine) as session:
        assert conversations.take_thread_attempt(session=session, post_id=post_id, seen=None, now=attempted)
        [waiting] = conversations.unthreaded(session=session, now=now(), lease=timedelta(seconds=60), limit=10)
    ts = cards.post_follow_up(slack, channel_id=channel, thread_ts=waiting.card_ts, case_id=case_id,
                              post_id=post_id, post=waiting.post)
    assert Publisher(engine=engine, slack=slack, clock=now).run_once() == 0
    assert [m["ts"] for m in thread_follow_ups(slack_emulator, channel, card_ts(engine, case_id))] == [ts]
    assert thread_ts_of(engine, post_id) == ts


def test_an_attempt_that_posted_nothing_is_retried_after_its_lease(engine, slack_emulator, proxy):
    channel = slack_emulator.new_channel("fucrash2")
    case_id, first = open_case(engine, channel)
    slack = client_for(proxy)
    Publisher(engine=engine, slack=slack, clock=now).run_once()
    post_id = follow_up(engine, first)
    with session_scope(engine) as session:
        conversations.take_thread_attempt(session=session, post_id=post_id, seen=None, now=now())
    assert Publisher(engine=engine, slack=slack, clock=now).run_once() == 0  # someone holds it
    later = lambda: now() + timedelta(seconds=61)  # noqa: E731
    assert Publisher(engine=engine, slack=slack, clock=later).run_once() == 1
    assert len(thread_follow_ups(slack_emulator, channel, card_ts(engine, case_id))) == 1


def test_retry_after_is_honoured_for_follow_ups(engine, slack_emulator, proxy):
    channel = slack_emulator.new_channel("furl")
    case_id, first = open_case(engine, channel)
    slack = client_for(proxy)
    Publisher(engine=engine, slack=slack, clock=now).run_once()
    post_id = follow_up(engine, first)
    proxy.rate_limit("chat.postMessage", retry_after=1, times=1)
    sent_before = len(proxy.times_of("chat.postMessage"))
    # No retry handler on this client: the publisher itself must wait out Retry-After.
    assert Publisher(engine=engine, slack=slack, clock=now, post_interval=0.1).run_once() == 1
    [limited] = proxy.times_of("chat.postMessage", status=429)
    [posted] = proxy.times_of("chat.postMessage")[sent_before:]
    assert posted - limited >= 0.99
    assert thread_ts_of(engine, post_id) is not None
    assert len(thread_follow_ups(slack_emulator, channel, card_ts(engine, case_id))) == 1


def owner_pings(slack_emulator, channel: str, ts: str) -> list[str]:
    return [m["text"] for m in slack_emulator.replies(channel, ts)[1:] if m["text"].startswith("🔔")]


def test_a_follow_up_on_an_owned_case_pings_its_owner_in_the_thread_once(engine, slack_emulator, proxy):
    channel = slack_emulator.new_channel("fuping")
    case_id, first = open_case(engine, channel)
    unowned_id, unowned_first = open_case(engine, channel)
    slack = client_for(proxy)
    woken: list[int] = []
    publisher = Publisher(engine=engine, slack=slack, clock=now, post_interval=0, notify=lambda: woken.append(1))
    notifier = Notifier(engine=engine, slack=slack, clock=now)
    publisher.run_once()
    alice = slack_emulator.users["alice"]
    with session_scope(engine) as session:
        lifecycle.claim(session=session, case_id=case_id, user_id=alice, now=now())
    follow_up(engine, first, "still broken")
    follow_up(engine, unowned_first, "hello?")
    assert publisher.run_once() == 2 and woken == [1]  # only the owned case's follow-up wakes the notifier
    assert notifier.run_once() == 1
    ts = card_ts(engine, case_id)
    assert owner_pings(slack_emulator, channel, ts) == [f"🔔 <@{alice}> @{first.author.handle} wrote again."]
    assert owner_pings(slack_emulator, channel, card_ts(engine, unowned_id)) == []  # nobody to ping
    # The follow-up goes before the ping in the thread.
    texts = [m["text"] for m in slack_emulator.replies(channel, ts)[1:]]
    assert texts[0].startswith("New reply from @") and texts[1].startswith("🔔")

    # Two more while the notifier is not running (a burst, a night): one ping for both.
    follow_up(engine, first, "hello??")
    follow_up(engine, first, "anyone??")
    assert publisher.run_once() == 2
    assert Notifier(engine=engine, slack=slack, clock=now).run_once() == 1
    assert notifier.run_once() == 0
    assert owner_pings(slack_emulator, channel, ts)[1:] == [f"🔔 <@{alice}> @{first.author.handle} wrote again (2 new posts)."]

    # Resolved, the customer writes again: reopened, and still the owner's.
    with session_scope(engine) as session:
        lifecycle.resolve(session=session, case_id=case_id, user_id=alice, now=now())
    follow_up(engine, first, "it broke again")
    assert publisher.run_once() == 1 and notifier.run_once() == 1
    assert owner_pings(slack_emulator, channel, ts)[2] == (
        f"🔔 <@{alice}> @{first.author.handle} wrote again: the case is reopened and still yours.")


def test_an_ignored_cases_follow_ups_stay_out_of_the_thread(engine, slack_emulator, proxy):
    channel = slack_emulator.new_channel("fuign")
    case_id, first = open_case(engine, channel)
    slack = client_for(proxy)
    Publisher(engine=engine, slack=slack, clock=now).run_once()
    with session_scope(engine) as session:
        session.execute(update(CaseRow).where(CaseRow.id == case_id).values(status="ignored"))
    post_id = follow_up(engine, first, "buy followers")
    assert Publisher(engine=engine, slack=slack, clock=now).run_once() == 0
    assert thread_follow_ups(slack_emulator, channel, card_ts(engine, case_id)) == []
    assert thread_ts_of(engine, post_id) is None


# --- the poller watches the conversations of recent cases ---


@pytest.fixture
def fake_x():
    from socialdesk.networks.x.fake.server import FakeX

    with FakeX(bearer_token="watch-bearer") as server:
        yield server


def watching_poller(engine, fake_x, **kw):
    import httpx

    
    from socialdesk.jobs.poll import Poller
    from socialdesk.networks.x.search import XSource

    source = XSource(http=httpx.Client(timeout=5), api_url=fake_x.url, bearer_token="watch-bearer")
    return Poller(engine=engine, networks=x_network(source), own_handles=frozenset({"acmephones"}),
                  clock=kw.pop("clock", now), follow_conversations=True, **kw)


def add_rule(engine, query="acme phone") -> int:
    from socialdesk.store import rules as rule_store

    with session_scope(engine) as session:
        return rule_store.add_rule(session=session, network="x", query=query, channel_id="C1", every_seconds=5,
                                   lang=None, include_reposts=False, now=now(), backfill=True).id


def stored_case_ids(engine, *external_ids: str) -> list[int | None]:
    with session_scope(engine) as session:
        return [session.exec(select(PostRow.case_id).where(PostRow.external_id == e)).one_or_none()
                for e in external_ids]


class Clock:
    """Real time plus an offset the test moves forward (each poll is then due)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return now() + self.offset

    def tick(self) -> Clock:
        self.offset += timedelta(seconds=10)
        return self


def test_answers_without_the_keywords_are_found_in_the_conversation(engine, fake_x):
    from socialdesk.networks.x.search import SEARCH_PATH

    rule_id = add_rule(engine)
    first = fake_x.post(username="dana_k", text="my acme phone will not charge")
    clock = Clock()
    poller = watching_poller(engine, fake_x, clock=clock)
    assert poller.poll_rule(rule_id) == 1
    ours = fake_x.post(username="acmephones", text="@dana_k sorry! try a reset", in_reply_to=first["id"])
    answer = fake_x.post(username="dana_k", text="@acmephones did not help", in_reply_to=ours["id"])
    chatter = fake_x.post(username="troll", text="lol", in_reply_to=first["id"])
    fake_x.post(username="elsewhere", text="did not help either")  # not in the conversation
    clock.tick()
    assert poller.poll_rule(rule_id) == 0
    [case_id] = stored_case_ids(engine, first["id"])
    assert stored_case_ids(engine, answer["id"], chatter["id"], ours["id"]) == [case_id, None, None]
    watch = [r for r in fake_x.requests_to(SEARCH_PATH) if "conversation_id:" in r.query["query"]]
    assert watch[-1].query["query"] == f"conversation_id:{first['id']}"
    # The next search starts after what was seen; nothing is stored twice.
    clock.tick()
    assert poller.poll_rule(rule_id) == 0
    watch = [r for r in fake_x.requests_to(SEARCH_PATH) if "conversation_id:" in r.query["query"]]
    assert int(watch[-1].query["since_id"]) >= int(chatter["id"])
    with session_scope(engine) as session:
        assert len([e for e in case_store.events(session=session, case_id=case_id) if e.kind == "follow_up"]) == 1


def test_a_restarted_poller_starts_from_the_stored_posts(engine, fake_x):
    from socialdesk.networks.x.search import SEARCH_PATH

    rule_id = add_rule(engine)
    first = fake_x.post(username="dana_k", text="my acme phone will not charge")
    watching_poller(engine, fake_x).poll_rule(rule_id)
    answer = fake_x.post(username="dana_k", text="hello??", in_reply_to=first["id"])
    watching_poller(engine, fake_x, clock=Clock().tick()).poll_rule(rule_id)  # a fresh process: no memory
    watch = [r for r in fake_x.requests_to(SEARCH_PATH) if "conversation_id:" in r.query["query"]]
    assert [r.query["since_id"] for r in watch] == [first["id"], first["id"]]
    [case_id] = stored_case_ids(engine, first["id"])
    assert stored_case_ids(engine, answer["id"]) == [case_id]
