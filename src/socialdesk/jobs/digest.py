"""The digest job: figures for the last complete local day or week (or today so far), and the
backlog as it is now, posted to channels and DMs.

Schedules are written like "daily 09:00" or "weekly mon 09:00" (parsed in
socialdesk.schedules) and fire at that local time in the team's time zone; the
scheduler itself keeps running in UTC.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import Engine

from socialdesk.schedules import parse_schedule
from socialdesk.spend import Meter, summary
from socialdesk.slack.blocks.digest import digest_blocks, digest_text
from socialdesk.store import digests as digest_store
from socialdesk.store.db import read_scope, session_scope
from socialdesk.store.figures import Backlog, Figures, PeriodKind, backlog, figures, period_info, previous
from socialdesk.store.models import DigestScheduleRow

log = logging.getLogger(__name__)

TITLES = {"day": "Daily social care digest", "week": "Weekly social care digest",
          "today": "Social care so far today"}
COMPARED_WITH = {"day": "the day before", "week": "the week before", "today": "yesterday up to the same time"}


def _is_user(target: str) -> bool:
    return target[:1] in ("U", "W")


@dataclass(frozen=True)
class DigestResult:
    current: Figures
    previous: Figures
    posted: dict[str, str]  # target -> message ts
    failed: dict[str, str]  # target -> Slack error
    backlog: Backlog = Backlog()  # waiting when the digest was made


class DigestJob:
    """Posts one digest to each target: a channel id, or a user id (sent as a DM)."""

    def __init__(
        self,
        *,
        engine: Engine,
        slack: WebClient,
        clock: Callable[[], datetime],
        tz: ZoneInfo,
        targets: list[str],
        kind: PeriodKind,
        title: str | None = None,
        meter: Meter | None = None,
    ) -> None:
        self.engine, self.slack, self.clock, self.tz = engine, slack, clock, tz
        self.meter = meter  # the digest carries a line of what the networks that bill cost this month
        self.targets, self.kind = list(targets), kind
        self.title = title or TITLES[kind]

    def run_once(self) -> DigestResult:
        info, start, end = period_info(self.kind, now=self.clock(), tz=self.tz)
        prev_start, prev_end = previous(start, end, tz=self.tz)
        with read_scope(self.engine) as session:  # a reader: no write lock held while it counts
            current = figures(session=session, start=start, end=end, tz=self.tz)
            before = figures(session=session, start=prev_start, end=prev_end, tz=self.tz)
            # Now, not at the period's end: the digest says what is waiting when it is read.
            waiting = backlog(session=session)
            spend_line = summary(self.meter.usage(session=session, now=self.clock())) if self.meter else None
        permalinks = self._permalinks(waiting)
        blocks = [b.to_dict() for b in digest_blocks(current, before, title=self.title, period_label=info.label,
                                                     permalinks=permalinks, backlog=waiting,
                                                     compared_with=COMPARED_WITH[self.kind], spend=spend_line)]
        text = digest_text(current, title=self.title, period_label=info.label, backlog=waiting)
        posted: dict[str, str] = {}
        failed: dict[str, str] = {}
        for target in self.targets:
            try:
                channel = self._channel_for(target)
                posted[target] = self.slack.chat_postMessage(channel=channel, text=text, blocks=blocks, unfurl_links=False)["ts"]
            except SlackApiError as exc:
                # One archived channel or deactivated manager must not cost the others their digest.
                failed[target] = str(exc.response.get("error", "unknown_error"))
                log.warning("digest to %s failed: %s", target, failed[target])
        return DigestResult(current, before, posted, failed, waiting)

    def _channel_for(self, target: str) -> str:
        if not _is_user(target):
            return target
        return self.slack.conversations_open(users=target)["channel"]["id"]

    def _permalinks(self, waiting: Backlog) -> dict[int, str]:
        links: dict[int, str] = {}
        for case in waiting.oldest:
            if not case.message_ts:
                continue
            try:
                links[case.case_id] = self.slack.chat_getPermalink(channel=case.channel_id, message_ts=case.message_ts)["permalink"]
            except SlackApiError as exc:
                log.info("no permalink for case %s: %s", case.case_id, exc.response.get("error"))
        return links


def post_digest(
    *,
    engine: Engine,
    slack: WebClient,
    clock: Callable[[], datetime],
    tz: ZoneInfo,
    targets: list[str],
    kind: PeriodKind = "day",
    meter: Meter | None = None,
) -> DigestResult:
    """One digest of the last complete local day or week (or today so far), now, to `targets`
    (`/social digest now`)."""
    return DigestJob(engine=engine, slack=slack, clock=clock, tz=tz, targets=targets, kind=kind,
                     meter=meter).run_once()


# -- scheduled digests ---------------------------------------------------------------------------

JOB_PREFIX = "digest-"
MISFIRE_GRACE_SECONDS = 600  # a digest up to 10 minutes late (a restart, a busy pool) is still worth posting


def scheduled_time(trigger: CronTrigger, *, now: datetime, grace: float = MISFIRE_GRACE_SECONDS) -> datetime | None:
    """The trigger's latest fire time in (now - grace, now], if any."""
    fire = trigger.get_next_fire_time(None, now - timedelta(seconds=grace))
    return fire if fire is not None and fire <= now else None


