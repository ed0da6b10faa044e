"""Digest figures for one period, computed from the case history (case_events).

Periods (store.periods, re-exported here) are local calendar days or weeks in the
team's time zone, or today so far. An event counts in a period when `start <= at < end`. The figures count cases,
not events: a case claimed twice in the period is one case claimed (for the agent too), a
case with a reply sent and one marked as sent one case replied to, and a case resolved twice
one case resolved, its time to resolve running to its last resolution in the period.

Percentiles are exact, by the nearest-rank method: the p-th percentile of n
sorted values is the value at rank ceil(p/100 * n) (1-based). The median is the
50th percentile by that rule, i.e. the lower middle value for an even n. An empty
sample has no percentile (None).

Everything is counted by the database (store.figure_counts), a handful of aggregate
queries whose results are a few rows each: the cost grows with the period's events
but nothing is loaded per event, and the results are the same on SQLite and PostgreSQL
(durations are whole microseconds in SQL, as Python's timedeltas are).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import Session, col, select

from socialdesk.domain import CaseStatus
from socialdesk.store import figure_counts as counts
from socialdesk.store import incidents
from socialdesk.store.figure_counts import nearest_rank
from socialdesk.store.models import AuthorRow, CaseRow, PostRow, RuleRow
from socialdesk.store.periods import Period, PeriodKind, period, period_info, previous  # noqa: F401  (re-exported)

TOP_AUTHORS = 5
OLDEST_UNCLAIMED = 5
SENTIMENTS = ("negative", "neutral", "positive", "unknown")
# Event kinds as stored in case_events.kind (strings: "sla_breached" need not be an EventKind yet).
OPENED, CLAIMED, RESOLVED, IGNORED, SLA_BREACHED = "opened", "claimed", "resolved", "ignored", "sla_breached"
REPLY_KINDS = ("reply_sent", "marked_replied")
COUNTED_KINDS = (OPENED, CLAIMED, *REPLY_KINDS, RESOLVED, IGNORED, SLA_BREACHED)
# A case with a reply sent and another marked as sent (by hand) is one case replied to.
REPLIED = REPLY_KINDS[0]
FOLD = {REPLY_KINDS[1]: REPLIED}


# -- figures ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spread:
    """Durations in seconds: how many, the median and the 90th percentile (nearest rank)."""

    count: int = 0
    median: float | None = None
    p90: float | None = None


@dataclass(frozen=True)
class AgentFigures:
    actor: str  # a Slack user id, or "system"
    claims: int = 0
    replies: int = 0
    resolves: int = 0


@dataclass(frozen=True)
class RuleFigures:
    rule_id: int | None
    label: str
    opened: int = 0
    resolved: int = 0


@dataclass(frozen=True)
class AuthorFigures:
    network: str
    handle: str
    posts: int


@dataclass(frozen=True)
class UnclaimedCase:
    case_id: int
    opened_at: datetime
    network: str
    channel_id: str
    message_ts: str | None
    priority: str


@dataclass(frozen=True)
class Figures:
    """Cases (not events) in [start, end); the backlog now is apart (Backlog)."""

    start: datetime
    end: datetime
    opened: int = 0
    claimed: int = 0
    replied: int = 0  # cases with a reply sent or marked as sent
    resolved: int = 0
    ignored: int = 0
    sla_breached: int = 0
    first_response: Spread = Spread()
    time_to_resolve: Spread = Spread()
    agents: list[AgentFigures] = field(default_factory=list)  # most active first
    rules: list[RuleFigures] = field(default_factory=list)  # most opened first
    sentiment: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SENTIMENTS, 0))
    hourly: list[int] = field(default_factory=list)  # opened per local hour: 24 (day) or 7×24 (week)
    top_authors: list[AuthorFigures] = field(default_factory=list)
    incidents: int = 0  # storms opened in the period (store.incidents) …
    incident_posts: int = 0  # … and the posts (cases) in them


@dataclass(frozen=True)
class Backlog:
    """The cases waiting for an agent now (new or reopened), whatever period a digest is of:
    how many, and the oldest few."""

    waiting: int = 0
    oldest: list[UnclaimedCase] = field(default_factory=list)


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile: the value at 1-based rank ceil(p/100 * n) of the sorted values."""
    if not values:
        return None
    return sorted(values)[nearest_rank(p, len(values)) - 1]


