"""The digest job against the Slack emulator, with a frozen clock."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger
from slack_sdk import WebClient
from sqlmodel import Session

from socialdesk.jobs.digest import DigestJob
from socialdesk.schedules import parse_schedule, schedule_spec
from socialdesk.slack import ids
from socialdesk.store.models import CaseEventRow, CaseRow

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 1, 16, 8, 0, tzinfo=UTC)  # Friday 09:00 in Berlin


def open_case(engine, channel: str, ts: str, opened_at: datetime) -> int:
    with Session(engine) as session:
        case = CaseRow(network="x", channel_id=channel, message_ts=ts, opened_at=opened_at, updated_at=opened_at)
        session.add(case)
        session.flush()
        session.add(CaseEventRow(case_id=case.id, kind="opened", actor="system", at=opened_at))
        session.commit()
        return case.id


def test_run_once_posts_to_a_channel_and_as_a_dm(engine, slack_emulator):
    channel = slack_emulator.new_channel("digest")
    slack = WebClient(token=slack_emulator.token, base_url=slack_emulator.url)
    card_ts = slack.chat_postMessage(channel=channel, text="a card")["ts"]
    case_id = open_case(engine, channel, card_ts, datetime(2026, 1, 15, 10, tzinfo=UTC))
    open_case(engine, channel, "2.0", datetime(2026, 1, 14, 10, tzinfo=UTC))  # the day before
    alice = slack_emulator.users["alice"]

    job = DigestJob(engine=engine, slack=slack, clock=lambda: NOW, tz=BERLIN, targets=[channel, alice], kind="day")
    result = job.run_once()

    assert result.failed == {} and set(result.posted) == {channel, alice}
    assert result.current.opened == 1 and result.previous.opened == 1
    [message] = [m for m in slack_emulator.history(channel) if m.get("ts") == result.posted[channel]]
    assert message["text"].startswith("Daily social care digest — Thu 15 Jan 2026: 1 opened")
    assert any(b["type"] == "header" for b in message["blocks"])
    rendered = str(message["blocks"])
    assert f"|Case #{case_id}>" in rendered  # linked to the card's permalink
    [actions] = [b for b in message["blocks"] if b["type"] == "actions"]
    assert actions["elements"][0]["action_id"] == ids.DIGEST_BACKLOG and actions["elements"][0]["url"].startswith("http")
    dm = slack.conversations_open(users=alice)["channel"]["id"]
    assert dm != channel
    # The observer is not in the bot's DM with alice: read it as the bot.
    dm_messages = [m for m in slack.conversations_history(channel=dm)["messages"] if m.get("ts") == result.posted[alice]]
    assert len(dm_messages) == 1 and dm_messages[0]["text"] == message["text"]


def test_a_failing_target_does_not_stop_the_others(engine, slack_emulator):
    channel = slack_emulator.new_channel("digest")
    slack = WebClient(token=slack_emulator.token, base_url=slack_emulator.url)
    job = DigestJob(engine=engine, slack=slack, clock=lambda: NOW, tz=BERLIN, targets=["C0NOSUCHCHAN", channel], kind="week")
    result = job.run_once()
    assert set(result.posted) == {channel} and set(result.failed) == {"C0NOSUCHCHAN"}
    assert result.current.opened == 0


def test_schedule_specs_fire_at_local_time_across_dst():
    daily = schedule_spec("daily 09:00", tz=BERLIN)
    assert isinstance(daily, CronTrigger)
    # The day after the clocks go forward, 09:00 in Berlin is 07:00 UTC (it was 08:00 UTC the day before).
    before = datetime(2026, 3, 28, 8, 30, tzinfo=UTC)
    fire = daily.get_next_fire_time(None, before)
    assert fire.astimezone(UTC) == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)
    weekly = parse_schedule("Weekly Monday 07:30", tz=BERLIN)
    assert weekly.kind == "week"
    fire = weekly.trigger.get_next_fire_time(None, datetime(2026, 3, 25, tzinfo=UTC))
    assert fire.astimezone(UTC) == datetime(2026, 3, 30, 5, 30, tzinfo=UTC)
    assert parse_schedule("daily 9:05", tz=BERLIN).kind == "day"


@pytest.mark.parametrize("bad", ["", "hourly 09:00", "daily 25:00", "daily 09:60", "weekly 09:00", "weekly xyz 09:00", "daily"])
def test_bad_schedule_specs_are_refused(bad):
    with pytest.raises(ValueError):
        schedule_spec(bad, tz=BERLIN)




def test_the_digest_shows_the_backlog_now_and_today_so_far(engine, slack_emulator):
    """Issue #15: yesterday's digest said "the backlog is clear 🎉" with today's cases waiting."""
    channel = slack_emulator.new_channel("digest")
    slack = WebClient(token=slack_emulator.token, base_url=slack_emulator.url)
    card_ts = slack.chat_postMessage(channel=channel, text="a card")["ts"]
    waiting = [open_case(engine, channel, card_ts, datetime(2026, 1, 16, 7, tzinfo=UTC)),  # 08:00 in Berlin, today
               open_case(engine, channel, "3.0", datetime(2026, 1, 16, 7, 30, tzinfo=UTC))]

    yesterday = DigestJob(engine=engine, slack=slack, clock=lambda: NOW, tz=BERLIN, targets=[channel], kind="day").run_once()
    assert yesterday.current.opened == 0 and yesterday.backlog.waiting == 2
    [message] = [m for m in slack_emulator.history(channel) if m.get("ts") == yesterday.posted[channel]]
    rendered = str(message["blocks"])
    assert "backlog is clear" not in rendered and "2 cases waiting for a claim" in rendered
    assert f"|Case #{waiting[0]}>" in rendered and message["text"].endswith("; 2 waiting now")

    today = DigestJob(engine=engine, slack=slack, clock=lambda: NOW, tz=BERLIN, targets=[channel], kind="today").run_once()
    assert today.current.opened == 2 and today.previous.opened == 0
    assert (today.current.start, today.current.end) == (datetime(2026, 1, 15, 23, tzinfo=UTC), NOW)
    [message] = [m for m in slack_emulator.history(channel) if m.get("ts") == today.posted[channel]]
    assert message["text"].startswith("Social care so far today — Fri 16 Jan 2026, 00:00–09:00: 2 opened")
    assert "compared with yesterday up to the same time" in str(message["blocks"])


