"""Digests through the running app: an admin schedules one for the next minute, it arrives; `digest now`.

The app runs in Europe/Paris (SOCIALDESK_TIMEZONE). Cases are seeded in the previous
local day (relative to the minute the digest fires), so the digest's figures are known.
This test waits for a real minute to turn: it is the only one of its kind.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from socialdesk.store import ingest, lifecycle
from socialdesk.store.db import make_engine, session_scope, upgrade
from socialdesk.store.figures import period_info
from tests.support.factories import x_post
from tests.support.slack_signing import FORM, new_trigger_id, post_signed, slash_command_body
from tests.support.waiting import wait_for

PARIS = ZoneInfo("Europe/Paris")
TITLE = "Daily social care digest"


def social(app, slack_emulator, text: str, *, channel: str, user: str) -> str:
    body = slash_command_body(command="/social", text=text, user_id=slack_emulator.users[user], user_name=user,
                              channel_id=channel, team_id=slack_emulator.team_id, trigger_id=new_trigger_id())
    response = post_signed(app.events_url, body, app.signing_secret, FORM)
    assert response.status_code == 200, response.text
    reply = response.json()
    assert reply["response_type"] == "ephemeral"
    return reply["text"]


def next_minute(now: datetime) -> datetime:
    """The start of the next minute, or of the one after when fewer than 10 s are left (sync runs every 5 s)."""
    start = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return start + timedelta(minutes=1) if (start - now).total_seconds() < 10 else start


def seed_yesterday(db_url: str, channel: str, day) -> None:  # type: ignore[no-untyped-def]
    """Three cases opened on `day` (local), one of them resolved that day; one case two days earlier."""
    def local(hour: int, days_before: int = 0) -> datetime:
        return datetime.combine(day - timedelta(days=days_before), time(hour), tzinfo=PARIS).astimezone(UTC)

    engine = make_engine(db_url)
    upgrade(engine)
    try:
        case_ids = []
        for hour, handle in ((10, "dana_k"), (11, "sam"), (12, "lee")):
            with session_scope(engine) as session:
                case_ids += ingest.store_posts(session=session, posts=[x_post(f"my phone broke ({handle})",
                                                                               handle=handle, when=local(hour))],
                                               rule_id=None, channel_id=channel, now=local(hour))
        with session_scope(engine) as session:
            assert lifecycle.resolve(session=session, case_id=case_ids[0], user_id="U0ALICE", now=local(13)).ok
            ingest.store_posts(session=session, posts=[x_post("older", handle="old", when=local(9, 2))],
                               rule_id=None, channel_id=channel, now=local(9, 2))
    finally:
        engine.dispose()


def channel_name(slack_emulator, channel_id: str) -> str:
    return next(name for name, cid in slack_emulator.channels.items() if cid == channel_id)


def digests_in(slack_emulator, channel: str) -> list[dict]:
    return [m for m in reversed(slack_emulator.history(channel)) if m.get("text", "").startswith(TITLE)]


def test_an_admin_schedules_a_digest_that_arrives_and_digest_now_posts_here(app, slack_emulator, db_url):
    channel = slack_emulator.new_channel("digest")
    fire = next_minute(datetime.now(UTC)).astimezone(PARIS)
    period, _, _ = period_info("day", now=fire, tz=PARIS)
    seed_yesterday(db_url, channel, period.first_day)
    app.env["SOCIALDESK_TIMEZONE"] = "Europe/Paris"
    app.start()
    spec = f"daily {fire:%H:%M}"

    refused = social(app, slack_emulator, f"digest schedule {spec}", channel=channel, user="alice")
    assert refused.startswith("Only socialdesk admins can schedule digests: ask") and "workspace admin" in refused
    assert "Usage: `/social digest schedule daily 09:00" in social(
        app, slack_emulator, "digest schedule daily 9am", channel=channel, user="mia")

    answer = social(app, slack_emulator, f"digest schedule {spec}", channel=channel, user="mia")
    assert answer.startswith(f"Scheduled digest 1: {spec} (Europe/Paris) to <#{channel}>."), answer
    listed = social(app, slack_emulator, "digest list", channel=channel, user="alice")
    assert f"*1* · {spec} → <#{channel}>" in listed and "added by <@" in listed

    due_in = (fire - datetime.now(UTC)).total_seconds()
    [scheduled] = wait_for(lambda: digests_in(slack_emulator, channel), timeout=max(due_in, 0) + 45,
                           what=f"the digest scheduled for {spec} (in {due_in:.0f} s)")
    assert scheduled["text"].startswith(f"{TITLE} — {period.label}: 3 opened, 1 resolved"), scheduled["text"]

    # Anyone may post one here, now; the answer comes at once, the digest right after.
    posting = social(app, slack_emulator, f"digest now day <#{channel}|digest>", channel=channel, user="alice")
    assert posting.startswith(f"Posting the digest for yesterday ({period.label}) to <#{channel}>"), posting
    both = wait_for(lambda: len(d := digests_in(slack_emulator, channel)) == 2 and d, timeout=30,
                    what="the digest posted now")
    assert both[1]["text"] == scheduled["text"]
    wait_for(lambda: any("is posted to" in t for t in slack_emulator.ephemeral_texts(channel)), timeout=15,
             what="the note that the digest is posted")
    assert "Usage: `/social digest now" in social(app, slack_emulator, "digest now #no-such-channel-here",
                                                 channel=channel, user="alice")
    # The scheduled one fired once for its period: a replica or re-fire would have added a third.
    assert len(digests_in(slack_emulator, channel)) == 2


def test_schedules_are_managed_by_admins_with_clear_answers(app, slack_emulator):
    channel = slack_emulator.new_channel("digest")
    app.start()
    mia, bob = slack_emulator.users["mia"], slack_emulator.users["bob"]

    def ask(text: str, user: str = "mia") -> str:
        return social(app, slack_emulator, text, channel=channel, user=user)

    assert ask("digest list", "alice").startswith("No digests are scheduled.")
    assert "`/social digest now [day|week|today]" in ask("digest")
    assert ask("digest frobnicate").startswith("`/social digest frobnicate` is not a digest command.")
    assert ask("digest schedule hourly 09:00").startswith("Usage: `/social digest schedule")
    assert ask("digest schedule daily 25:00").startswith("That is not a time of day: 25:00.")
    assert ask("digest schedule weekly mon").startswith("Usage: `/social digest schedule")
    assert ask("digest schedule daily 09:00 <!channel>").startswith("`&lt;!channel&gt;` is not a channel or a person")
    assert ask("digest schedule daily 09:00 @nobody-by-that-name").startswith(
        "`@nobody-by-that-name` is not a person in this workspace.")

    # Mentions as Slack escapes them, and plain names looked up in the workspace.
    name = channel_name(slack_emulator, channel)
    answer = ask(f"digest schedule weekly Monday 8:30 <@{bob}|bob> @mia #{name}")
    assert answer.startswith(f"Scheduled digest 1: weekly mon 08:30 (UTC) to <@{bob}>, <@{mia}>, <#{channel}>."), answer
    assert ask("digest schedule daily 18:00").startswith(f"Scheduled digest 2: daily 18:00 (UTC) to <#{channel}>.")

    assert ask("digest pause 1", "alice") == ("Only socialdesk admins can pause scheduled digests: "
                                              "ask a workspace admin.")
    assert ask("digest pause 1") == "Scheduled digest 1 is paused; `/social digest resume 1` restarts it."
    assert "*1* · weekly mon 08:30 → " in (listed := ask("digest list", "alice")) and "· paused ·" in listed
    assert "*2* · daily 18:00 → " in listed and "· next " in listed
    assert ask("digest resume 1") == "Scheduled digest 1 is running again."
    assert ask("digest remove 2") == "Scheduled digest 2 is removed."
    assert ask("digest remove 2") == "There is no scheduled digest 2; `/social digest list` shows them."
    assert ask("digest remove two").startswith("`two` is not a schedule number.")
    assert ask("digest remove").startswith("Usage: `/social digest remove <n>`")
    assert "*2*" not in ask("digest list")
    # A non-admin may post a digest here or to themselves, not elsewhere.
    assert ask(f"digest now <@{bob}>", "alice").startswith("Only socialdesk admins can post a digest to other")
    # Issue #15: today so far, posted here.
    posting = ask("digest now today", "alice")
    assert posting.startswith("Posting the digest for so far today (") and posting.endswith(f"to <#{channel}>…"), posting
    [today] = wait_for(lambda: [m for m in slack_emulator.history(channel)
                                if m.get("text", "").startswith("Social care so far today — ")], timeout=30,
                       what="the digest of today so far")
    assert "; 0 waiting now" in today["text"] and "the backlog is clear" in str(today["blocks"])
