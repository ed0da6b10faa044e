"""Ops alerts (jobs.ops_alerts) against the local X and the Slack emulator: a source that fails is one alert once
SOCIALDESK_ALERT_AFTER has passed, and one recovery when it works again, whatever the number of polls, replicas or
restarts. The clock is the test's: five minutes pass without sleeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from slack_sdk import WebClient

from socialdesk.health import Condition, SourceChecks
from socialdesk.jobs.ops_alerts import OpsAlerts
from socialdesk.jobs.poll import Poller
from socialdesk.networks.x.search import SEARCH_PATH, XSource
from socialdesk.store import rules as rule_store
from socialdesk.store import streams as stream_store
from socialdesk.store.db import session_scope
from tests.jobs.test_poll import add_rule
from tests.support.networks import x_network

AFTER = timedelta(minutes=5)


def alerts_for(engine, slack_emulator, channel, clock, networks, *, checks=None) -> OpsAlerts:
    """An alert job as a replica builds it (each call: another replica, or the same one restarted)."""
    slack = WebClient(token=slack_emulator.token, base_url=slack_emulator.url)
    return OpsAlerts(engine=engine, slack=slack, channel=channel, clock=clock,
                     checks=checks or [SourceChecks(networks=networks, alert_after=AFTER)])


def said(slack_emulator, channel) -> list[str]:
    """The channel's top-level messages, oldest first."""
    return [m["text"] for m in reversed(slack_emulator.history(channel))]


def test_a_failing_rule_is_one_alert_after_the_threshold_and_one_recovery(engine, fake_x, clock, slack_emulator):
    channel = slack_emulator.new_channel("ops")
    http = httpx.Client(timeout=5)
    networks = x_network(XSource(http=http, api_url=fake_x.url, bearer_token="test-bearer"))
    poller = Poller(engine=engine, networks=networks, own_handles=frozenset(), clock=clock)
    rule_id = add_rule(engine, every=60)
    poller.poll_rule(rule_id)  # its first poll works
    replicas = [alerts_for(engine, slack_emulator, channel, clock, networks) for _ in range(2)]
    fake_x.fail_next(SEARCH_PATH, status=500, times=6)
    seen: list[tuple[int, int]] = []  # (seconds since the failures began, messages in the channel)
    for minute in range(1, 16):
        clock.offset += timedelta(seconds=60)
        poller.poll_rule(rule_id)
        for replica in replicas:
            replica.run_once()
        if minute == 8:  # a restart: a new job, same database
            replicas[0] = alerts_for(engine, slack_emulator, channel, clock, networks)
        seen.append((minute, len(said(slack_emulator, channel))))
    assert fake_x.faults_pending(SEARCH_PATH) == 0  # six polls failed, then it works again
    # Failing since minute 1 (backing off 5 s, 10 s … 160 s): told at minute 6, not before; recovered at minute 10.
    assert [n for _, n in seen[:5]] == [0] * 5 and seen[5] == (6, 1)
    messages = said(slack_emulator, channel)
    assert len(messages) == 2, messages  # the alert, and the recovery
    alert, recovery = messages
    assert alert.startswith(f"⚠️ Rule {rule_id} (X search “acme phone”) has failed since ")
    assert "polls in a row)" in alert and "500" in alert
    assert recovery.startswith("✅ Recovered, 4 min after the alert of ") and f"Rule {rule_id} (X search" in recovery
    assert {n for m, n in seen if m >= 10} == {2}  # recovered once, nothing after


