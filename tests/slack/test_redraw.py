"""Two card updaters racing (slack.cards.redraw): the newest case always ends up on the card."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from slack_sdk import WebClient

from socialdesk.jobs.publish import Publisher
from socialdesk.slack import cards
from socialdesk.store import cases as case_store
from socialdesk.store import ingest
from socialdesk.store.db import session_scope
from tests.support.db import engine  # noqa: F401  (fixture)
from tests.support.factories import x_post


def test_an_update_drawn_from_a_stale_read_is_drawn_again_from_the_newest(engine, slack_emulator):
    channel = slack_emulator.new_channel("redraw")
    client = WebClient(token=slack_emulator.token, base_url=slack_emulator.url)
    with session_scope(engine) as session:
        [case_id] = ingest.store_posts(session=session, posts=[x_post("acme phone bricked")], rule_id=None,
                                       channel_id=channel, now=datetime.now(UTC))
    Publisher(engine=engine, slack=client, clock=lambda: datetime.now(UTC), post_interval=0).run_once()
    with session_scope(engine) as session:
        stale = case_store.case_view(session=session, case_id=case_id)
    newest = replace(stale, tags=("warranty-claim",))  # what another worker stored meanwhile
    reads = iter([stale, newest, newest])

    drawn = cards.redraw(client, lambda: next(reads))

    assert drawn == newest
    [card] = [m for m in slack_emulator.history(channel) if m.get("ts") == stale.message_ts]
    assert "warranty-claim" in str(card["blocks"])
    assert next(reads, None) is None  # read again after each update, and stopped once it held


def test_a_case_gone_meanwhile_is_left_alone(slack_emulator):
    client = WebClient(token=slack_emulator.token, base_url=slack_emulator.url)
    assert cards.redraw(client, lambda: None) is None
