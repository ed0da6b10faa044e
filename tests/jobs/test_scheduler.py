"""The scheduler's running-jobs count: a stop waits for running jobs, but not for ever."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_SUBMITTED
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger
from slack_sdk import WebClient

from socialdesk.jobs.poll import Poller
from socialdesk.jobs.publish import Publisher
from socialdesk.jobs.scheduler import RunningJobs, build_scheduler
from socialdesk.store.db import session_scope
from socialdesk.store.models import RuleRow
from tests.jobs.test_poll import add_rule
from tests.support.waiting import wait_for


def test_a_run_that_came_too_late_is_not_counted_as_running(engine):
    """A poll whose timer fired past its grace (a busy process) is skipped: a stop must not wait for it."""
    running, ran = RunningJobs(), threading.Event()
    scheduler = build_scheduler(engine=engine, poller=Poller(engine=engine, networks={}, own_handles=frozenset(),
                                                             clock=lambda: datetime.now(UTC)),
                                publisher=Publisher(engine=engine, slack=WebClient(base_url="http://127.0.0.1:9/api/"),
                                                    clock=lambda: datetime.now(UTC)), running=running)
    scheduler.start(paused=True)
    scheduler.add_job(ran.set, DateTrigger(datetime.now(UTC) - timedelta(seconds=10)), misfire_grace_time=1, id="late")
    for job in scheduler.get_jobs():  # only the late one is due
        if job.id != "late":
            job.pause()
    scheduler.resume()
    try:
        wait_for(lambda: scheduler.get_job("late") is None, timeout=10, what="the late job handled")
        assert not ran.is_set()
        assert running.wait_idle(5) is True and running.count == 0
    finally:
        scheduler.shutdown(wait=False)


def test_a_stop_waits_for_running_jobs_until_its_grace_runs_out():
    running = RunningJobs()
    scheduler = BackgroundScheduler(timezone=UTC, executors={"default": ThreadPoolExecutor(max_workers=2)})
    scheduler.add_listener(running.on_event, EVENT_JOB_SUBMITTED | EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    stuck, release = threading.Event(), threading.Event()

    def slow_job() -> None:
        stuck.set()
        release.wait(30)  # a Slack or X call that does not come back

    def failing_job() -> None:
        raise RuntimeError("a failed job still ends")

    scheduler.add_job(failing_job, DateTrigger(datetime.now(UTC)))
    scheduler.add_job(slow_job, DateTrigger(datetime.now(UTC)))
    scheduler.start()
    assert stuck.wait(10)
    wait_for(lambda: running.count == 1, timeout=10, what="only the slow job running")
    scheduler.shutdown(wait=False)
    assert running.wait_idle(0.2) is False  # still running: the stop goes on without it
    release.set()
    assert running.wait_idle(10) is True and running.count == 0


# -- poll timers across replicas -----------------------------------------------------------------


def replica_scheduler(engine):  # type: ignore[no-untyped-def]
    """One replica's scheduler with its poll jobs made (the sync run by hand), paused: nothing runs."""
    slack = WebClient(token="xoxb-unused", base_url="http://127.0.0.1:9/api/")  # never called: nothing runs
    scheduler = build_scheduler(engine=engine, poller=Poller(engine=engine, networks={}, own_handles=frozenset(),
                                                             clock=lambda: datetime.now(UTC)),
                                publisher=Publisher(engine=engine, slack=slack, clock=lambda: datetime.now(UTC)))
    scheduler.start(paused=True)
    scheduler.get_job("sync-rules").func()
    return scheduler


def polled(engine, rule_id: int, ago: float | None) -> None:  # type: ignore[no-untyped-def]
    with session_scope(engine) as session:
        rule = session.get(RuleRow, rule_id)
        rule.last_polled_at = None if ago is None else datetime.now(UTC) - timedelta(seconds=ago)
        session.add(rule)


def fires(scheduler, rule_id: int, n: int = 3) -> list[datetime]:  # type: ignore[no-untyped-def]
    """The rule's next `n` regular polls on this replica, as APScheduler goes from one to the next."""
    job = scheduler.get_job(f"poll-rule-{rule_id}")
    times = [job.next_run_time]
    while len(times) < n:
        times.append(job.trigger.get_next_fire_time(times[-1], times[-1]))
    return times