def test_a_stream_dropping_for_longer_than_the_threshold_is_told_once_and_its_return_once(engine, clock,
                                                                                          slack_emulator):
    channel = slack_emulator.new_channel("ops")
    networks = x_network()
    job = alerts_for(engine, slack_emulator, channel, clock, networks)
    with session_scope(engine) as session:
        stream_store.take_lease(session=session, network="x", holder="h1", now=clock(), seconds=30)
        stream_store.record_connection(session=session, network="x", holder="h1", now=clock())
    for minute in range(1, 9):  # it drops, and every reconnect fails
        clock.offset += timedelta(seconds=60)
        with session_scope(engine) as session:
            stream_store.take_lease(session=session, network="x", holder="h1", now=clock(), seconds=30)
            stream_store.record_connection(session=session, network="x", holder="h1", now=clock(),
                                           error="the stream dropped (connection reset)")
        job.run_once()
        assert len(said(slack_emulator, channel)) == (0 if minute < 6 else 1), minute
    clock.offset += timedelta(seconds=60)
    with session_scope(engine) as session:  # connected again
        stream_store.take_lease(session=session, network="x", holder="h1", now=clock(), seconds=30)
        stream_store.record_connection(session=session, network="x", holder="h1", now=clock())
    job.run_once()
    assert len(said(slack_emulator, channel)) == 1  # connected is not yet recovered: it may drop again at once
    with session_scope(engine) as session:  # the connection proved good (a post through it, or 30 s up)
        stream_store.record_healthy(session=session, network="x", holder="h1")
    job.run_once()
    job.run_once()
    alert, recovery = said(slack_emulator, channel)
    assert alert.startswith("⚠️ The X stream has been down since ") and "connection reset" in alert
    assert recovery.startswith("✅ Recovered, 3 min after the alert of ") and "X stream has been down" in recovery


def test_a_check_that_fails_recovers_nothing_and_the_others_still_alert(engine, clock, slack_emulator):
    channel = slack_emulator.new_channel("ops")
    budget = [("budget:80:2026-12", "Spend reached 80 % of the month's budget", "Raise the budget")]  # plain tuples
    broken = [False]

    def budget_check(*, session, now):  # keyword-only, as the spend meter's
        if broken[0]:
            raise RuntimeError("the meter's table is locked")
        return list(budget)

    def other_check(session, now):
        return [Condition("gap:stream:x:1", "Posts were missed", "Search for them", recovers=False)]

    job = alerts_for(engine, slack_emulator, channel, clock, {}, checks=[budget_check, other_check])
    assert job.run_once() == 2
    broken[0] = True
    assert job.run_once() == 0  # the budget alert is not "recovered" by a check that did not answer
    broken[0], budget[:] = False, []
    assert job.run_once() == 1  # now it is: one recovery; the gap, told once, has none
    texts = said(slack_emulator, channel)
    assert len(texts) == 3 and texts[2].startswith("✅ Recovered, 0 min after") and "80 %" in texts[2]


def test_an_alert_told_stays_open_while_its_condition_holds_even_where_it_is_not_due_yet(engine, clock,
                                                                                         slack_emulator):
    """A replica just started holds "behind" back (its polls get their chance), but still knows it holds:
    the alert another replica told is not recovered by it; and what is not due is not told."""
    channel = slack_emulator.new_channel("ops")
    due = [True]

    def behind(session, now):
        return [Condition("behind:rule:1:2026-12-02T10:00:00+00:00", "Rule 1 is behind", "Check the replicas",
                          due=due[0])]

    assert alerts_for(engine, slack_emulator, channel, clock, {}, checks=[behind]).run_once() == 1
    due[0] = False  # as a replica started a minute ago sees it
    assert alerts_for(engine, slack_emulator, channel, clock, {}, checks=[behind]).run_once() == 0
    assert len(said(slack_emulator, channel)) == 1  # no "recovered" while it is still behind

    other = [Condition("failing:rule:2:2026-12-02T10:00:00+00:00", "Rule 2 fails", "Wait", due=False)]
    assert alerts_for(engine, slack_emulator, channel, clock, {},
                      checks=[behind, lambda session, now: other]).run_once() == 0
    assert len(said(slack_emulator, channel)) == 1  # not due: not told


def test_the_app_runs_the_alert_job_only_with_an_ops_channel(engine, slack_emulator):
    from tests.support.in_process import make_desk, url_of

    channel = slack_emulator.new_channel("ops")
    quiet = make_desk(url_of(engine), slack_emulator.url, secret="s")
    told = make_desk(url_of(engine), slack_emulator.url, secret="s", SOCIALDESK_OPS_CHANNEL=channel,
                     SOCIALDESK_ALERT_AFTER="10m")
    try:
        assert quiet.ops_alerts is None and quiet.scheduler.get_job("ops-alerts") is None
        assert told.ops_alerts is not None and told.scheduler.get_job("ops-alerts") is not None
        assert told.ops_alerts.run_once() == 0  # nothing is wrong
    finally:
        quiet.close(grace=1)
        told.close(grace=1)


