"""Which cases an export takes, from what people type (CLI options, `/social export` words)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from socialdesk.domain import CaseStatus
from socialdesk.slack.text import echoed

STATUSES = tuple(s.value for s in CaseStatus)


@dataclass(frozen=True)
class ExportFilter:
    """Which cases: opened in [since, until), with one of `statuses`, from one rule.

    It is the store's `CaseWindow` (socialdesk.store.exports) plus `curated_only`.
    """

    since: datetime | None = None
    until: datetime | None = None
    statuses: frozenset[str] = frozenset()
    rule_id: int | None = None
    curated_only: bool = False  # the active curated entries (edited Q&A) instead of raw cases


class FilterError(ValueError):
    """A date, status or rule the user got wrong; str(error) is one line to show them."""


_RELATIVE = re.compile(r"^(\d{1,5})([mhdw])$")
# Days a bound may name: a day past either end of what datetime holds, so a day's end or a time zone
# (at most a day off UTC) never goes beyond it (9999-12-31 was an OverflowError).
EARLIEST, LATEST = date(1, 1, 2), date(9999, 12, 30)
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_when(value: str, *, now: datetime, upper: bool = False, tz: tzinfo = UTC) -> datetime:
    """`7d` / `24h` / `2w` / `30m` ago, a day `2026-11-27` in `tz`, or an ISO date-time.

    As an upper bound (`upper`), a day means up to the end of that day.
    """
    text = value.strip()
    relative = _RELATIVE.match(text.lower())
    if relative:
        return now - timedelta(**{_UNITS[relative.group(2)]: int(relative.group(1))})
    try:
        day_only = len(text) == 10
        moment = datetime.combine(date.fromisoformat(text), time(0)) if day_only else datetime.fromisoformat(text)
    except ValueError:
        raise FilterError(f"{echoed(value)} is not a date: use YYYY-MM-DD, an ISO date-time, or 7d / 24h / 2w") from None
    if not EARLIEST <= moment.date() <= LATEST:
        raise FilterError(f"{echoed(value)} is out of range: use a date from {EARLIEST} to {LATEST}")
    if day_only:
        return (moment + timedelta(days=1 if upper else 0)).replace(tzinfo=tz).astimezone(UTC)
    return moment.replace(tzinfo=tz).astimezone(UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_statuses(value: str) -> frozenset[str]:
    statuses = frozenset(s.strip().lower() for s in value.split(",") if s.strip())
    unknown = sorted(statuses - set(STATUSES))
    if unknown or not statuses:
        raise FilterError(f"{echoed(value)} is not a case status: use one or more of {', '.join(STATUSES)} (comma-separated)")
    return statuses


def parse_rule(value: str) -> int:
    raw = value.strip().lstrip("#")
    if not raw.isascii() or not raw.isdigit() or int(raw) > 2**31 - 1:
        raise FilterError(f"{echoed(value)} is not a rule id: use the number `socialdesk rules list` shows")
    return int(raw)


def check_range(flt: ExportFilter) -> ExportFilter:
    if flt.since and flt.until and flt.since >= flt.until:
        raise FilterError("the start (since) must be before the end (until)")
    return flt
