"""Source states and the ops channel's conditions (socialdesk.health): pure, from what the rows hold."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from socialdesk.health import (BEHIND, BUDGET, FAILING, IDLE, OK, PAUSED, RATE_LIMITED, resume_notice,
                               rule_conditions, rule_state, stream_conditions, stream_state)

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
AFTER = timedelta(minutes=5)


@dataclass
class Rule:
    id: int = 3
    network: str = "n"
    kind: str = "search"
    query: str = "acme phone"
    every_seconds: int = 60
    paused: bool = False
    created_at: datetime = NOW - timedelta(days=1)
    last_success_at: datetime | None = NOW - timedelta(seconds=30)
    last_error: str | None = None
    last_error_at: datetime | None = None
    consecutive_failures: int = 0
    not_before: datetime | None = None
    failing_since: datetime | None = None
    failure_kind: str | None = None
    gap_from: datetime | None = None
    gap_to: datetime | None = None
    gap_at: datetime | None = None
    budget_paused_at: datetime | None = None
    resumed_at: datetime | None = None
    cursor: dict | None = None
    stream: bool = False
    stream_refused: str | None = None


@dataclass
class Stream:
    network: str = "n"
    holder: str | None = "h1"
    lease_until: datetime | None = NOW + timedelta(seconds=20)
    connected_at: datetime | None = NOW - timedelta(hours=1)
    cursor_at: datetime | None = NOW - timedelta(seconds=2)
    last_error: str | None = None
    updated_at: datetime = NOW
    failing_since: datetime | None = None
    gap_from: datetime | None = None
    gap_to: datetime | None = None
    gap_at: datetime | None = None


def failing(minutes: float, **kw) -> Rule:
    since = NOW - timedelta(minutes=minutes)
    return Rule(consecutive_failures=4, last_error="the network answered 503", last_error_at=NOW,
                failing_since=since, failure_kind="unavailable", not_before=NOW + timedelta(seconds=40),
                last_success_at=since - timedelta(seconds=30), **kw)


def test_a_rule_s_state_in_order_of_precedence():
    assert rule_state(Rule(), now=NOW) == rule_state(Rule(), now=NOW, streamed=True) and rule_state(Rule(), now=NOW).state == OK
    assert rule_state(failing(9, paused=True), now=NOW, budget_paused=True).state == PAUSED
    assert rule_state(failing(9), now=NOW, budget_paused=True).state == BUDGET
    state = rule_state(failing(9), now=NOW)
    assert (state.state, state.since) == (FAILING, NOW - timedelta(minutes=9))
    assert state.text() == "failing since 2026-12-02 11:51 UTC: the network answered 503"
    limited = Rule(consecutive_failures=1, failure_kind="rate_limited", last_error="rate limit",
                   not_before=NOW + timedelta(minutes=12))
    assert rule_state(limited, now=NOW).text() == "rate-limited until 2026-12-02 12:12 UTC"
    quota = Rule(not_before=NOW + timedelta(minutes=3))  # a page said its quota is spent: a success
    assert rule_state(quota, now=NOW).state == RATE_LIMITED


def test_a_rule_is_behind_past_twice_its_interval_unless_a_live_stream_brings_its_posts():
    assert rule_state(Rule(last_success_at=NOW - timedelta(seconds=119)), now=NOW).state == OK
    late = Rule(last_success_at=NOW - timedelta(seconds=121))
    assert rule_state(late, now=NOW).state == BEHIND and rule_state(late, now=NOW).since == late.last_success_at
    assert rule_state(late, now=NOW, streamed=True).state == OK
    never = Rule(last_success_at=None, created_at=NOW - timedelta(minutes=10))
    assert rule_state(never, now=NOW).state == BEHIND


def test_a_stream_s_state():
    assert stream_state(Stream(), now=NOW).state == OK
    down = Stream(last_error="dropped", failing_since=NOW - timedelta(minutes=7))
    assert stream_state(down, now=NOW).text() == "failing since 2026-12-02 11:53 UTC: dropped"
    assert stream_state(Stream(holder=None, lease_until=None), now=NOW).state == IDLE
    assert stream_state(Stream(last_error="old", lease_until=NOW - timedelta(seconds=1)), now=NOW).state == IDLE
    still = Stream(cursor_at=NOW - timedelta(minutes=3))
    assert stream_state(still, now=NOW).state == OK  # a quiet stream may be quiet
    assert stream_state(still, now=NOW, behind_after=timedelta(minutes=2)).state == BEHIND
    still.connected_at = NOW - timedelta(seconds=5)  # a new connection: not behind until it has had its chance
    assert stream_state(still, now=NOW, behind_after=timedelta(minutes=2)).state == OK


@pytest.mark.parametrize("minutes, told", [(4.9, False), (5, True), (60, True)])
def test_a_failing_rule_is_a_condition_once_it_has_failed_for_alert_after(minutes, told):
    rule = failing(minutes)
    holds = rule_conditions(rule, rule_state(rule, now=NOW), now=NOW, alert_after=AFTER, label="Net")
    key = f"failing:rule:3:{(NOW - timedelta(minutes=minutes)).isoformat()}"
    assert [c.key for c in holds] == [key]  # it holds from the first failure: an alert told stays open
    found = [c for c in holds if c.due]
    assert [c.key for c in found] == ([key] if told else [])
    if told:
        assert found[0].text.startswith("Rule 3 (Net search “acme phone”) has failed since ")
        assert "socialdesk keeps retrying" in found[0].fix


def test_the_same_incident_keeps_its_key_and_the_next_one_has_another():
    first = rule_conditions(failing(9), rule_state(failing(9), now=NOW), now=NOW, alert_after=AFTER, label="N")
    later = NOW + timedelta(minutes=3)
    again = rule_conditions(failing(12), rule_state(failing(12), now=later), now=later, alert_after=AFTER, label="N")
    assert first[0].key == rule_conditions(failing(9), rule_state(failing(9), now=NOW), now=NOW,
                                           alert_after=AFTER, label="N")[0].key
    assert again[0].key != first[0].key  # failing since another time: another incident


def test_behind_is_told_after_alert_after_and_a_restart_gives_polls_their_chance():
    rule = Rule(last_success_at=NOW - timedelta(minutes=8))  # behind since 2 min after that
    state = rule_state(rule, now=NOW)
    assert [c.key.split(":")[0] for c in rule_conditions(rule, state, now=NOW, alert_after=AFTER, label="N")] == ["behind"]
    restarted = rule_conditions(rule, state, now=NOW, alert_after=AFTER, label="N", started_at=NOW - timedelta(minutes=1))
    # Not told yet by a replica just started, but it holds: an alert another one told is no recovery.
    assert [(c.key.split(":")[0], c.due) for c in restarted] == [("behind", False)]
    rate = Rule(consecutive_failures=1, failure_kind="rate_limited", not_before=NOW + timedelta(minutes=9),
                last_success_at=NOW - timedelta(minutes=20))
    assert rule_conditions(rate, rule_state(rate, now=NOW), now=NOW, alert_after=AFTER, label="N") == []


def test_a_gap_is_one_condition_that_does_not_recover_and_is_forgotten_after_a_week():
    rule = Rule(gap_from=NOW - timedelta(days=9), gap_to=NOW - timedelta(days=7), gap_at=NOW)
    [gap] = rule_conditions(rule, rule_state(rule, now=NOW), now=NOW, alert_after=AFTER, label="N")
    assert gap.key.startswith("gap:rule:3:") and not gap.recovers and "missed posts from 2026-11-23" in gap.text
    week = NOW + timedelta(days=7)
    assert [c for c in rule_conditions(rule, rule_state(rule, now=week), now=week, alert_after=AFTER, label="N")
            if c.key.startswith("gap")] == []
    row = Stream(gap_from=NOW - timedelta(days=2), gap_to=NOW - timedelta(hours=1), gap_at=NOW)
    [gap] = stream_conditions(row, stream_state(row, now=NOW), now=NOW, alert_after=AFTER, label="N")
    assert gap.key == f"gap:stream:n:{row.gap_from.isoformat()}" and not gap.recovers


def test_a_stream_down_for_alert_after_is_a_condition():
    row = Stream(last_error="connection reset", failing_since=NOW - timedelta(minutes=6))
    [down] = stream_conditions(row, stream_state(row, now=NOW), now=NOW, alert_after=AFTER, label="Net")
    assert down.text.startswith("The Net stream has been down since 2026-12-02 11:54 UTC: connection reset")
    row.failing_since = NOW - timedelta(minutes=4)
    [early] = stream_conditions(row, stream_state(row, now=NOW), now=NOW, alert_after=AFTER, label="Net")
    assert not early.due and early.key == down.key.replace("11:54", "11:56")


def test_a_rate_limit_in_the_middle_of_a_failing_run_does_not_end_it():
    rule = failing(9)
    rule.failure_kind, rule.not_before = "rate_limited", NOW + timedelta(minutes=1)  # a 429 after the 503s
    waiting = rule_state(rule, now=NOW)
    assert waiting.state == FAILING and waiting.since == NOW - timedelta(minutes=9)
    later = NOW + timedelta(minutes=2)  # the wait is over, the run is not (only a success ends it)
    assert rule_state(rule, now=later).state == FAILING
    [condition] = rule_conditions(rule, rule_state(rule, now=later), now=later, alert_after=AFTER, label="N")
    assert condition.key == f"failing:rule:3:{(NOW - timedelta(minutes=9)).isoformat()}"


def test_a_streamed_rule_is_as_healthy_as_its_stream_whatever_its_last_polls_did():
    rule = failing(30)  # polls failed while the stream was down; the stream is back
    assert rule_state(rule, now=NOW, streamed=True).state == OK
    assert rule_state(rule, now=NOW).state == FAILING


def test_a_stream_connected_again_is_still_failing_until_the_connection_proves_good():
    flapping = Stream(last_error=None, failing_since=NOW - timedelta(minutes=12))  # connected, dropped, connected …
    state = stream_state(flapping, now=NOW)
    assert state.state == FAILING and state.since == NOW - timedelta(minutes=12)
    [condition] = stream_conditions(flapping, state, now=NOW, alert_after=AFTER, label="Net")
    assert condition.due  # the alert told at minute 5 stays open: no recovery until a connection proves good
    flapping.failing_since = None  # it did (jobs.stream: a post through it, or up for a good while)
    assert stream_state(flapping, now=NOW).state == OK


def test_a_budget_pause_that_ended_is_not_behind_until_its_polls_had_their_chance():
    """The month turned or the budget was raised: its last success is weeks old, but "behind" counts from the
    last time the poller found it paused (rules.budget_paused_at)."""
    resumed = Rule(last_success_at=NOW - timedelta(days=20), budget_paused_at=NOW - timedelta(seconds=50))
    assert rule_state(resumed, now=NOW).state == OK
    assert rule_conditions(resumed, rule_state(resumed, now=NOW), now=NOW, alert_after=AFTER, label="N") == []
    stuck = Rule(last_success_at=NOW - timedelta(days=20), budget_paused_at=NOW - timedelta(seconds=121))
    assert (rule_state(stuck, now=NOW).state, rule_state(stuck, now=NOW).since) == (BEHIND, stuck.budget_paused_at)
    polled = Rule(last_success_at=NOW - timedelta(seconds=10), budget_paused_at=NOW - timedelta(days=3))
    assert rule_state(polled, now=NOW).state == OK  # the later of the two


def test_a_rule_an_admin_resumed_is_not_behind_until_its_polls_had_their_chance():
    resumed = Rule(last_success_at=NOW - timedelta(days=20), resumed_at=NOW - timedelta(seconds=50))
    assert rule_state(resumed, now=NOW).state == OK
    stuck = Rule(last_success_at=NOW - timedelta(days=20), resumed_at=NOW - timedelta(seconds=121))
    assert (rule_state(stuck, now=NOW).state, rule_state(stuck, now=NOW).since) == (BEHIND, stuck.resumed_at)


def _network(gap_limit: timedelta | None, stream: object = None) -> SimpleNamespace:
    """What resume_notice reads of a Network."""
    return SimpleNamespace(info=SimpleNamespace(label="Net"), gap_limit=gap_limit, stream=stream)


def test_resuming_after_longer_than_search_reaches_back_says_what_cannot_be_read():
    week = _network(timedelta(days=7))
    long = Rule(last_success_at=NOW - timedelta(days=10), cursor={"since_id": "1"}, paused=True)
    assert resume_notice(long, network=week, now=NOW) == (
        "It last read posts 2026-11-22 12:00 UTC, and Net's search reaches back 7 days: posts from then to "
        "2026-11-25 12:00 UTC cannot be read, and get no cards.")
    assert "36 hours" in resume_notice(long, network=_network(timedelta(hours=36)), now=NOW)
    # Nothing is lost: a short pause, a rule never polled (its first walk starts fresh), no limit known.
    assert resume_notice(Rule(last_success_at=NOW - timedelta(days=6), cursor={}), network=week, now=NOW) is None
    assert resume_notice(Rule(last_success_at=None, cursor=None), network=week, now=NOW) is None
    assert resume_notice(long, network=_network(None), now=NOW) is None
    assert resume_notice(long, network=None, now=NOW) is None
    # A stream carries it from now on (it is not walked from its cursor): nothing to say here.
    stream = SimpleNamespace(kinds=("search",), opt_in=False)
    assert resume_notice(long, network=_network(timedelta(days=7), stream), now=NOW) is None
