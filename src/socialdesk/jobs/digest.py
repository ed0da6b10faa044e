"""The digest job: figures for the last complete local day or week, posted to channels and DMs.

Schedules are written like "daily 09:00" or "weekly mon 09:00" and fire at that
local time in the team's time zone (APScheduler's CronTrigger handles daylight-
saving changes); the scheduler itself keeps running in UTC.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import Engine

from socialdesk.slack.blocks.digest import digest_blocks, digest_text
from socialdesk.store.db import session_scope
from socialdesk.store.figures import Figures, PeriodKind, figures, period_info, previous

log = logging.getLogger(__name__)

_SPEC = re.compile(
    r"^\s*(?:(?P<daily>daily)|weekly\s+(?P<dow>mon|tue|wed|thu|fri|sat|sun)[a-z]*)\s+(?P<h>\d{1,2}):(?P<m>\d{2})\s*$",
    re.IGNORECASE,
)
TITLES = {"day": "Daily social care digest", "week": "Weekly social care digest"}


@dataclass(frozen=True)
class Schedule:
    kind: PeriodKind
    trigger: CronTrigger


def parse_schedule(text: str, *, tz: ZoneInfo) -> Schedule:
    """"daily 09:00" or "weekly mon 09:00" (any day name that starts mon…sun) → kind and trigger.

    Raises ValueError on anything else, with a message fit to show to a user.
    """
    match = _SPEC.match(text)
    if not match:
        raise ValueError(f'not a digest schedule: {text!r} (try "daily 09:00" or "weekly mon 09:00")')
    hour, minute = int(match["h"]), int(match["m"])
    if hour > 23 or minute > 59:
        raise ValueError(f"not a time of day: {match['h']}:{match['m']}")
    if match["daily"]:
        return Schedule("day", CronTrigger(hour=hour, minute=minute, timezone=tz))
    return Schedule("week", CronTrigger(day_of_week=match["dow"].lower(), hour=hour, minute=minute, timezone=tz))


def schedule_spec(text: str, *, tz: ZoneInfo) -> CronTrigger:
    """The trigger alone; see `parse_schedule`."""
    return parse_schedule(text, tz=tz).trigger


def _is_user(target: str) -> bool:
    return target[:1] in ("U", "W")


@dataclass(frozen=True)
class DigestResult:
    current: Figures
    previous: Figures
    posted: dict[str, str]  # target -> message ts
    failed: dict[str, str]  # target -> Slack error


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
    ) -> None:
        self.engine, self.slack, self.clock, self.tz = engine, slack, clock, tz
        self.targets, self.kind = list(targets), kind
        self.title = title or TITLES[kind]

    def run_once(self) -> DigestResult:
        info, start, end = period_info(self.kind, now=self.clock(), tz=self.tz)
        prev_start, prev_end = previous(start, end, tz=self.tz)
        with session_scope(self.engine) as session:
            current = figures(session=session, start=start, end=end, tz=self.tz)
            before = figures(session=session, start=prev_start, end=prev_end, tz=self.tz)
        permalinks = self._permalinks(current)
        blocks = [b.to_dict() for b in digest_blocks(current, before, title=self.title, period_label=info.label, permalinks=permalinks)]
        text = digest_text(current, title=self.title, period_label=info.label)
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
        return DigestResult(current, before, posted, failed)

    def _channel_for(self, target: str) -> str:
        if not _is_user(target):
            return target
        return self.slack.conversations_open(users=target)["channel"]["id"]

    def _permalinks(self, current: Figures) -> dict[int, str]:
        links: dict[int, str] = {}
        for case in current.oldest_unclaimed:
            if not case.message_ts:
                continue
            try:
                links[case.case_id] = self.slack.chat_getPermalink(channel=case.channel_id, message_ts=case.message_ts)["permalink"]
            except SlackApiError as exc:
                log.info("no permalink for case %s: %s", case.case_id, exc.response.get("error"))
        return links