def test_every_replica_polls_a_rule_at_the_same_instants_and_rules_at_phases_of_their_own(engine):
    rule_ids = [add_rule(engine, query=f"acme {i}", every=60) for i in range(8)]
    a = replica_scheduler(engine)  # polls them at once (never polled), then on their beats
    for rule_id in rule_ids:
        polled(engine, rule_id, ago=0)
    b = replica_scheduler(engine)  # started later (a restart, another machine): they were just polled
    try:
        for rule_id in rule_ids:
            # On one grid (b, made a moment later, may be a beat further on when one passed meanwhile).
            apart = {round((x - y).total_seconds(), 6) % 60 for x, y in zip(fires(a, rule_id), fires(b, rule_id))}
            assert apart == {0}, f"rule {rule_id}: the replicas' timers are out of step"
            assert a.get_job(f"poll-now-rule-{rule_id}") is not None and b.get_job(f"poll-now-rule-{rule_id}") is None
        # Started together, rules are not all polled in the same second: their beats are spread over the minute.
        seconds = sorted(fires(a, rule_id, 1)[0].timestamp() % 60 for rule_id in rule_ids)
        assert min(b - a for a, b in itertools.pairwise(seconds)) > 2
    finally:
        a.shutdown(wait=False)
        b.shutdown(wait=False)


def test_a_poll_timer_firing_late_skips_its_turn_before_half_an_interval(engine):
    rule_id = add_rule(engine, every=60)
    scheduler = replica_scheduler(engine)
    try:  # the Poller polls a rule again half an interval after its last poll: a timer that late would
        # poll a beat another replica polled on time; one late by less still polls (with one replica, nobody else does)
        assert 15 < scheduler.get_job(f"poll-rule-{rule_id}").misfire_grace_time < 30
    finally:
        scheduler.shutdown(wait=False)


def test_a_replica_starting_polls_at_once_only_the_rules_due(engine):
    fresh, recent, stale = (add_rule(engine, query=q, every=60) for q in ("acme new", "acme recent", "acme stale"))
    polled(engine, recent, ago=10)  # by another replica, ten seconds ago
    polled(engine, stale, ago=61)  # more than an interval ago: nobody is polling it
    scheduler = replica_scheduler(engine)
    try:
        soon = datetime.now(UTC) + timedelta(seconds=1)
        for rule_id in (fresh, stale):
            assert scheduler.get_job(f"poll-now-rule-{rule_id}").next_run_time <= soon
        assert scheduler.get_job(f"poll-now-rule-{recent}") is None
        for rule_id in (fresh, recent, stale):  # and all on their beats, within the interval
            assert datetime.now(UTC) < scheduler.get_job(f"poll-rule-{rule_id}").next_run_time <= soon + timedelta(seconds=60)
    finally:
        scheduler.shutdown(wait=False)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # PostgreSQL's INTEGER never held such an interval
def test_a_rule_whose_interval_cannot_be_timed_is_logged_once_and_the_rest_are_still_scheduled(engine, caplog):
    """Saved before intervals had a maximum, `every 999999999999` could not be timed: it stopped the sync
    at that rule, leaving the rules after it, and the digests, unscheduled."""
    synced = []
    too_long = add_rule(engine, query="acme never", every=999_999_999_999)
    fine = add_rule(engine, query="acme phone", every=60)
    slack = WebClient(token="xoxb-unused", base_url="http://127.0.0.1:9/api/")
    scheduler = build_scheduler(engine=engine, poller=Poller(engine=engine, networks={}, own_handles=frozenset(),
                                                             clock=lambda: datetime.now(UTC)),
                                publisher=Publisher(engine=engine, slack=slack, clock=lambda: datetime.now(UTC)),
                                syncs=[synced.append])
    scheduler.start(paused=True)
    try:
        with caplog.at_level("ERROR", logger="socialdesk.jobs.scheduler"):
            scheduler.get_job("sync-rules").func()
            scheduler.get_job("sync-rules").func()  # every few seconds: said once, not at every sync
        assert scheduler.get_job(f"poll-rule-{fine}") is not None
        assert scheduler.get_job(f"poll-rule-{too_long}") is None
        assert scheduler.get_job(f"poll-now-rule-{too_long}") is None
        assert synced == [scheduler, scheduler]  # the digests' sync ran after the rules, both times
        said = [r for r in caplog.records if r.levelname == "ERROR"]
        assert len(said) == 1 and said[0].rule_id == too_long
        assert said[0].getMessage().startswith(f"rule {too_long} is not polled: its interval, every 999999999999 s, "
                                               "cannot be scheduled (")
        assert said[0].getMessage().endswith(f"remove it (`socialdesk rules remove {too_long}`) and add it again "
                                             "with an interval from 5 to 86400 seconds (a day)")
    finally:
        scheduler.shutdown(wait=False)
