"""APScheduler wiring: one poll job per active rule, the publisher, the SLA sweep, periodic
jobs handed in by `app.build` (webhooks, retention …), and a sync job.

Runs in UTC; every job has an explicit misfire grace, coalesces missed runs and
never overlaps itself. The job store is in memory (never shared between
processes): replicas coordinate through leases in the database instead.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, EVENT_JOB_SUBMITTED, JobEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine

from socialdesk.jobs.poll import Poller
from socialdesk.jobs.publish import Publisher
from socialdesk.jobs.sla import SlaSweep
from socialdesk.logs import about
from socialdesk.rules import POLL_RANGE
from socialdesk.store import rules as rule_store
from socialdesk.store.db import as_utc, session_scope
from socialdesk.store.models import RuleRow

log = logging.getLogger(__name__)

JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 30}
SYNC_SECONDS = 5  # how soon `socialdesk rules add/pause/…` reaches a running app
PUBLISH_SECONDS = 1
PUBLISH_JOB = "publish"
SLA_SECONDS = 30
# Poll timers count from here (plus a phase of the rule's own), so every replica's timer of a rule
# fires at the same instants. Counted from when each replica added the job, they were at different
# phases, and a replica finding the rule half an interval old polled it: with three replicas a
# rule was polled every two thirds of its interval, or more often.
POLL_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
GOLDEN = 0.6180339887  # spreads the rules' phases over the interval: not all polled in the same second
# A poll timer that fires late (a busy process) still polls while it is less than half an interval
# late: then Poller's own guard (no poll within half an interval of the last) keeps it from being a
# second poll of a beat another replica polled on time. Later than that it skips its turn (another
# replica's timer polls it instead; with one replica, the next beat does).
POLL_LATE_FRACTION = 0.5


@dataclass(frozen=True)
class PeriodicJob:
    id: str
    run: Callable[[], object]
    seconds: float
    reentrant: bool = False  # `run` itself turns a second entry into "look again" (a wake while it runs)


class RunningJobs:
    """How many jobs are running now, so a stop can wait for them, but not forever."""

    def __init__(self) -> None:
        self._count = 0
        self._idle = threading.Condition()

    def on_event(self, event: JobEvent) -> None:
        with self._idle:
            self._count += 1 if event.code == EVENT_JOB_SUBMITTED else -1
            self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._count <= 0, timeout=timeout)

    @property
    def count(self) -> int:
        return self._count


# Called with the scheduler on every sync tick: matches jobs to a table (digest schedules).
SchedulerSync = Callable[[BackgroundScheduler], None]


def poll_trigger(rule_id: int, every_seconds: float) -> IntervalTrigger:
    """The rule's poll timer: every `every_seconds` at the same instants on every replica (clocks
    agree to well within the half interval `Poller` allows), at a phase of the rule's own."""
    phase = (rule_id * GOLDEN % 1.0) * every_seconds
    return IntervalTrigger(seconds=every_seconds, start_date=POLL_EPOCH + timedelta(seconds=phase), timezone=UTC)


def poll_due(rule: RuleRow, now: datetime) -> bool:
    """Whether a rule this replica starts polling should be polled at once, not at its next beat:
    never polled, or not for an interval (a new rule, a resumed one, a restart after a while)."""
    last = rule.last_polled_at
    return last is None or as_utc(last) <= now - timedelta(seconds=rule.every_seconds)


