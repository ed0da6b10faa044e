"""Scheduled digests: cron jobs follow the schedules table; each period is posted once.

Frozen clocks, a real APScheduler (started paused, so nothing fires on its own), the
Slack emulator, and SQLite plus PostgreSQL.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from slack_sdk import WebClient
from sqlmodel import Session

from socialdesk.jobs.digest import MISFIRE_GRACE_SECONDS, DigestScheduler
from socialdesk.store import digests as digest_store
from socialdesk.store.db import make_engine, session_scope
from socialdesk.store.models import CaseEventRow, CaseRow, DigestScheduleRow

PARIS = ZoneInfo("Europe/Paris")
# Sunday 29 March 2026: clocks in Paris go forward at 02:00 (UTC+1 → UTC+2). 09:00 there is 07:00 UTC.
DST_MORNING = datetime(2026, 3, 29, 7, 0, 5, tzinfo=UTC)
SATURDAY_NOON = datetime(2026, 3, 28, 11, 0, tzinfo=UTC)  # 12:00 in Paris, the day before


@pytest.fixture
def slack(slack_emulator) -> WebClient:
    return WebClient(token=slack_emulator.token, base_url=slack_emulator.url)


@pytest.fixture
def scheduler():
    scheduler = BackgroundScheduler(timezone=UTC)
    scheduler.start(paused=True)  # computes next run times, runs nothing
    yield scheduler
    scheduler.shutdown(wait=False)


def add_schedule(engine, spec: str, targets: list[str], *, created: datetime) -> int:
    with session_scope(engine) as session:
        return digest_store.add_schedule(session=session, spec=spec, targets=targets, created_by="U0MIA",
                                         now=created).id


def seed_case(engine, *, opened_at: datetime, resolved_at: datetime | None = None) -> None:
    with Session(engine) as session:
        case = CaseRow(network="x", channel_id="C0CARDS", message_ts=None, opened_at=opened_at, updated_at=opened_at)
        session.add(case)
        session.flush()
        session.add(CaseEventRow(case_id=case.id, kind="opened", actor="system", at=opened_at))
        if resolved_at is not None:
            session.add(CaseEventRow(case_id=case.id, kind="resolved", actor="U0ALICE", at=resolved_at))
        session.commit()


def digest_jobs(scheduler) -> dict[str, object]:
    return {job.id: job for job in scheduler.get_jobs() if job.id.startswith("digest-")}


def test_sync_follows_the_schedules_table(engine, slack, scheduler):
    clock_now = DST_MORNING - timedelta(days=2)
    digests = DigestScheduler(engine=engine, slack=slack, clock=lambda: clock_now, tz=PARIS)
    scheduler.add_job(lambda: None, IntervalTrigger(hours=1), id="poll-rule-1")  # someone else's job
    daily = add_schedule(engine, "daily 09:00", ["C0SOCIAL"], created=clock_now - timedelta(days=1))
    weekly = add_schedule(engine, "weekly mon 07:30", ["U0MIA"], created=clock_now - timedelta(days=1))

    digests.sync(scheduler)
    jobs = digest_jobs(scheduler)
    assert set(jobs) == {f"digest-{daily}", f"digest-{weekly}"}
    job = jobs[f"digest-{daily}"]
    assert isinstance(job.trigger, CronTrigger) and str(job.trigger.timezone) == "Europe/Paris"
    assert (job.misfire_grace_time, job.coalesce, job.max_instances) == (MISFIRE_GRACE_SECONDS, True, 1)
    assert job.args == (daily,)
    digests.sync(scheduler)  # nothing changed: the same jobs stay
    assert digest_jobs(scheduler).keys() == jobs.keys()
    assert scheduler.get_job(f"digest-{daily}").next_run_time == job.next_run_time

    with session_scope(engine) as session:
        digest_store.set_paused(session=session, schedule_id=daily, paused=True)
        session.get(DigestScheduleRow, weekly).spec = "weekly fri 18:00"
    digests.sync(scheduler)
    jobs = digest_jobs(scheduler)
    assert set(jobs) == {f"digest-{weekly}"}
    friday = jobs[f"digest-{weekly}"].trigger.get_next_fire_time(None, clock_now)
    assert friday.astimezone(PARIS).strftime("%a %H:%M") == "Fri 18:00"

    with session_scope(engine) as session:
        digest_store.set_paused(session=session, schedule_id=daily, paused=False)
        digest_store.remove_schedule(session=session, schedule_id=weekly)
    digests.sync(scheduler)
    assert set(digest_jobs(scheduler)) == {f"digest-{daily}"}
    assert scheduler.get_job("poll-rule-1") is not None


def test_the_next_fire_keeps_local_time_across_the_dst_change(engine, slack, scheduler):
    saturday_evening = datetime(2026, 3, 28, 20, 0, tzinfo=UTC)
    digests = DigestScheduler(engine=engine, slack=slack, clock=lambda: saturday_evening, tz=PARIS)
    schedule_id = add_schedule(engine, "daily 09:00", ["C0SOCIAL"], created=saturday_evening)
    digests.sync(scheduler)
    trigger = scheduler.get_job(f"digest-{schedule_id}").trigger
    sunday = trigger.get_next_fire_time(None, saturday_evening)
    assert sunday == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)  # 09:00 CEST; Saturday's was 08:00 UTC (CET)
    assert trigger.get_next_fire_time(None, saturday_evening - timedelta(hours=14)) == datetime(
        2026, 3, 28, 8, 0, tzinfo=UTC)


def test_a_fire_missed_while_restarting_is_caught_up_but_a_new_schedule_waits(engine, slack, scheduler):
    late = DST_MORNING + timedelta(minutes=3)  # 09:03 in Paris; the 09:00 fire was missed
    digests = DigestScheduler(engine=engine, slack=slack, clock=lambda: late, tz=PARIS)
    old = add_schedule(engine, "daily 09:00", ["C0SOCIAL"], created=late - timedelta(days=3))
    new = add_schedule(engine, "daily 09:00", ["C0SOCIAL"], created=late - timedelta(minutes=1))
    digests.sync(scheduler)
    assert scheduler.get_job(f"digest-{old}").next_run_time == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)
    assert scheduler.get_job(f"digest-{new}").next_run_time != datetime(2026, 3, 29, 7, 0, tzinfo=UTC)


def test_two_replicas_post_one_digest_per_period(engine, db_url, slack, slack_emulator):
    channel = slack_emulator.new_channel("digest")
    seed_case(engine, opened_at=SATURDAY_NOON, resolved_at=SATURDAY_NOON + timedelta(hours=2))
    seed_case(engine, opened_at=SATURDAY_NOON + timedelta(hours=1))
    seed_case(engine, opened_at=DST_MORNING - timedelta(hours=1))  # Sunday: not in Saturday's digest
    schedule_id = add_schedule(engine, "daily 09:00", [channel], created=DST_MORNING - timedelta(days=3))
    other_engine = make_engine(db_url)
    try:
        replicas = [
            DigestScheduler(engine=engine, slack=slack, clock=lambda: DST_MORNING, tz=PARIS),
            DigestScheduler(engine=other_engine, slack=slack, clock=lambda: DST_MORNING + timedelta(seconds=1),
                            tz=PARIS),
        ]
        with ThreadPoolExecutor(max_workers=2) as pool:
            results = list(pool.map(lambda replica: replica.run_schedule(schedule_id), replicas))
        assert replicas[1].run_schedule(schedule_id) is None  # a re-fire for the same period
    finally:
        other_engine.dispose()

    [result] = [r for r in results if r is not None]
    assert result.failed == {} and set(result.posted) == {channel}
    assert (result.current.opened, result.current.resolved) == (2, 1)
    messages = [m for m in slack_emulator.history(channel) if "digest" in m.get("text", "")]
    assert len(messages) == 1
    assert messages[0]["text"].startswith("Daily social care digest — Sat 28 Mar 2026: 2 opened, 1 resolved")
    with session_scope(engine) as session:
        [run] = digest_store.runs(session=session, schedule_id=schedule_id)
    assert run.period_start == datetime(2026, 3, 27, 23, 0, tzinfo=UTC)  # Saturday 00:00 in Paris (CET)
    assert run.finished_at is not None and run.result == {"posted": result.posted, "failed": {}}


def test_a_late_fire_reports_the_day_it_was_due_for_and_failures_are_recorded(engine, slack, slack_emulator):
    channel = slack_emulator.new_channel("digest")
    # "daily 23:55" due at 23:55 on Saturday in Paris, run 8 minutes late, after midnight.
    after_midnight = datetime(2026, 3, 28, 23, 3, tzinfo=UTC)  # 00:03 CET on Sunday
    digests = DigestScheduler(engine=engine, slack=slack, clock=lambda: after_midnight, tz=PARIS)
    schedule_id = add_schedule(engine, "daily 23:55", [channel, "C0NOSUCHCHAN"], created=SATURDAY_NOON)
    result = digests.run_schedule(schedule_id)
    assert result is not None and set(result.posted) == {channel} and set(result.failed) == {"C0NOSUCHCHAN"}
    with session_scope(engine) as session:
        [run] = digest_store.runs(session=session, schedule_id=schedule_id)
    # Due on Saturday: the digest is Friday's, although the clock already says Sunday.
    assert run.period_start == datetime(2026, 3, 26, 23, 0, tzinfo=UTC)
    assert run.result["failed"] == {"C0NOSUCHCHAN": "channel_not_found"}


def test_paused_and_removed_schedules_post_nothing(engine, slack, slack_emulator):
    channel = slack_emulator.new_channel("digest")
    digests = DigestScheduler(engine=engine, slack=slack, clock=lambda: DST_MORNING, tz=PARIS)
    schedule_id = add_schedule(engine, "daily 09:00", [channel], created=SATURDAY_NOON)
    with session_scope(engine) as session:
        digest_store.set_paused(session=session, schedule_id=schedule_id, paused=True)
    assert digests.run_schedule(schedule_id) is None
    assert digests.run_schedule(schedule_id + 1000) is None
    assert [m for m in slack_emulator.history(channel) if "digest" in m.get("text", "")] == []