def spread(seconds: list[float]) -> Spread:
    return Spread(count=len(seconds), median=percentile(seconds, 50), p90=percentile(seconds, 90))


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def figures(*, session: Session, start: datetime, end: datetime, tz: ZoneInfo | None = None) -> Figures:
    """Every digest figure for [start, end). `tz` (default UTC) only places the hourly volume."""
    tz = tz or ZoneInfo("UTC")
    start, end = _utc(start), _utc(end)
    # Cases, not events: the events counted, less the repeats (a case claimed twice is one).
    repeated = counts.repeats(session, start, end, COUNTED_KINDS, fold=FOLD, rule_kinds=(OPENED, RESOLVED))
    kinds: Counter[str] = Counter()
    by_actor: dict[str, Counter[str]] = {}
    for kind, actor, n in counts.events_by_kind_and_actor(session, start, end, COUNTED_KINDS):
        kind = FOLD.get(kind, kind)
        kinds[kind] += n
        by_actor.setdefault(actor, Counter())[kind] += n
    kinds.subtract(repeated.by_kind)
    for (kind, actor), extra in repeated.by_actor.items():
        by_actor[actor][kind] -= extra
    return Figures(
        start=start,
        end=end,
        opened=kinds[OPENED],
        claimed=kinds[CLAIMED],
        replied=kinds[REPLIED],
        resolved=kinds[RESOLVED],
        ignored=kinds[IGNORED],
        sla_breached=kinds[SLA_BREACHED],
        first_response=_spread(session, counts.first_response_micros(session, start, end),
                               counts.first_responses(session, start, end)),
        # Each resolved case once, from its opening to its last resolution in the period.
        time_to_resolve=_spread(session, counts.resolve_micros(session, start, end, RESOLVED), kinds[RESOLVED]),
        agents=_agents(by_actor),
        **_rules_and_sentiment(session, start, end, repeated.by_rule),
        hourly=_hourly(session, start=start, end=end, tz=tz),
        top_authors=_top_authors(session, start, end),
        **dict(zip(("incidents", "incident_posts"), incidents.storm_counts(session=session, start=start, end=end))),
    )


def _spread(session: Session, durations, n: int) -> Spread:  # type: ignore[no-untyped-def]
    if n == 0:
        return Spread()
    median, p90 = nearest_rank(50, n), nearest_rank(90, n)
    values = counts.ranked_seconds(session, durations, (median, p90))
    return Spread(count=n, median=values[median], p90=values[p90])


def _agents(by_actor: dict[str, Counter[str]]) -> list[AgentFigures]:
    """Per agent, the cases they claimed, replied to and resolved (a case twice is one)."""
    rows = [
        AgentFigures(actor, n[CLAIMED], n[REPLIED], n[RESOLVED])
        for actor, n in by_actor.items()
        if n[CLAIMED] or n[RESOLVED] or n[REPLIED]
    ]
    return sorted(rows, key=lambda r: (-(r.claims + r.replies + r.resolves), r.actor))


def _rules_and_sentiment(session: Session, start: datetime, end: datetime,
                         repeated: Counter[tuple[str, int | None, str]]) -> dict:  # type: ignore[type-arg]
    """The rule table (cases opened and resolved, by the case's rule) and the sentiment mix of
    the cases opened, from one pass over the period's opened and resolved events, less the
    repeats (counts.repeats)."""
    opened: Counter[int | None] = Counter()
    resolved: Counter[int | None] = Counter()
    mix = dict.fromkeys(SENTIMENTS, 0)
    for kind, rule_id, sentiment, n in counts.by_rule_and_sentiment(session, start, end, (OPENED, RESOLVED)):
        n -= repeated[(kind, rule_id, sentiment)]
        if kind == OPENED:
            opened[rule_id] += n
            mix[sentiment] += n
        else:
            resolved[rule_id] += n
    ids = {r for r in set(opened) | set(resolved) if r is not None}
    labels: dict[int | None, str] = {None: "no rule"}
    if ids:
        for rid, network, query in session.exec(
            select(RuleRow.id, RuleRow.network, RuleRow.query).where(col(RuleRow.id).in_(ids))
        ).all():
            labels[rid] = f"{network}: {query}"
    rows = [
        RuleFigures(r, labels.get(r, f"rule {r}"), opened[r], resolved[r]) for r in set(opened) | set(resolved)
    ]
    rules = sorted(rows, key=lambda r: (-r.opened, -r.resolved, r.rule_id if r.rule_id is not None else math.inf))
    return {"rules": rules, "sentiment": mix}


def _hourly(session: Session, *, start: datetime, end: datetime, tz: ZoneInfo) -> list[int]:
    """Opened cases per local hour of each local day: 24 slots per day.

    On a 25-hour day the repeated hour's two halves share one slot; on a 23-hour day
    the skipped hour's slot stays 0. Counted in the database range by range: each slot
    is the UTC ranges whose instants all fall in that local hour (hour_ranges).
    """
    slots, ranges = hour_ranges(start, end, tz)
    hourly = [0] * slots
    for (_, _, slot), n in zip(ranges, counts.events_in_ranges(session, OPENED, [(lo, hi) for lo, hi, _ in ranges])):
        hourly[slot] += n
    return hourly


