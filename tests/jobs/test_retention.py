"""SourceCheck against FakeX over local HTTP and the Slack emulator; RetentionJob per settings."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from slack_sdk import WebClient
from sqlalchemy import update

from socialdesk.domain import Post
from socialdesk.jobs.publish import Publisher
from socialdesk.jobs.removal import FIRST_CHECK, SourceCheck
from socialdesk.jobs.retention import RetentionJob
from socialdesk.networks.x.removal import XRemovalCheck, parse_lookup
from socialdesk.networks.x.fake.server import FakeX
from socialdesk.slack import cards
from socialdesk.store import cases as case_store
from socialdesk.store import ingest, lifecycle
from socialdesk.store.db import session_scope
from socialdesk.store.models import CaseRow, PostRow
from tests.e2e.helpers import block_text
from tests.support.factories import x_post
from tests.support.refs import ref_json

BEARER = "test-bearer"


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def fake_x() -> Iterator[FakeX]:
    with FakeX(bearer_token=BEARER) as server:
        yield server


def on_x(fake_x: FakeX, text: str, handle: str, *, reply_to: Post | None = None) -> Post:
    """A post made on FakeX, as our store would hold it (same id, author, conversation)."""
    made = fake_x.post(username=handle, text=text, in_reply_to=reply_to.external_id if reply_to else None)
    post = x_post(text, handle=handle, post_id=made["id"])
    return dataclasses.replace(post, conversation_id=made["conversation_id"],
                               in_reply_to_id=reply_to.external_id if reply_to else None)


def checker(engine, slack_emulator, fake_x: FakeX, clock: Clock) -> SourceCheck:
    removal = XRemovalCheck(http=httpx.Client(timeout=5), api_url=fake_x.url, bearer_token=BEARER)
    return SourceCheck(engine=engine, slack=WebClient(token=slack_emulator.token, base_url=slack_emulator.url),
                       network="x", removal=removal, clock=clock)


def published_case(engine, slack_emulator, clock: Clock, channel: str, first: Post, *later: Post) -> int:
    with session_scope(engine) as session:
        [case_id] = ingest.store_posts(session=session, posts=[first], rule_id=None, channel_id=channel, now=clock())
        for post in later:
            ingest.store_page(session=session, posts=[post], rule_id=None, channel_id=channel, now=clock())
    slack = WebClient(token=slack_emulator.token, base_url=slack_emulator.url)
    Publisher(engine=engine, slack=slack, clock=clock, post_interval=0).run_once()
    return case_id


def card_of(engine, slack_emulator, channel: str, case_id: int) -> dict:
    with session_scope(engine) as session:
        ts = case_store.get_case(session=session, case_id=case_id).message_ts
    return next(m for m in slack_emulator.history(channel) if m["ts"] == ts)


def all_text(message: dict) -> str:
    return str(message.get("text")) + str(message.get("blocks"))


def test_deleted_and_withheld_posts_are_hidden_and_their_slack_messages_updated(engine, slack_emulator, fake_x):
    clock = Clock()
    channel = slack_emulator.new_channel("gone")
    first = on_x(fake_x, "my acme screen shows zanzibar stripes", "jane_doe")
    again = on_x(fake_x, "still quixotic stripes today", "jane_doe", reply_to=first)
    kept = on_x(fake_x, "acme charger works again", "bob_builds")
    case_id = published_case(engine, slack_emulator, clock, channel, first, again)
    kept_case = published_case(engine, slack_emulator, clock, channel, kept)
    assert "zanzibar" in all_text(card_of(engine, slack_emulator, channel, case_id))
    fake_x.delete_post(first.external_id)
    fake_x.withhold_post(again.external_id, ["de", "fr"])

    check = checker(engine, slack_emulator, fake_x, clock)
    assert check.run_once() == []  # just fetched: known to exist, not worth one of X's billed reads
    assert fake_x.requests_to("/2/tweets", method="GET") == []
    clock.now += FIRST_CHECK + timedelta(minutes=1)
    removed = check.run_once()

    assert sorted((r.external_id, r.reason) for r in removed) == sorted(
        [(first.external_id, "deleted"), (again.external_id, "withheld")])
    [lookup] = fake_x.requests_to("/2/tweets", method="GET")
    assert sorted(lookup.query["ids"].split(",")) == sorted([first.external_id, again.external_id, kept.external_id])
    assert lookup.query["tweet.fields"] == "withheld"
    card = card_of(engine, slack_emulator, channel, case_id)
    assert "zanzibar" not in all_text(card)
    assert block_text(card, "post") == "🗑️ _This post was deleted by its author._"
    [follow_up] = [m for m in slack_emulator.replies(channel, card["ts"])[1:]
                   if (m.get("metadata") or {}).get("event_type") == cards.FOLLOW_UP_METADATA_TYPE]
    assert "quixotic" not in all_text(follow_up)
    assert "This post is withheld in DE, FR and hidden here." in follow_up["blocks"][0]["text"]["text"]
    assert "acme charger works again" in all_text(card_of(engine, slack_emulator, channel, kept_case))

    assert check.run_once() == []  # each post is checked once per `recheck` (X bills every read)
    assert len(fake_x.requests_to("/2/tweets", method="GET")) == 1
    clock.now += timedelta(hours=25)
    assert check.run_once() == []  # the one post left is asked about again, and still exists
    [_, second] = fake_x.requests_to("/2/tweets", method="GET")
    assert second.query["ids"] == kept.external_id


def test_only_posts_of_live_cases_are_checked_and_a_rate_limit_waits(engine, slack_emulator, fake_x):
    clock = Clock()
    channel = slack_emulator.new_channel("old")
    old = on_x(fake_x, "an old closed complaint", "old_timer")
    fresh = on_x(fake_x, "a fresh complaint", "new_comer")
    old_case = published_case(engine, slack_emulator, clock, channel, old)
    published_case(engine, slack_emulator, clock, channel, fresh)
    with session_scope(engine) as session:
        lifecycle.resolve(session=session, case_id=old_case, user_id="UALICE", now=clock())
        session.execute(update(CaseRow).where(CaseRow.id == old_case).values(opened_at=clock() - timedelta(days=8)))
    clock.now += FIRST_CHECK + timedelta(minutes=1)
    reset = fake_x.rate_limit_next("/2/tweets", 7200, method="GET")  # beyond the clock moved above
    check = checker(engine, slack_emulator, fake_x, clock)
    assert check.run_once() == []
    assert check.run_once() == []  # waits for the reset: no second request
    assert len(fake_x.requests_to("/2/tweets", method="GET")) == 1
    clock.now = datetime.fromtimestamp(reset + 1, UTC)
    fake_x.delete_post(old.external_id)
    assert check.run_once() == []
    asked = fake_x.requests_to("/2/tweets", method="GET")[-1]
    assert asked.query["ids"] == fresh.external_id  # the resolved case opened 8 days ago is not asked about
    with session_scope(engine) as session:
        assert session.get(PostRow, case_store.get_case(session=session, case_id=old_case).first_post_id).removed_at \
            is None


def test_a_lookup_x_bills_is_metered_as_post_reads_of_no_rule(engine, slack_emulator, fake_x):
    from socialdesk.networks.base import Network
    from socialdesk.networks.x import network as x
    from socialdesk.networks.x.settings import XSettings
    from socialdesk.spend import Meter
    from socialdesk.store import spend

    clock = Clock()
    channel = slack_emulator.new_channel("billed")
    kept, gone = on_x(fake_x, "still here", "keeper"), on_x(fake_x, "soon gone", "leaver")
    for post in (kept, gone):
        published_case(engine, slack_emulator, clock, channel, post)
    fake_x.delete_post(gone.external_id)
    clock.now += FIRST_CHECK + timedelta(minutes=1)
    removal = XRemovalCheck(http=httpx.Client(timeout=5), api_url=fake_x.url, bearer_token=BEARER)
    meter = Meter({"x": Network(info=x.INFO, billing=x.billing(XSettings()))})
    SourceCheck(engine=engine, slack=WebClient(token=slack_emulator.token, base_url=slack_emulator.url), network="x",
                removal=removal, clock=clock, meter=meter).run_once()
    with session_scope(engine) as session:
        rows = spend.spent(session=session, start=clock().date(), end=clock().date() + timedelta(days=1))
    assert [(r.rule_id, r.kind, r.reads) for r in rows] == [(spend.NO_RULE, "post", 1)]  # the deleted one is no read


def test_parse_lookup_reads_the_recorded_shapes():
    recorded = ref_json("x/tweepy-cassettes/decoded/test_client_get_tweets.json")[0]["response_body"]
    asked = [p["id"] for p in recorded["data"]]
    assert parse_lookup(recorded, asked).deleted == [] and parse_lookup(recorded, asked).withheld == {}
    partial = ref_json("x/derived/error_samples.json")["partial_error_in_200_documented"]["body"]
    assert parse_lookup(partial, ["123", "456"]).deleted == ["456"]
    not_authorized = {"errors": [{"resource_id": "7", "resource_type": "tweet", "title": "Authorization Error",
                                  "type": "https://api.twitter.com/2/problems/not-authorized-for-resource"}]}
    assert parse_lookup(not_authorized, ["7"]).deleted == []  # a protected account says nothing about deletion


def test_retention_job_follows_the_settings(engine):
    clock = Clock()
    with session_scope(engine) as session:
        [old, recent] = ingest.store_posts(
            session=session, posts=[x_post("old", raw={"a": 1}), x_post("recent", raw={"a": 2})],
            rule_id=None, channel_id="C1", now=clock() - timedelta(days=40))
        session.execute(update(PostRow).where(PostRow.case_id == recent).values(fetched_at=clock()))
        lifecycle.resolve(session=session, case_id=old, user_id="UALICE", now=clock() - timedelta(days=40))
    assert RetentionJob(engine=engine, clock=clock, raw_days=0, closed_days=0).run_once().raw_payloads == 0
    dry = RetentionJob(engine=engine, clock=clock, raw_days=30, closed_days=30).run_once(dry_run=True)
    assert dry.raw_payloads == 1 and dry.deleted["cases"] == 1
    with session_scope(engine) as session:
        assert session.get(CaseRow, old) is not None  # the dry run changed nothing
    done = RetentionJob(engine=engine, clock=clock, raw_days=30, closed_days=30).run_once()
    assert (done.raw_payloads, done.deleted["cases"], done.deleted["posts"]) == (1, 1, 1)
    with session_scope(engine) as session:
        assert session.get(CaseRow, old) is None
        assert session.get(PostRow, case_store.get_case(session=session, case_id=recent).first_post_id).raw == {"a": 2}
