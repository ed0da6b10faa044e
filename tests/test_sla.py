"""First-response SLA arithmetic: targets, business hours (weekends, DST), states."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from socialdesk import sla
from socialdesk.config import ConfigError, load_settings
from socialdesk.sla import BusinessHours, Policy, deadline, parse_targets, state

BERLIN = ZoneInfo("Europe/Berlin")
HOURS = BusinessHours.parse("Mon-Fri 09:00-17:00 Europe/Berlin")


@dataclass
class Case:
    opened_at: datetime
    priority: str = "normal"
    status: str = "new"
    first_response_at: datetime | None = None
    rule_id: int | None = None


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


def test_targets_parse_into_durations():
    assert parse_targets("high=30m,normal=2h,low=8h") == {
        "high": timedelta(minutes=30), "normal": timedelta(hours=2), "low": timedelta(hours=8)}
    assert parse_targets(" High = 1h30m ; low=1d ") == {"high": timedelta(minutes=90), "low": timedelta(days=1)}


@pytest.mark.parametrize("text", ["", "high", "high=", "high=soon", "high=30x", "high=0m", "high=1h,high=2h", "=5m"])
def test_bad_targets_are_refused(text):
    with pytest.raises(ValueError):
        parse_targets(text)


@pytest.mark.parametrize("text", ["high=31d", "high=30d1s", "normal=99999999d", "high=99999999999999999d",
                                  "high=" + "9" * 5000 + "h", "low=721h"])
def test_a_target_is_at_most_30_days(text):
    """A case's deadline is its start plus its target: 99999999d overflowed the date (OverflowError, not ValueError,
    for longer ones while parsing)."""
    with pytest.raises(ValueError, match=r"is too long for a first-response target: give at most 30 days \(30d\)$"):
        parse_targets(text)
    assert parse_targets("high=30d,low=720h") == {"high": timedelta(days=30), "low": timedelta(days=30)}


def test_a_duration_too_long_for_any_setting_is_a_value_error_that_says_the_most():
    assert sla.parse_duration("3650d") == timedelta(days=3650)
    for text in ("3651d", "99999999999999999999d", "0000000000000000001d" + "9" * 20 + "s"):
        with pytest.raises(ValueError, match=r"is too long for this setting: give at most 3650 days \(3650d\)$"):
            sla.parse_duration(text)
    assert sla.parse_duration("0000000000000000001d") == timedelta(days=1)  # leading zeros are no length


def test_bad_settings_name_the_variable():
    with pytest.raises(ConfigError, match="^SOCIALDESK_SLA_TARGETS is invalid: .*'soon'"):
        load_settings(SOCIALDESK_SLA_TARGETS="high=soon")
    with pytest.raises(ConfigError, match="^SOCIALDESK_SLA_TARGETS is invalid: '99999999999999d' is too long for a "
                                          "first-response target"):
        load_settings(SOCIALDESK_SLA_TARGETS="high=30m,normal=99999999999999d")
    with pytest.raises(ConfigError, match="^SOCIALDESK_INCIDENT_WINDOW is invalid: .* give at most 3650 days"):
        load_settings(SOCIALDESK_INCIDENT_WINDOW="99999999999999d")
    with pytest.raises(ConfigError, match="^SOCIALDESK_BUSINESS_HOURS is invalid: .*Mars/Olympus"):
        load_settings(SOCIALDESK_BUSINESS_HOURS="Mon-Fri 09:00-17:00 Mars/Olympus")
    with pytest.raises(ConfigError, match="^SOCIALDESK_SLA_AT_RISK is invalid"):
        load_settings(SOCIALDESK_SLA_AT_RISK="1.5")


def test_settings_build_the_policy():
    policy = load_settings(SOCIALDESK_BUSINESS_HOURS="Sun-Thu 08:00-16:00 Asia/Jerusalem",
                           SOCIALDESK_SLA_AT_RISK="0.5", SOCIALDESK_SLA_LEAD="<@U0LEAD>").sla_policy
    assert policy.at_risk == 0.5 and policy.targets["high"] == timedelta(minutes=30)
    assert policy.business_hours.days == {6, 0, 1, 2, 3}
    assert load_settings(SOCIALDESK_SLA_LEAD="<@U0LEAD>").sla_lead == "U0LEAD"
    assert load_settings().sla_policy.business_hours is None


def test_without_business_hours_the_clock_always_runs():
    policy = Policy(parse_targets(sla.DEFAULT_TARGETS))
    opened = datetime(2026, 11, 28, 23, 50, tzinfo=UTC)  # a Saturday night
    assert deadline(opened, "high", policy) == opened + timedelta(minutes=30)
    assert deadline(opened, "low", policy) == opened + timedelta(hours=8)
    assert deadline(opened, "urgent", policy) is None  # no target: no SLA


def test_business_hours_skip_the_weekend():
    policy = Policy(parse_targets(sla.DEFAULT_TARGETS), business_hours=HOURS)
    friday_late = berlin(2026, 11, 27, 16, 0)  # one working hour left on Friday
    assert deadline(friday_late, "normal", policy) == berlin(2026, 11, 30, 10, 0)  # Monday 10:00
    saturday = berlin(2026, 11, 28, 11, 0)
    assert deadline(saturday, "high", policy) == berlin(2026, 11, 30, 9, 30)
    assert deadline(berlin(2026, 11, 27, 8, 0), "high", policy) == berlin(2026, 11, 27, 9, 30)  # before opening
    assert deadline(friday_late, "low", policy) == berlin(2026, 11, 30, 16, 0)  # 1 h on Friday + 7 h on Monday
    assert deadline(berlin(2026, 11, 27, 17, 0), "low", policy) == berlin(2026, 11, 30, 17, 0)  # a full Monday


def test_business_hours_across_the_dst_nights():
    # Berlin leaves summer time in the night to Sunday 2026-10-25 and enters it on 2026-03-29.
    policy = Policy({"low": timedelta(hours=8)}, business_hours=BusinessHours.parse("Mon-Sun 00:00-24:00 Europe/Berlin"))
    opened = berlin(2026, 10, 24, 20, 0)  # 18:00 UTC
    assert deadline(opened, "low", policy) == datetime(2026, 10, 25, 2, 0, tzinfo=UTC)  # 8 real hours
    opened = berlin(2026, 3, 28, 20, 0)  # 19:00 UTC
    assert deadline(opened, "low", policy) == datetime(2026, 3, 29, 3, 0, tzinfo=UTC)
    # Working hours after the switch start at local 09:00, i.e. one hour earlier in UTC than before it.
    weekdays = Policy({"normal": timedelta(hours=2)}, business_hours=HOURS)
    friday = berlin(2026, 10, 23, 16, 30)  # CEST (+2): 30 min left on Friday
    due = deadline(friday, "normal", weekdays)
    assert due == berlin(2026, 10, 26, 10, 30) and due.astimezone(UTC).hour == 9  # CET (+1) on Monday


def test_remaining_counts_only_working_time():
    policy = Policy({"normal": timedelta(hours=2)}, business_hours=HOURS)
    due = deadline(berlin(2026, 11, 27, 16, 0), "normal", policy)  # Monday 10:00
    assert policy.remaining(berlin(2026, 11, 28, 12, 0), due) == timedelta(hours=1)  # Saturday: nothing runs


def test_states_with_a_frozen_clock():
    policy = Policy({"normal": timedelta(hours=2)}, at_risk=0.75)
    opened = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    case = Case(opened)
    assert state(case, opened + timedelta(minutes=89), policy) == "ok"
    assert state(case, opened + timedelta(minutes=90), policy) == "at_risk"
    assert state(case, opened + timedelta(hours=2), policy) == "breached"
    answered = Case(opened, status="replied", first_response_at=opened + timedelta(minutes=100))
    assert state(answered, opened + timedelta(hours=5), policy) == "met"
    late = Case(opened, status="replied", first_response_at=opened + timedelta(hours=3))
    assert state(late, opened + timedelta(hours=5), policy) == "breached"
    assert state(Case(opened, status="ignored"), opened + timedelta(hours=5), policy) == "met"
    assert state(Case(opened, priority="vip"), opened + timedelta(days=5), policy) == "met"


def test_at_risk_follows_business_hours():
    policy = Policy({"high": timedelta(minutes=40)}, at_risk=0.75, business_hours=HOURS)
    case = Case(berlin(2026, 11, 27, 16, 50), priority="high")  # 10 min on Friday, 30 on Monday
    assert state(case, berlin(2026, 11, 29, 23, 0), policy) == "ok"  # Sunday night: clock stopped
    assert state(case, berlin(2026, 11, 30, 9, 20), policy) == "at_risk"  # 30 of 40 working min
    assert state(case, berlin(2026, 11, 30, 9, 30), policy) == "breached"


@pytest.mark.parametrize("text", ["Mon-Fri", "Mon-Fri 17:00-09:00 UTC", "Funday 09:00-17:00", "Mon-Fri 9-17 UTC",
                                  "Mon-Fri 09:00-25:00 UTC"])
def test_bad_business_hours_are_refused(text):
    with pytest.raises(ValueError):
        BusinessHours.parse(text)


def test_a_rules_own_targets_win_for_its_cases_and_the_rest_fall_back():
    policy = Policy({"high": timedelta(minutes=30), "normal": timedelta(hours=2)}).with_rule_targets(
        {7: "high=10m,low=1d"})
    opened = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    assert deadline(opened, "high", policy, 7) == opened + timedelta(minutes=10)
    assert deadline(opened, "normal", policy, 7) == opened + timedelta(hours=2)  # not in the rule's: the team's
    assert deadline(opened, "low", policy, 7) == opened + timedelta(days=1)
    assert deadline(opened, "low", policy, 8) is None and deadline(opened, "high", policy) == opened + timedelta(minutes=30)
    assert policy.priorities == {"high", "normal", "low"} and policy.shortest == timedelta(minutes=10)
    assert state(Case(opened, priority="high", rule_id=7), opened + timedelta(minutes=11), policy) == "breached"
    assert state(Case(opened, priority="high", rule_id=8), opened + timedelta(minutes=11), policy) == "ok"


def test_quiet_hours_end_when_business_hours_next_open():
    friday_evening = berlin(2026, 11, 27, 18, 30)
    assert not HOURS.is_open(friday_evening)
    assert HOURS.next_open(friday_evening) == berlin(2026, 11, 30, 9, 0)  # Monday morning, not Saturday
    assert HOURS.next_open(berlin(2026, 11, 30, 7, 0)) == berlin(2026, 11, 30, 9, 0)
    inside = berlin(2026, 11, 30, 11, 15)
    assert HOURS.is_open(inside) and HOURS.next_open(inside) == inside
    assert not HOURS.is_open(berlin(2026, 11, 30, 17, 0))  # closing time is already quiet
    assert HOURS.next_open(berlin(2026, 11, 30, 17, 0)) == berlin(2026, 12, 1, 9, 0)
    nights = BusinessHours.parse("Mon-Sun 22:00-24:00 UTC")  # a window that ends at midnight
    assert nights.next_open(datetime(2026, 11, 30, 23, 59, tzinfo=UTC)) == datetime(2026, 11, 30, 23, 59, tzinfo=UTC)
    assert nights.next_open(datetime(2026, 12, 1, 0, 0, tzinfo=UTC)) == datetime(2026, 12, 1, 22, 0, tzinfo=UTC)


def test_oncall_is_a_user_or_a_user_group_as_people_paste_them():
    for pasted, kept in [("U0ONCALL", "U0ONCALL"), ("<@U0ONCALL>", "U0ONCALL"), ("S0CARE", "S0CARE"),
                         ("<!subteam^S0CARE>", "S0CARE"), ("<!subteam^S0CARE|@care>", "S0CARE"), ("  ", "")]:
        assert load_settings(SOCIALDESK_ONCALL=pasted).oncall == kept, pasted
    for bad in ("@care-team", "#support", "C0CHANNEL", "u0lower"):
        with pytest.raises(ConfigError, match="^SOCIALDESK_ONCALL is invalid: .*user group id like S012ABCDEF"):
            load_settings(SOCIALDESK_ONCALL=bad)