# --- the spend meter's budgets, as app.build wires them (health's states, the alert job's checks, /metrics) ---


def _mid_month(clock) -> None:
    """The clock on the 15th of this month: minutes added never reach another month, so the meter's month is
    the one `socialdesk rules list` (real time) reads."""
    now = datetime.now(UTC)
    clock.offset = now.replace(day=15, hour=12, minute=0, second=0, microsecond=0) - now


def _budgeted_desk(engine, fake_x, clock, slack_emulator, cli, channel, budget: str):
    """The app built with the local X and an ops channel; a rule on X with `budget` (added as an admin does)."""
    from tests.support.in_process import make_desk, url_of

    env = {"SOCIALDESK_DATABASE_URL": url_of(engine)}
    added = cli("rules", "add", "--network", "x", "--query", "acme phone", "--channel", "C0123ABCD", "--backfill",
                "--budget", budget, env=env)
    assert added.returncode == 0, added.stderr
    with session_scope(engine) as session:
        [rule] = rule_store.list_rules(session=session)
    desk = make_desk(url_of(engine), slack_emulator.url, secret="s", clock=clock, SOCIALDESK_OPS_CHANNEL=channel,
                     SOCIALDESK_ALERT_AFTER="5m", SOCIALDESK_X_API_URL=fake_x.url,
                     SOCIALDESK_X_BEARER_TOKEN="test-bearer")
    return desk, rule.id, env


def _posts(fake_x, clock, n: int, start: int = 0) -> None:
    for i in range(start, start + n):  # by 7 customers: $0.005 a post, $0.01 an author (once a day)
        fake_x.post(username=f"cust{i % 7}", text=f"my acme phone is broken #{i}",
                    created_at=clock() - timedelta(seconds=n - i))


def test_a_rule_whose_budget_runs_out_is_paused_by_budget_and_told_once(engine, fake_x, clock, slack_emulator, cli):
    channel = slack_emulator.new_channel("ops")
    _mid_month(clock)
    desk, rule_id, env = _budgeted_desk(engine, fake_x, clock, slack_emulator, cli, channel, "0.10/month")
    try:
        _posts(fake_x, clock, 10)  # one page: 10 posts and 7 authors, $0.12 of its $0.10
        assert desk.poller.poll_rule(rule_id) == 10
        sample = desk.metrics.registry.get_sample_value
        labels = {"network": "x", "rule": str(rule_id)}
        assert sample("socialdesk_network_billed_reads_total", labels | {"kind": "post"}) == 10
        assert sample("socialdesk_network_billed_reads_total", labels | {"kind": "user"}) == 7
        assert sample("socialdesk_network_billed_cost_dollars_total", labels | {"kind": "user"}) == pytest.approx(0.07)
        _posts(fake_x, clock, 3, start=10)
        asked = len(fake_x.requests_to(SEARCH_PATH))  # its poll (and the conversations it follows)
        for _ in range(12):  # twice its interval and SOCIALDESK_ALERT_AFTER over: not polled, yet not "behind"
            clock.offset += timedelta(seconds=60)
            desk.poller.poll_rule(rule_id)
            assert desk.ops_alerts is not None
            desk.ops_alerts.run_once()
        assert len(fake_x.requests_to(SEARCH_PATH)) == asked  # paused by budget: X was not asked again
        [alert] = said(slack_emulator, channel)
        assert alert == (f"⚠️ rule {rule_id} (X) spent $0.12 of its $0.10 monthly budget: it is paused by budget "
                         "until the month turns")
        listed = cli("rules", "list", env=env).stdout.splitlines()
        [row] = [line for line in listed if line.split()[:1] == [str(rule_id)]]
        assert row.split()[4:7] == ["paused", "by", "budget"]  # the state column
        assert "paused by budget: this month's billed reads reached it (`socialdesk usage`)" in [
            x.strip() for x in listed]
        # Raised: the pause ends. Its last success is 12 minutes old, yet it is not "behind" before its next poll
        # has had its chance: that counts from when the pause was last in force (rules.budget_paused_at).
        assert cli("rules", "edit", str(rule_id), "--budget", "1/month", env=env).returncode == 0
        clock.offset += timedelta(seconds=30)
        desk.ops_alerts.run_once()
        told = said(slack_emulator, channel)
        assert len(told) == 2 and told[1].startswith("✅ Recovered"), told  # and no "is behind"
    finally:
        desk.close(grace=1)