def build_scheduler(
    *,
    engine: Engine,
    poller: Poller,
    publisher: Publisher,
    sla_sweep: SlaSweep | None = None,
    sla_seconds: float = SLA_SECONDS,
    periodic: Sequence[PeriodicJob] = (),
    syncs: Sequence[SchedulerSync] = (),
    running: RunningJobs | None = None,
) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(
        timezone=UTC,
        executors={"default": ThreadPoolExecutor(max_workers=8)},
        job_defaults=JOB_DEFAULTS,
    )
    now = datetime.now(UTC)
    if running is not None:
        # A run that came too late (a poll past its grace) ends as missed: it is not running either.
        scheduler.add_listener(running.on_event,
                               EVENT_JOB_SUBMITTED | EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED)

    def add_poll_jobs(rule: RuleRow, now: datetime) -> None:
        """The rule's poll timer, and a poll now when it is due; neither when either cannot be made."""
        rule_id = rule.id
        late = max(1, int(rule.every_seconds * POLL_LATE_FRACTION) - 1)  # a second short of it
        trigger = poll_trigger(rule_id, rule.every_seconds)
        due = poll_due(rule, now)
        scheduler.add_job(poller.poll_rule, trigger, args=[rule_id], id=f"poll-rule-{rule_id}",
                          name=f"poll rule {rule_id}", misfire_grace_time=late)
        # At once only when due: a replica starting must not poll a rule the others just did. A
        # job of its own (an interval job run now would keep now's phase, off the beat).
        if due:
            scheduler.add_job(poller.poll_rule, DateTrigger(now, timezone=UTC), args=[rule_id],
                              id=f"poll-now-rule-{rule_id}", name=f"first poll of rule {rule_id}",
                              misfire_grace_time=late, replace_existing=True)

    unschedulable: dict[int, int] = {}  # rule id -> the interval it could not be scheduled at (logged once)

    def sync_rules() -> None:
        """Match the poll jobs to the rules table (added, removed, paused, re-timed)."""
        with session_scope(engine) as session:
            rules = {r.id: r for r in rule_store.list_rules(session=session) if not r.paused}
        now = datetime.now(UTC)
        jobs = {j.id: j for j in scheduler.get_jobs() if j.id.startswith("poll-rule-")}
        for gone in set(unschedulable) - set(rules):
            del unschedulable[gone]
        for job_id, job in jobs.items():
            rule = rules.get(int(job_id.removeprefix("poll-rule-")))
            if rule is None or job.trigger.interval.total_seconds() != rule.every_seconds:
                job.remove()
        for rule_id, rule in rules.items():
            job_id = f"poll-rule-{rule_id}"
            if scheduler.get_job(job_id) is None:
                # One rule that cannot be timed (an interval saved before rules.MAX_POLL_SECONDS, too long for
                # a timer) must not leave the rules after it, and the digests, unscheduled.
                try:
                    add_poll_jobs(rule, now)
                except Exception as exc:  # noqa: BLE001 - logged with what to do; the others go on
                    if unschedulable.get(rule_id) != rule.every_seconds:
                        log.error("rule %s is not polled: its interval, every %s s, cannot be scheduled (%s); "
                                  "remove it (`socialdesk rules remove %s`) and add it again with an interval %s",
                                  rule_id, rule.every_seconds, exc, rule_id, POLL_RANGE,
                                  extra=about(rule_id=rule_id))
                    unschedulable[rule_id] = rule.every_seconds
                    continue
            unschedulable.pop(rule_id, None)
        for sync in syncs:
            try:
                sync(scheduler)
            except Exception:  # noqa: BLE001 - one bad table must not stop rule syncing
                log.exception("scheduler sync %r failed", sync)

    scheduler.add_job(sync_rules, IntervalTrigger(seconds=SYNC_SECONDS, timezone=UTC), id="sync-rules", next_run_time=now)
    # Two instances: a tick or a wake while a drain runs enters, tells it to look again and returns
    # (with one, APScheduler skips it with a warning a second, and a wake's cases wait for the tick).
    scheduler.add_job(
        publisher.run_once, IntervalTrigger(seconds=PUBLISH_SECONDS, timezone=UTC), id=PUBLISH_JOB, next_run_time=now,
        max_instances=2,
    )
    if sla_sweep is not None:
        scheduler.add_job(
            sla_sweep.run_once, IntervalTrigger(seconds=sla_seconds, timezone=UTC), id="sla-sweep", next_run_time=now
        )
    for job in periodic:
        scheduler.add_job(job.run, IntervalTrigger(seconds=job.seconds, timezone=UTC), id=job.id, next_run_time=now,
                          max_instances=2 if job.reentrant else 1)
    return scheduler
