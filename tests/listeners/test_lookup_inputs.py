"""What `/social` lookups take: a handle as cards show it (user@server included) in `author` and
`search from:`; filters past what the database holds are refused, not sent to it; a long search
pages through itself."""

from __future__ import annotations

from datetime import UTC, datetime

from socialdesk.store import ingest
from socialdesk.store.db import session_scope
from socialdesk.slack import ids
from socialdesk.slack.blocks.lookup import nav_value, parse_nav_value
from tests.listeners.test_commands import case_ids_in, page, social, stored_cases
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


def test_a_long_search_pages_through_itself_filters_and_all(deps, desk, slack_emulator, channel):
    """Prev/Next kept the first 500 characters: a filter written after them was dropped on page 2."""
    stored_cases(deps, 12, text="acme battery")
    long = "acme battery " + " ".join(["battery"] * 150) + " status:resolved"  # nothing is resolved
    assert len(long) > 1000 and case_ids_in(social(deps, slack_emulator, desk, f"search {long}")) == []
    everything = "acme battery " + " ".join(["battery"] * 150)
    first = social(deps, slack_emulator, desk, f"search {everything}")
    [nav] = [b for b in first["blocks"] if b["type"] == "actions" and b.get("block_id") == "lookup_nav"]
    [(action, value)] = [(e["action_id"], e["value"]) for e in nav["elements"]]
    assert action == ids.LOOKUP_NEXT and parse_nav_value(value) == ("search", everything, 10)
    assert len(case_ids_in(page(deps, desk, slack_emulator, channel, value))) == 2
    filtered = page(deps, desk, slack_emulator, channel, nav_value("search", long, 10))
    assert case_ids_in(filtered) == [] and "no longer available" not in filtered["text"]
