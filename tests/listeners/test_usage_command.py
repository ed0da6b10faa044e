"""`/social usage` (listeners.usage_commands) in-process, on the app `app.build` makes (its spend meter)."""

from __future__ import annotations

from datetime import UTC, datetime

from socialdesk.listeners import commands
from socialdesk.networks.base import BilledReads
from socialdesk.store import rules as rule_store
from socialdesk.store.db import session_scope


def said(deps, slack_emulator, text: str) -> str:
    reply = commands.answer(deps, None, user_id=slack_emulator.users["alice"], text=text, channel_id="C0CARE1")
    blocks = [b.to_dict() for b in reply.blocks]
    return "\n".join([reply.text] + [str(b.get("text", {}).get("text", "")) for b in blocks]
                     + [e.get("text", "") for b in blocks for e in b.get("elements", []) if isinstance(e, dict)])


def test_usage_shows_this_months_spend_by_rule_with_the_projection_and_the_cap(deps, slack_emulator):
    now = datetime.now(UTC)
    with session_scope(deps.engine) as session:
        rule_id = rule_store.add_rule(session=session, network="x", query="acme <phone>", channel_id="C1",
                                      every_seconds=60, lang=None, include_reposts=False, now=now,
                                      monthly_budget=50.0).id
        deps.spend_meter().record(session=session, network="x", rule_id=rule_id, now=now,
                                  reads=[BilledReads("post", tuple(map(str, range(400))))])
        deps.spend_meter().record(session=session, network="x", rule_id=None, now=now,
                                  reads=[BilledReads("created", ("r1", "r2"))])
    text = said(deps, slack_emulator, "usage")
    assert f"Spend in {now:%B %Y}" in text
    assert "X: $2.03 so far" in text and "projected by the month's end" in text
    assert "400 of the plan's 3,000,000 post reads a month" in text
    assert f"*Rule {rule_id}* `acme &lt;phone&gt;`: $2.00 of $50.00 · 4% of budget · 400 post reads" in text
    assert "*Replies, lookups, removed rules*: $0.03 · no budget · 2 posts created" in text
    assert "--budget 50/month" in text


def test_usage_has_help_and_says_how_it_is_used(deps, slack_emulator):
    assert "this month's spend on billed reads" in said(deps, slack_emulator, "usage help")
    assert "Usage: `/social usage` (no arguments)" in said(deps, slack_emulator, "usage everything")
    assert "`/social usage`" in said(deps, slack_emulator, "help")


def test_usage_with_nothing_billed_says_so(deps, slack_emulator):
    text = said(deps, slack_emulator, "usage")
    assert "X: $0.00 so far" in text and "No rule has billed reads this month." in text
