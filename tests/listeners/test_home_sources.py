"""App Home's Sources section (socialdesk.health): everyone sees which rules are in trouble; admins see each rule's state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from socialdesk.listeners import home
from socialdesk.networks.base import BilledReads
from socialdesk.store import rules as rule_store
from socialdesk.store.db import session_scope
from tests.listeners.conftest import published_homes
from tests.listeners.test_home import add_rule, last_home, opened
from tests.support.home_view import texts


def sources(view: dict) -> str:
    [block] = [b for b in view["blocks"] if b.get("block_id") == "home_sources"]
    return block["text"]["text"]


def test_everyone_sees_the_sources_in_trouble_and_admins_see_each_rule_s_state(desk, deps, slack_emulator,
                                                                               slack_proxy, channel):
    now = datetime.now(UTC)
    fine, failing, limited, paused = (add_rule(deps, channel, query=q) for q in ("acme", "acme phone", "acme tv", "x"))
    with session_scope(deps.engine) as session:
        rule_store.save_cursor(session=session, rule_id=fine, cursor={"since_id": "1"}, not_before=None, now=now)
        for n in range(3):
            rule_store.record_failure(session=session, rule_id=failing, error="X answered 503; try again later",
                                      not_before=now + timedelta(seconds=20), now=now - timedelta(minutes=9 - n))
        rule_store.record_failure(session=session, rule_id=limited, error="X's rate limit is spent",
                                  not_before=now + timedelta(minutes=12), now=now, kind=rule_store.RATE_LIMITED)
        rule_store.set_paused(session=session, rule_id=paused, paused=True, now=datetime.now(UTC))

    home.home_opened(opened(slack_emulator, "alice"), desk.slack, deps=deps)
    [view] = published_homes(slack_proxy, slack_emulator.users["alice"])
    shown = sources(view)
    since = (now - timedelta(minutes=9)).strftime("%Y-%m-%d %H:%M UTC")
    assert f"*Rule {failing} · X search* — failing since {since}: X answered 503; try again later" in shown
    assert f"*Rule {limited} · X search* — rate-limited until " in shown
    assert f"Rule {fine} " not in shown and f"Rule {paused} " not in shown  # counted, not listed
    assert shown.splitlines()[-1] == "✅ 1 ok · ⏸ 1 paused"

    home.home_opened(opened(slack_emulator, "mia"), desk.slack, deps=deps)
    admin = texts(last_home(slack_proxy, slack_emulator, "mia"))
    assert f"*Rule {failing}* · x search" in admin and f"⚠️ *failing since {since}*" in admin
    assert "⚠️ *rate-limited until" in admin


def test_when_every_source_is_ok_the_section_is_one_line(desk, deps, slack_emulator, slack_proxy, channel):
    rule_id = add_rule(deps, channel)
    with session_scope(deps.engine) as session:
        rule_store.save_cursor(session=session, rule_id=rule_id, cursor={}, not_before=None, now=datetime.now(UTC))
    home.home_opened(opened(slack_emulator, "alice"), desk.slack, deps=deps)
    [view] = published_homes(slack_proxy, slack_emulator.users["alice"])
    assert sources(view) == "✅ all 1 ok"


def test_a_rule_its_budget_paused_is_shown_paused_by_budget(desk, deps, slack_emulator, slack_proxy, channel):
    spent, fine = add_rule(deps, channel), add_rule(deps, channel, query="acme")
    now = datetime.now(UTC)
    with session_scope(deps.engine) as session:
        for rule_id in (spent, fine):
            rule_store.save_cursor(session=session, rule_id=rule_id, cursor={}, not_before=None, now=now)
        rule_store.set_budget(session=session, rule_id=spent, monthly_budget=0.01)
        deps.spend_meter().record(session=session, network="x", rule_id=spent, now=now,  # as a poll counts a page
                                  reads=[BilledReads("post", ("1", "2"))])
    home.home_opened(opened(slack_emulator, "alice"), desk.slack, deps=deps)  # app.build's Deps.budget_paused
    [view] = published_homes(slack_proxy, slack_emulator.users["alice"])
    assert sources(view).splitlines() == [f"⏸ *Rule {spent} · X search* — paused by budget", "✅ 1 ok"]
