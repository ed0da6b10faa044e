"""Digest schedules as people write them: "daily 09:00", "weekly mon 09:00" (pure: no DB, no Slack).

Both the store (which keeps a schedule's canonical spec) and the digest job (which turns
it into a trigger) read specs here, so neither has to import the other. A spec fires at
that local time in the team's time zone; APScheduler's CronTrigger handles daylight-
saving changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from socialdesk.slack.text import echoed

_SPEC = re.compile(
    r"^\s*(?:(?P<daily>daily)|weekly\s+(?P<dow>mon|tue|wed|thu|fri|sat|sun)[a-z]*)\s+(?P<h>\d{1,2}):(?P<m>\d{2})\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Schedule:
    kind: Literal["day", "week"]  # the period the digest covers (store.figures.PeriodKind)
    trigger: CronTrigger


def parse_schedule(text: str, *, tz: ZoneInfo) -> Schedule:
    """"daily 09:00" or "weekly mon 09:00" (any day name that starts mon…sun) → kind and trigger.

    Raises ValueError on anything else, with a message fit to show to a user.
    """
    match = _SPEC.match(text)
    if not match:
        raise ValueError(f'not a digest schedule: {echoed(text)} (try "daily 09:00" or "weekly mon 09:00")')
    hour, minute = int(match["h"]), int(match["m"])
    if hour > 23 or minute > 59:
        raise ValueError(f"not a time of day: {match['h']}:{match['m']}")
    if match["daily"]:
        return Schedule("day", CronTrigger(hour=hour, minute=minute, timezone=tz))
    return Schedule("week", CronTrigger(day_of_week=match["dow"].lower(), hour=hour, minute=minute, timezone=tz))


def canonical_spec(text: str) -> str:
    """"Daily 9:00" → "daily 09:00", "weekly Monday 9:30" → "weekly mon 09:30"; ValueError as `parse_schedule`."""
    parse_schedule(text, tz=ZoneInfo("UTC"))
    match = _SPEC.match(text)
    assert match is not None  # parse_schedule accepted it
    when = f"{int(match['h']):02d}:{match['m']}"
    return f"daily {when}" if match["daily"] else f"weekly {match['dow'].lower()} {when}"


def schedule_spec(text: str, *, tz: ZoneInfo) -> CronTrigger:
    """The trigger alone; see `parse_schedule`."""
    return parse_schedule(text, tz=tz).trigger