def test_a_budget_is_told_at_80_and_at_100_percent_and_when_it_is_raised(engine, fake_x, clock, slack_emulator, cli):
    channel = slack_emulator.new_channel("ops")
    _mid_month(clock)
    desk, rule_id, env = _budgeted_desk(engine, fake_x, clock, slack_emulator, cli, channel, "0.15/month")
    assert desk.ops_alerts is not None
    try:
        _posts(fake_x, clock, 10)
        desk.poller.poll_rule(rule_id)  # $0.12 of $0.15: 80 %
        desk.ops_alerts.run_once()
        _posts(fake_x, clock, 6, start=10)
        clock.offset += timedelta(seconds=61)
        desk.poller.poll_rule(rule_id)  # 6 posts more, their authors read today already: $0.15, all of it
        desk.ops_alerts.run_once()
        desk.ops_alerts.run_once()
        assert [t.split(" spent ")[1] for t in said(slack_emulator, channel)] == [
            "$0.12 of its $0.15 monthly budget (80%)",  # and no "recovered" as it went on to 100 %
            "$0.15 of its $0.15 monthly budget: it is paused by budget until the month turns"]
        # Raised to $0.18: the pause ends (its recovery is told), and the new budget is 83 % spent: its own 80 %
        # mark is told (the key holds the amount; the $0.15 budget's marks were taken).
        assert cli("rules", "edit", str(rule_id), "--budget", "0.18/month", env=env).returncode == 0
        clock.offset += timedelta(seconds=61)
        desk.ops_alerts.run_once()
        told = said(slack_emulator, channel)
        assert len(told) == 4, told
        [recovery] = [t for t in told[2:] if t.startswith("✅ Recovered, 1 min after the alert of ")]
        assert "it is paused by budget" in recovery
        assert any(t.endswith("spent $0.15 of its $0.18 monthly budget (83%)") for t in told[2:]), told
        _posts(fake_x, clock, 6, start=16)
        clock.offset += timedelta(seconds=61)
        desk.poller.poll_rule(rule_id)  # $0.18: the new budget spent is told too
        desk.ops_alerts.run_once()
        told = said(slack_emulator, channel)
        assert len(told) == 5 and "spent $0.18 of its $0.18 monthly budget: it is paused by budget" in told[4]
    finally:
        desk.close(grace=1)


def test_a_once_only_alert_told_on_a_months_first_day_is_not_told_again_on_its_last(engine, clock, slack_emulator):
    """ops_alerts are kept longer than the longest month: a budget's 80 % told on 1 December is still remembered on
    the 31st (a replica restarting prunes first), so it is not told again."""
    channel = slack_emulator.new_channel("ops")

    def eighty(session, now):
        return [Condition("budget:rule:1:2026-12:50.00:80", "Rule 1 spent 80 %", "Raise it", recovers=False)]

    now = datetime.now(UTC)
    clock.offset = datetime(2026, 12, 1, 0, 5, tzinfo=UTC) - now
    assert alerts_for(engine, slack_emulator, channel, clock, {}, checks=[eighty]).run_once() == 1
    clock.offset = datetime(2026, 12, 31, 23, 0, tzinfo=UTC) - now
    assert alerts_for(engine, slack_emulator, channel, clock, {}, checks=[eighty]).run_once() == 0
    assert len(said(slack_emulator, channel)) == 1