def test_the_digest_carries_a_line_of_this_months_spend(engine, slack_emulator):
    from socialdesk.networks.base import BilledReads, Network
    from socialdesk.networks.x import network as x
    from socialdesk.networks.x.settings import XSettings
    from socialdesk.spend import Meter

    channel = slack_emulator.new_channel("digest")
    slack = WebClient(token=slack_emulator.token, base_url=slack_emulator.url)
    meter = Meter({"x": Network(info=x.INFO, billing=x.billing(XSettings(SOCIALDESK_X_MONTHLY_BUDGET=40)))})
    with Session(engine) as session:  # 15.33 days into January: $3 so far is $6.07 by the month's end
        meter.record(session=session, network="x", rule_id=1, now=datetime(2026, 1, 2, tzinfo=UTC),
                     reads=[BilledReads("post", tuple(map(str, range(600))))])
        session.commit()
    job = DigestJob(engine=engine, slack=slack, clock=lambda: NOW, tz=BERLIN, targets=[channel], kind="day",
                    meter=meter)
    ts = job.run_once().posted[channel]
    [message] = [m for m in slack_emulator.history(channel) if m.get("ts") == ts]
    [line] = [e["text"] for b in message["blocks"] if b["type"] == "context" for e in b["elements"]
              if "reads this month" in e["text"]]
    assert line == (":moneybag: X reads this month: $3.00, projected $6.07 of a $40.00 budget; "
                    "600 of 3,000,000 post reads")
    without = DigestJob(engine=engine, slack=slack, clock=lambda: NOW, tz=BERLIN, targets=[channel], kind="day")
    ts = without.run_once().posted[channel]
    [plain] = [m for m in slack_emulator.history(channel) if m.get("ts") == ts]
    assert "reads this month" not in str(plain["blocks"])
