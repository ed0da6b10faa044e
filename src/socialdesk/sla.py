"""First-response SLAs: targets per priority, optional business hours. Pure: no DB, no Slack.

`deadline` is when the first public reply is due; with business hours the clock
only runs inside them (time zone aware, so a DST night is neither an hour short nor
long). `state` says where a case stands at a moment.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from socialdesk.slack.text import echoed

State = Literal["ok", "at_risk", "breached", "met"]
OPEN_STATUSES = frozenset({"new", "reopened", "claimed", "replied"})
DEFAULT_TARGETS = "high=30m,normal=2h,low=8h"
DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION = re.compile(r"(\d+)\s*([dhms])")
_MAX_DAYS_SCANNED = 3700  # about ten years of calendar days: a guard, never reached with a sane policy
# A case's deadline is its start plus its target: a longer target is no first-response target, and one of
# millions of days overflowed the date, failing `/social queue` for everyone.
MAX_TARGET = timedelta(days=30)
# Any setting's duration (an incident window, an alert delay): well inside what a date can be moved by.
MAX_DURATION = timedelta(days=3650)
_MAX_DIGITS = 12  # more is past MAX_DURATION in any unit, and int() would read thousands only to refuse them


def parse_duration(text: str, *, longest: timedelta = MAX_DURATION, of: str = "this setting") -> timedelta:
    """'30m', '2h', '1h30m', '1d', '45s' → timedelta: positive, at most `longest` (whole days), which the
    error names as the most for `of`."""
    compact = text.strip().lower().replace(" ", "")
    if not compact or _DURATION.sub("", compact):
        raise ValueError(f"{echoed(text)} is not a duration like 30m, 2h or 1h30m")
    parts = _DURATION.findall(compact)
    seconds = (None if any(len(n.lstrip("0")) > _MAX_DIGITS for n, _ in parts)
               else sum(int(n) * _UNITS[u] for n, u in parts))
    if seconds is None or seconds > longest.total_seconds():
        raise ValueError(f"{echoed(text.strip())} is too long for {of}: give at most {longest.days} days ({longest.days}d)")
    if seconds <= 0:
        raise ValueError(f"{echoed(text)} must be longer than zero")
    return timedelta(seconds=seconds)


def parse_targets(text: str) -> dict[str, timedelta]:
    """'high=30m,normal=2h,low=8h' → {'high': 30 min, …}. A priority left out has no SLA."""
    targets: dict[str, timedelta] = {}
    for part in text.replace(";", ",").split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        name = name.strip().lower()
        if not sep or not name:
            raise ValueError(f"{echoed(part.strip())} should look like priority=duration, e.g. high=30m")
        if name in targets:
            raise ValueError(f"priority {echoed(name)} is given twice")
        targets[name] = parse_duration(value, longest=MAX_TARGET, of="a first-response target")
    if not targets:
        raise ValueError("no targets given; expected e.g. high=30m,normal=2h,low=8h")
    return targets


def _hhmm(text: str) -> time | None:
    """'09:00' → time; '24:00' → None (end of day)."""
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", text)
    if not m:
        raise ValueError(f"{echoed(text)} is not a time like 09:00")
    hour, minute = int(m[1]), int(m[2])
    if (hour, minute) == (24, 0):
        return None
    if hour > 23 or minute > 59:
        raise ValueError(f"{echoed(text)} is not a time of day")
    return time(hour, minute)


def _days(text: str) -> frozenset[int]:
    days: set[int] = set()
    for part in text.lower().split(","):
        first, _, last = part.strip().partition("-")
        if first[:3] not in DAYS or (last and last[:3] not in DAYS):
            raise ValueError(f"{echoed(part.strip())} is not a day or a range like Mon-Fri")
        a = DAYS.index(first[:3])
        b = DAYS.index(last[:3]) if last else a
        i = a
        while True:  # ranges may wrap: Sun-Thu
            days.add(i)
            if i == b:
                break
            i = (i + 1) % 7
    return frozenset(days)


@dataclass(frozen=True)
class BusinessHours:
    """Working days and hours in one time zone, e.g. 'Mon-Fri 09:00-17:00 Europe/Berlin'."""

    days: frozenset[int]  # 0 = Monday
    start: time
    end: time | None  # None: midnight at the end of the day
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))

    @classmethod
    def parse(cls, text: str) -> BusinessHours:
        words = text.split()
        if len(words) not in (2, 3):
            raise ValueError(f"{echoed(text)} should look like 'Mon-Fri 09:00-17:00 Europe/Berlin'")
        days = _days(words[0])
        start_text, sep, end_text = words[1].partition("-")
        if not sep:
            raise ValueError(f"{echoed(words[1])} should look like 09:00-17:00")
        start, end = _hhmm(start_text), _hhmm(end_text)
        if start is None or (end is not None and end <= start):
            raise ValueError(f"{echoed(words[1])}: the end must be after the start (same day)")
        try:
            tz = ZoneInfo(words[2]) if len(words) == 3 else ZoneInfo("UTC")
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{echoed(words[2])} is not a time zone name like Europe/Berlin") from None
        return cls(days=days, start=start, end=end, tz=tz)

    def windows(self, since: datetime) -> Any:
        """(start, end) of each working window, in UTC, from the day `since` falls on."""
        day: date = since.astimezone(self.tz).date() - timedelta(days=1)  # a window may start the day before in UTC
        for _ in range(_MAX_DAYS_SCANNED):
            if day.weekday() in self.days:
                # Wall-clock times in the zone, then UTC: zoneinfo picks the right offset each day.
                opens = datetime.combine(day, self.start, self.tz).astimezone(UTC)
                closes = (datetime.combine(day, self.end, self.tz) if self.end is not None
                          else datetime.combine(day + timedelta(days=1), time(0), self.tz)).astimezone(UTC)
                yield opens, closes
            day += timedelta(days=1)

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The moment `duration` of working time after `start`."""
        remaining = duration
        for opens, closes in self.windows(start):
            begin = max(opens, start)
            if begin >= closes:
                continue
            if remaining <= closes - begin:
                return begin + remaining
            remaining -= closes - begin
        raise ValueError("business hours never open")

    def next_open(self, at: datetime) -> datetime:
        """`at` itself when it falls inside business hours, else the moment they next open.

        Quiet hours are the rest of the week: what comes due in them waits for this (jobs.notices).
        """
        at = at.astimezone(UTC)
        for opens, closes in self.windows(at):
            if closes > at:
                return max(opens, at)
        raise ValueError("business hours never open")

    def is_open(self, at: datetime) -> bool:
        return self.next_open(at) == at.astimezone(UTC)

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Working time from `start` to `end` (zero when end <= start)."""
        total = timedelta(0)
        if end <= start:
            return total
        for opens, closes in self.windows(start):
            if opens >= end:
                break
            begin, finish = max(opens, start), min(closes, end)
            if finish > begin:
                total += finish - begin
        return total


@dataclass(frozen=True)
class Policy:
    targets: Mapping[str, timedelta]
    at_risk: float = 0.75  # fraction of the target after which the case is "at risk"
    business_hours: BusinessHours | None = None
    # Per-rule targets (rule id -> priority -> target), over `targets` for that rule's cases.
    rule_targets: Mapping[int, Mapping[str, timedelta]] = field(default_factory=dict)

    def target(self, priority: str, rule_id: int | None = None) -> timedelta | None:
        own = self.rule_targets.get(rule_id, {}) if rule_id is not None else {}
        return own.get(priority, self.targets.get(priority))

    def with_rule_targets(self, specs: Mapping[int, str]) -> Policy:
        """This policy with the rules' own targets (rule id -> "high=15m,normal=1h")."""
        return replace(self, rule_targets={rid: parse_targets(spec) for rid, spec in specs.items()})

    @property
    def priorities(self) -> set[str]:
        """Every priority that has a target somewhere."""
        return set(self.targets).union(*(t.keys() for t in self.rule_targets.values()))

    @property
    def shortest(self) -> timedelta | None:
        """The shortest target anywhere: nothing opened less than its at-risk share ago can be due."""
        every = [*self.targets.values(), *(v for t in self.rule_targets.values() for v in t.values())]
        return min(every) if every else None

    def _after(self, start: datetime, duration: timedelta) -> datetime:
        start = start.astimezone(UTC)
        return self.business_hours.add(start, duration) if self.business_hours else start + duration

    def remaining(self, now: datetime, due: datetime) -> timedelta:
        """Clock time left until `due` (working time when business hours are set)."""
        if self.business_hours:
            return self.business_hours.between(now.astimezone(UTC), due)
        return max(due - now, timedelta(0))