def hour_ranges(start: datetime, end: datetime, tz: ZoneInfo) -> tuple[int, list[tuple[datetime, datetime, int]]]:
    """(slots, [(lo, hi, slot)]): [start, end) cut into UTC ranges that each lie in one local hour slot.

    Slot = local days since the first local day × 24 + the local hour, as an event at that
    instant is placed. Cut at every quarter hour of UTC (zone offsets are whole quarter hours,
    so a quarter hour is in one slot; one that is not, in an odd historical offset, is halved
    until its parts are), then neighbours in the same slot are joined: a day is about 24 ranges.
    Ranges outside the slots (an end past the last whole local day) are left out.
    """
    first = start.astimezone(tz).date()
    slots = 24 * max(1, (end.astimezone(tz).date() - first).days)

    def slot(at: datetime) -> int:
        local = at.astimezone(tz)
        return (local.date() - first).days * 24 + local.hour

    def uniform(lo: datetime, hi: datetime) -> bool:
        last = hi - _TICK
        return slot(lo) == slot(last) and lo.astimezone(tz).utcoffset() == last.astimezone(tz).utcoffset()

    def cut(lo: datetime, hi: datetime) -> list[tuple[datetime, datetime]]:
        if hi - lo <= _TICK or uniform(lo, hi):
            return [(lo, hi)]
        middle = lo + (hi - lo) // 2
        return cut(lo, middle) + cut(middle, hi)

    ranges: list[tuple[datetime, datetime, int]] = []
    lo = start
    while lo < end:
        hi = min(end, _EPOCH + (lo - _EPOCH) // _QUARTER * _QUARTER + _QUARTER)
        for a, b in cut(lo, hi):
            s = slot(a)
            if ranges and ranges[-1][2] == s and ranges[-1][1] == a:
                ranges[-1] = (ranges[-1][0], b, s)
            else:
                ranges.append((a, b, s))
        lo = hi
    return slots, [r for r in ranges if 0 <= r[2] < slots]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_QUARTER = timedelta(minutes=15)
_TICK = timedelta(microseconds=1)


def _top_authors(session: Session, start: datetime, end: datetime) -> list[AuthorFigures]:
    """Authors with the most posts created in the period (ties: by handle), counted in SQL."""
    posts = func.count(col(PostRow.id))
    rows = session.exec(
        select(AuthorRow.network, AuthorRow.handle, posts)
        .join(AuthorRow, col(AuthorRow.id) == col(PostRow.author_id))
        .where(PostRow.created_at >= start, PostRow.created_at < end)
        .group_by(col(AuthorRow.id), col(AuthorRow.network), col(AuthorRow.handle))
        .order_by(posts.desc(), func.lower(col(AuthorRow.handle)), col(AuthorRow.id))
        .limit(TOP_AUTHORS)
    ).all()
    return [AuthorFigures(net, handle, int(n)) for net, handle, n in rows]


WAITING = (CaseStatus.NEW.value, CaseStatus.REOPENED.value)


def backlog(*, session: Session, limit: int = OLDEST_UNCLAIMED) -> Backlog:
    """The backlog as it is now: counted in the index `cases (status, opened_at)` (no case row is
    read for the count: a priority split would read every waiting case), then the oldest few."""
    waiting = session.exec(select(func.count()).select_from(CaseRow).where(col(CaseRow.status).in_(WAITING))).one()
    return Backlog(waiting=int(waiting), oldest=_oldest_unclaimed(session, limit=limit))


def _oldest_unclaimed(session: Session, *, limit: int = OLDEST_UNCLAIMED) -> list[UnclaimedCase]:
    """The cases waiting for an agent now (new or reopened), oldest first.

    One query per status, each reading `cases (status, opened_at)` in order and stopping after
    a few rows: with both statuses in one IN list PostgreSQL fetches every waiting case and sorts.
    """
    rows = [
        case_row
        for status in WAITING
        for case_row in session.exec(
            select(CaseRow)
            .where(CaseRow.status == status)
            .order_by(CaseRow.opened_at, CaseRow.id)
            .limit(limit)
        ).all()
    ]
    rows = sorted(rows, key=lambda c: (_utc(c.opened_at), c.id))[:limit]
    return [
        UnclaimedCase(c.id, _utc(c.opened_at), c.network, c.channel_id, c.message_ts, c.priority)  # type: ignore[arg-type]
        for c in rows
    ]
