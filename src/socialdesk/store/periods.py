"""Digest periods: local calendar days and weeks (Monday to Monday) in the team's time zone,
or today so far, turned into UTC instants only at their boundaries (store.figures counts in them).

A day with a daylight-saving change is 23 or 25 hours long and still holds exactly the
events of that local day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

PeriodKind = Literal["day", "week", "today"]  # today: from local midnight to now, "so far today"


@dataclass(frozen=True)
class Period:
    """[start, end) in UTC, with the local calendar it was computed in."""

    kind: PeriodKind
    start: datetime
    end: datetime
    tz: ZoneInfo

    @property
    def first_day(self) -> date:
        return self.start.astimezone(self.tz).date()

    @property
    def label(self) -> str:
        """"Mon 30 Mar 2026" for a day, "Mon 30 Mar 2026, 00:00–14:05" for today so far,
        "23 Mar – 29 Mar 2026" for a week (local dates and times)."""
        first = self.first_day
        if self.kind == "day":
            return first.strftime("%a %-d %b %Y")
        if self.kind == "today":
            return f"{first.strftime('%a %-d %b %Y')}, 00:00–{self.end.astimezone(self.tz).strftime('%H:%M')}"
        last = first + timedelta(days=6)
        return f"{first.strftime('%-d %b')} – {last.strftime('%-d %b %Y')}"


def _local_midnight_utc(day: date, tz: ZoneInfo) -> datetime:
    # Midnight exists in every zone we care about; where a zone skips midnight itself,
    # fold=0 gives the instant just after the gap, which is still the day's start.
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def period(kind: PeriodKind, *, now: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The last complete local day or week (weeks start on Monday) before `now`, in UTC;
    "today": from local midnight to `now`."""
    return period_info(kind, now=now, tz=tz)[1:]  # type: ignore[return-value]


def period_info(kind: PeriodKind, *, now: datetime, tz: ZoneInfo) -> tuple[Period, datetime, datetime]:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    today = now.astimezone(tz).date()
    if kind == "today":
        start = _local_midnight_utc(today, tz)
        return Period(kind, start, now.astimezone(UTC), tz), start, now.astimezone(UTC)
    if kind == "day":
        first, last = today - timedelta(days=1), today
    elif kind == "week":
        this_monday = today - timedelta(days=today.weekday())
        first, last = this_monday - timedelta(days=7), this_monday
    else:
        raise ValueError(f"unknown period kind {kind!r}")
    start, end = _local_midnight_utc(first, tz), _local_midnight_utc(last, tz)
    return Period(kind, start, end, tz), start, end


def previous(start: datetime, end: datetime, *, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The period of the same local length just before [start, end): the day or week before.

    Computed on local dates, so the day before a 23-hour day is 24 hours long. A part of a
    day (today so far) is compared with the day before up to the same local time.
    """
    first, last = start.astimezone(tz).date(), end.astimezone(tz).date()
    days = (last - first).days
    if days == 0:
        day_before = first - timedelta(days=1)
        same_time = datetime.combine(day_before, end.astimezone(tz).time(), tzinfo=tz).astimezone(UTC)
        return _local_midnight_utc(day_before, tz), min(same_time, start)
    prev_first = first - timedelta(days=days)
    return _local_midnight_utc(prev_first, tz), start
