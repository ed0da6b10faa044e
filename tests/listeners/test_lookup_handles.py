"""`/social author` and `search from:` take a handle as cards show it, user@server included; filters
past what the database holds are refused, not sent to it."""

from __future__ import annotations

from datetime import UTC, datetime

from socialdesk.store import ingest
from socialdesk.store.db import session_scope
from tests.listeners.test_commands import case_ids_in, social
from tests.support.factories import x_post


def test_a_customer_on_a_server_is_looked_up_by_the_handle_their_card_shows(deps, desk, slack_emulator):
    with session_scope(deps.engine) as session:
        [dana] = ingest.store_posts(session=session, posts=[x_post("acme refund please", handle="dana@example.social")],
                                    rule_id=None, channel_id="C0NOCARDS", now=datetime.now(UTC))
        ingest.store_posts(session=session, posts=[x_post("acme refund too", handle="dana")],
                           rule_id=None, channel_id="C0NOCARDS", now=datetime.now(UTC))
    for written in ("@dana@example.social", "Dana@Example.Social", "dana@example.social"):
        assert case_ids_in(social(deps, slack_emulator, desk, f"author {written}")) == [dana], written
        assert case_ids_in(social(deps, slack_emulator, desk, f"search refund from:{written}")) == [dana], written


def test_a_rule_number_past_the_database_is_refused_in_words(deps, desk, slack_emulator):
    said = social(deps, slack_emulator, desk, "search refund rule:2147483648")["text"]
    assert "rule takes a rule number" in said and "Sorry" not in said
