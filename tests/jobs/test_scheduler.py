"""The scheduler's running-jobs count: a stop waits for running jobs, but not for ever."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_SUBMITTED
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger

from socialdesk.jobs.scheduler import RunningJobs
from tests.support.waiting import wait_for


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