class DigestScheduler:
    """Keeps one cron job per running row of digest_schedules and posts each period's digest once.

    The in-memory APScheduler job store is per process; every replica schedules every
    digest, and the run row claimed in the database (store.digests.claim_run) decides
    which replica posts it. A replica that dies between the claim and the post costs
    that period its digest: at most once, never twice.
    """

    def __init__(
        self,
        *,
        engine: Engine,
        slack: WebClient,
        clock: Callable[[], datetime],
        tz: ZoneInfo,
        grace: float = MISFIRE_GRACE_SECONDS,
        meter: Meter | None = None,
    ) -> None:
        self.engine, self.slack, self.clock, self.tz, self.grace = engine, slack, clock, tz, grace
        self.meter = meter

    @staticmethod
    def job_id(schedule_id: int) -> str:
        return f"{JOB_PREFIX}{schedule_id}"

    def sync(self, scheduler: BaseScheduler) -> None:
        """Match the cron jobs to the running schedules: added, removed, paused, spec changed."""
        with session_scope(self.engine) as session:
            rows = {r.id: r for r in digest_store.list_schedules(session=session) if not r.paused}
        for job in scheduler.get_jobs():
            if not job.id.startswith(JOB_PREFIX):
                continue
            row = rows.get(int(job.id.removeprefix(JOB_PREFIX)))
            if row is None or job.name != self._job_name(row):
                job.remove()
        now = self.clock()
        for schedule_id, row in rows.items():
            if schedule_id is None or scheduler.get_job(self.job_id(schedule_id)) is not None:
                continue
            try:
                trigger = parse_schedule(row.spec, tz=self.tz).trigger
            except ValueError as exc:  # written by hand into the table: skip it, keep the others
                log.warning("digest schedule %s is not valid and is skipped: %s", schedule_id, exc)
                continue
            # A fire missed within the grace (the app was restarting) still runs; the claim
            # keeps it from posting twice. A schedule created after that fire does not.
            missed = scheduled_time(trigger, now=now, grace=self.grace)
            created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
            catch_up = missed is not None and missed >= created
            scheduler.add_job(
                self.run_schedule,
                trigger,
                args=[schedule_id],
                id=self.job_id(schedule_id),
                name=self._job_name(row),
                misfire_grace_time=int(self.grace),
                coalesce=True,
                max_instances=1,
                **({"next_run_time": missed} if catch_up else {}),
            )
            log.info("digest schedule %s (%s) scheduled", schedule_id, row.spec)

    @staticmethod
    def _job_name(row: DigestScheduleRow) -> str:
        # The spec is in the name so that a changed spec replaces the job.
        return f"digest {row.id}: {row.spec}"

    def run_schedule(self, schedule_id: int) -> DigestResult | None:
        """Post this schedule's digest for the period of its latest fire, unless that period is taken."""
        now = self.clock()
        with session_scope(self.engine) as session:
            row = digest_store.get_schedule(session=session, schedule_id=schedule_id)
            if row is None or row.paused:
                return None
            spec, targets = row.spec, list(row.targets)
        schedule = parse_schedule(spec, tz=self.tz)
        # The period follows the time the digest was due, not the time it ran: a fire
        # delayed past midnight still reports the day it was meant for.
        due = scheduled_time(schedule.trigger, now=now, grace=self.grace) or now
        _, period_start, _ = period_info(schedule.kind, now=due, tz=self.tz)
        with session_scope(self.engine) as session:
            run = digest_store.claim_run(session=session, schedule_id=schedule_id, period_start=period_start, now=now)
            run_id = run.id if run is not None else None
        if run_id is None:
            log.info("digest %s for %s already claimed; not posting", schedule_id, period_start.isoformat())
            return None
        try:
            result = DigestJob(
                engine=self.engine, slack=self.slack, clock=lambda: due, tz=self.tz, targets=targets, kind=schedule.kind,
                meter=self.meter,
            ).run_once()
        except Exception as exc:
            self._finish(run_id, {"posted": {}, "failed": dict.fromkeys(targets, type(exc).__name__)})
            raise
        self._finish(run_id, {"posted": result.posted, "failed": result.failed})
        log.info("digest %s posted to %d of %d targets", schedule_id, len(result.posted), len(targets))
        return result

    def _finish(self, run_id: int, result: dict[str, Any]) -> None:
        with session_scope(self.engine) as session:
            digest_store.finish_run(session=session, run_id=run_id, result=result, now=self.clock())
