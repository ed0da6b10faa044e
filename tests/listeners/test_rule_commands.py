"""`/social rules … --stream` and `/social rules stream <id> on|off` (listeners.rule_commands), in-process.

The rest of `/social rules` is driven end to end in tests/e2e/test_rule_commands.py.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from socialdesk.listeners import rule_commands
from socialdesk.networks import registry
from socialdesk.networks.base import Network
from socialdesk.store import rules as rule_store
from socialdesk.store.db import session_scope

OPT_IN = next(n for n in registry.names() if registry.info(n).opt_in_stream)  # a network whose stream takes marked rules
ALL_STREAMED = next(n for n in registry.names() if not registry.info(n).opt_in_stream)


def rules(deps, slack_emulator, text: str, *, user: str = "mia") -> str:
    args = text.split()
    reply = rule_commands.run(deps, None, user_id=slack_emulator.users[user], args=args, text=text, channel_id="C0CARE1")
    return reply.text + "\n" + "\n".join(b.get("text", {}).get("text", "") for b in
                                         [b.to_dict() if hasattr(b, "to_dict") else b for b in reply.blocks or []])


def marked(deps) -> dict[int, bool]:
    with session_scope(deps.engine) as session:
        return {r.id: r.stream for r in rule_store.list_rules(session=session)}


def test_a_rule_added_with_stream_is_marked_and_shown_so(deps, slack_emulator):
    added = rules(deps, slack_emulator, f"add network:{OPT_IN} acme phone --stream every:30")
    assert "Rule 1 added" in added and "`acme phone`" in added and "Streamed" in added
    plain = rules(deps, slack_emulator, f"add network:{OPT_IN} acme refund")
    assert "Rule 2 added" in plain and "Streamed" not in plain
    assert marked(deps) == {1: True, 2: False}
    with session_scope(deps.engine) as session:
        assert rule_store.get_rule(session=session, rule_id=1).query == "acme phone"
    listed = rules(deps, slack_emulator, "list")
    first, second = (line for line in listed.splitlines() if line.startswith("*Rule "))
    assert "streamed" in first and "streamed" not in second


def test_stream_is_turned_on_and_off_for_an_existing_rule(deps, slack_emulator):
    rules(deps, slack_emulator, f"add network:{OPT_IN} acme")
    assert "is streamed now" in rules(deps, slack_emulator, "stream 1 on")
    assert marked(deps) == {1: True}
    with session_scope(deps.engine) as session:  # a refusal noted by the stream goes when it is polled only
        rule_store.record_stream_refusal(session=session, rule_id=1, reason="too complex", now=datetime.now(UTC))
    assert "is polled now" in rules(deps, slack_emulator, "stream 1 off")
    with session_scope(deps.engine) as session:
        rule = rule_store.get_rule(session=session, rule_id=1)
        assert (rule.stream, rule.stream_refused, rule.last_error) == (False, None, None)
    assert "There is no rule 7" in rules(deps, slack_emulator, "stream 7 on")
    assert "Usage: `/social rules stream <id> on|off`" in rules(deps, slack_emulator, "stream 1 maybe")
    assert "Only socialdesk admins" in rules(deps, slack_emulator, "stream 1 on", user="alice")
    assert marked(deps) == {1: False}


def test_stream_is_refused_where_the_network_streams_every_rule_or_past_its_limit(deps, slack_emulator):
    label = registry.info(ALL_STREAMED).label
    refused = rules(deps, slack_emulator, f"add network:{ALL_STREAMED} acme --stream")
    assert f"{label} has no such stream" in refused and "Leave out --stream" in refused
    assert marked(deps) == {}
    info = registry.info(OPT_IN)
    assert "is given twice" in rules(deps, slack_emulator, f"add network:{OPT_IN} acme --stream --stream")

    # One place left on the stream: the next marked rule takes it, the one after is refused.
    limit = info.stream_rules_max
    with session_scope(deps.engine) as session:
        for i in range(limit - 1):
            rule_store.add_rule(session=session, network=OPT_IN, query=f"acme {i}", channel_id="C0CARE1",
                                every_seconds=60, lang=None, include_reposts=False, now=datetime.now(UTC),
                                stream=True)
    last = rules(deps, slack_emulator, f"add network:{OPT_IN} acme last --stream")
    assert f"Rule {limit} added" in last and "Streamed" in last
    over = rules(deps, slack_emulator, f"add network:{OPT_IN} acme over --stream")
    assert f"carries at most {limit} rules and {limit} are marked already" in over
    assert "turn one off (`/social rules stream ID off`)" in over  # as Slack takes it, not the CLI
    assert f"Rule {limit + 1} added" in rules(deps, slack_emulator, f"add network:{OPT_IN} acme over")
    assert f"carries at most {limit} rules" in rules(deps, slack_emulator, f"stream {limit + 1} on")
    assert "is streamed now" in rules(deps, slack_emulator, f"stream {limit} on")  # already on: not counted twice
    assert "is polled now" in rules(deps, slack_emulator, "stream 1 off")
    assert "is streamed now" in rules(deps, slack_emulator, f"stream {limit + 1} on")
    assert sum(marked(deps).values()) == limit


def test_a_rule_added_with_ignore_spam_and_routes_keeps_them_and_lists_them(deps, slack_emulator):
    added = rules(deps, slack_emulator, "add acme phone --ignore-spam route:question=<#C0SUPPORT|support> "
                                        "route:tag:refund=C0BILLING every:30")
    assert "Rule 1 added" in added and "`acme phone`" in added
    assert "Likely spam opens as ignored" in added
    assert "Routes: question → <#C0SUPPORT>, `#refund` → <#C0BILLING>." in added
    with session_scope(deps.engine) as session:
        rule = rule_store.get_rule(session=session, rule_id=1)
        assert (rule.query, rule.ignore_spam, rule.routes, rule.every_seconds) == (
            "acme phone", True, {"question": "C0SUPPORT", "tag:refund": "C0BILLING"}, 30)
    listed = rules(deps, slack_emulator, "list")
    assert "Triage: likely spam filed as ignored; routes question → <#C0SUPPORT>, `#refund` → <#C0BILLING>" in listed


def test_a_bad_route_is_explained_and_adds_nothing(deps, slack_emulator):
    for text, says in (("add acme route:refund=C0BILLING", "is not an intent a route can name"),
                       ("add acme route:question", "is not `route:NAME=#channel`"),
                       ("add acme route:", "`route:` needs a value"),
                       ("add acme --ignore-spam --ignore-spam", "`--ignore-spam` is given twice")):
        answer = rules(deps, slack_emulator, text)
        assert says in answer and "Usage: `/social rules add" in answer
    assert marked(deps) == {}
    assert "route:question=#support" in rules(deps, slack_emulator, "help")


def test_a_rule_added_with_a_budget_keeps_it_and_lists_it(deps, slack_emulator):
    billing = next(name for name, n in deps.networks.items() if n.billing is not None)  # bills per read
    free = next(name for name, n in deps.networks.items() if n.billing is None)
    added = rules(deps, slack_emulator, f"add network:{billing} acme phone budget:12.50/month")
    assert "Rule 1 added" in added and "Budget: $12.50 a month of billed reads." in added
    assert "Rule 2 added" in rules(deps, slack_emulator, f"add network:{billing} acme refund budget:none")
    with session_scope(deps.engine) as session:
        assert [r.monthly_budget for r in rule_store.list_rules(session=session)] == [12.5, None]
    first, second = rules(deps, slack_emulator, "list").split("*Rule 2*")
    assert "Budget: $12.50 a month of billed reads" in first and "Budget" not in second

    for text, says in ((f"add network:{billing} acme budget:lots", "write dollars a month, like 50/month"),
                       (f"add network:{billing} acme budget:", "`budget:` needs a value, like `budget:50/month`"),
                       (f"add network:{billing} acme budget:5 budget:6", "`budget:` is given twice"),
                       (f"add network:{free} acme budget:5/month", "does not bill per read")):
        answer = rules(deps, slack_emulator, text)
        assert says in answer and "Usage: `/social rules add" in answer, answer
    assert len(marked(deps)) == 2
    assert "budget:50/month" in rules(deps, slack_emulator, "help")


def test_resuming_a_rule_paused_longer_than_its_search_reaches_back_says_what_is_lost(deps, slack_emulator):
    """Told to the admin at once, rather than an ops alert about an outage at the next poll."""
    network = OPT_IN  # its stream takes only marked rules: these two are walked from their cursors
    deps = dataclasses.replace(deps, networks={**deps.networks, network: Network(
        info=registry.info(network), sources={}, gap_limit=timedelta(days=7))})
    now = deps.clock()
    rules(deps, slack_emulator, f"add network:{network} acme phone")
    rules(deps, slack_emulator, f"add network:{network} acme tv")
    with session_scope(deps.engine) as session:
        for rule_id, days in ((1, 30), (2, 2)):
            rule_store.save_cursor(session=session, rule_id=rule_id, cursor={"since_id": "1"}, not_before=None,
                                   now=now - timedelta(days=days))
    assert "paused" in rules(deps, slack_emulator, "pause 1")
    resumed = rules(deps, slack_emulator, "resume 1")
    assert resumed.startswith("Rule 1 resumed: it polls again.\nIt last read posts ")
    assert "search reaches back" in resumed and "cannot be read" in resumed
    rules(deps, slack_emulator, "pause 2")
    assert set(rules(deps, slack_emulator, "resume 2").splitlines()) == {"Rule 2 resumed: it polls again."}
    with session_scope(deps.engine) as session:  # "behind" and the poll lag count from the resume
        assert rule_store.get_rule(session=session, rule_id=1).resumed_at is not None
        assert rule_store.last_successes(session=session)[0][2] >= now


def test_a_poll_interval_outside_5_seconds_to_a_day_is_refused_with_the_range(deps, slack_emulator):
    """`every:1234567890` is a number of seconds, only too many: the answer gives the range, and adds nothing."""
    for text, says in (("add acme every:1234567890", "an interval of 1234567890 s is longer than a day"),
                       ("add acme every:86401", "an interval of 86401 s is longer than a day"),
                       ("add acme every:" + "9" * 5000, "is not a number of seconds"),
                       ("add acme every:often", "`every:often` is not a number of seconds")):
        answer = rules(deps, slack_emulator, text)
        assert says in answer and "from 5 to 86400 seconds (a day)" in answer and "--every" not in answer, answer
        assert "Usage: `/social rules add" in answer
    assert marked(deps) == {}
    assert "Rule 1 added" in rules(deps, slack_emulator, "add acme every:86400")
    assert "`every:` is the seconds between polls, 5 to 86400 (a day; default 60)" in rules(deps, slack_emulator,
                                                                                             "help")


def test_a_first_response_target_past_30_days_is_refused_and_adds_nothing(deps, slack_emulator):
    """`sla:normal=99999999d` was saved, and then `/social queue` failed for everyone (its deadlines overflowed)."""
    for text in ("add acme sla:normal=99999999d", "add acme sla:high=99999999999999999d", "add acme sla:low=31d"):
        answer = rules(deps, slack_emulator, text)
        assert "is too long for a first-response target: give at most 30 days (30d)." in answer, answer
        assert "Usage: `/social rules add" in answer
    assert marked(deps) == {}
    assert "First-response targets: low=30d." in rules(deps, slack_emulator, "add acme sla:low=30d")