def deadline(opened_at: datetime, priority: str, policy: Policy, rule_id: int | None = None) -> datetime | None:
    """When the first reply is due; None for a priority without a target."""
    target = policy.target(priority, rule_id)
    return None if target is None else policy._after(opened_at, target)


def at_risk_from(opened_at: datetime, priority: str, policy: Policy, rule_id: int | None = None) -> datetime | None:
    """When the case becomes "at risk" (the policy's fraction of the target elapsed)."""
    target = policy.target(priority, rule_id)
    return None if target is None else policy._after(opened_at, target * policy.at_risk)


def clock_start(case: Any) -> datetime:
    """When the case's first-response clock started: its opening, or its last reopen."""
    return getattr(case, "sla_started_at", None) or case.opened_at


def answered_at(case: Any) -> datetime | None:
    """The reply that answered the current clock (a reopen asks for a new one)."""
    return case.responded_at if hasattr(case, "responded_at") else case.first_response_at


def case_deadline(case: Any, policy: Policy) -> datetime | None:
    """`deadline` for a case (CaseRow): from its clock's start, by its priority and rule."""
    return deadline(clock_start(case), case.priority, policy, getattr(case, "rule_id", None))


def state(case: Any, now: datetime, policy: Policy) -> State:
    """Where a case (CaseRow: opened_at, priority, status, responded_at, sla_started_at) stands.

    The clock runs from `clock_start` (a reopen starts it again) to `answered_at`.
    "met": answered in time, or closed (resolved/ignored) without a reply before it was
    ever breached, or no target for its priority; "breached": answered late, or still
    waiting past the deadline (or a breach was already recorded); "at_risk": waiting
    and past the at-risk point; "ok": waiting, with time left.
    """
    due = case_deadline(case, policy)
    if due is None:
        return "met"
    first = answered_at(case)
    if first is not None:
        return "met" if first <= due else "breached"
    status = getattr(case.status, "value", case.status)
    if status not in OPEN_STATUSES:
        return "breached" if getattr(case, "sla_breached_at", None) else "met"
    if now >= due:
        return "breached"
    risk = at_risk_from(clock_start(case), case.priority, policy, getattr(case, "rule_id", None))
    return "at_risk" if risk is not None and now >= risk else "ok"
