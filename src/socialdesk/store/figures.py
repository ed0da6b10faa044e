"""Digest figures for one period, computed from the case history (case_events).

Periods are local calendar days or weeks (Monday to Monday) in the team's time
zone, turned into UTC instants only at their boundaries: a day with a daylight-
saving change is 23 or 25 hours long and still holds exactly the events of that
local day. An event counts in a period when `start <= at < end`.

Percentiles are exact, by the nearest-rank method: the p-th percentile of n
sorted values is the value at rank ceil(p/100 * n) (1-based). The median is the
50th percentile by that rule, i.e. the lower middle value for an even n. An empty
sample has no percentile (None).

Everything is computed in Python from a handful of queries: at the scale of a
support team's week (thousands of events) that is cheap, and it gives identical
results on SQLite and PostgreSQL.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import Session, col, select

from socialdesk.domain import CaseStatus
from socialdesk.store.models import AuthorRow, CaseEventRow, CaseRow, PostRow, RuleRow
from socialdesk.triage import sentiment_label

PeriodKind = Literal["day", "week"]
TOP_AUTHORS = 5
OLDEST_UNCLAIMED = 5
SENTIMENTS = ("negative", "neutral", "positive", "unknown")
# Event kinds as stored in case_events.kind (strings: "sla_breached" need not be an EventKind yet).
OPENED, CLAIMED, RESOLVED, IGNORED, SLA_BREACHED = "opened", "claimed", "resolved", "ignored", "sla_breached"
REPLY_KINDS = ("reply_sent", "marked_replied")
COUNTED_KINDS = (OPENED, CLAIMED, *REPLY_KINDS, RESOLVED, IGNORED, SLA_BREACHED)


# -- periods ---------------------------------------------------------------------------------


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
        """"Mon 30 Mar 2026" for a day, "23 Mar – 29 Mar 2026" for a week (local dates)."""
        first = self.first_day
        if self.kind == "day":
            return first.strftime("%a %-d %b %Y")
        last = first + timedelta(days=6)
        return f"{first.strftime('%-d %b')} – {last.strftime('%-d %b %Y')}"


def _local_midnight_utc(day: date, tz: ZoneInfo) -> datetime:
    # Midnight exists in every zone we care about; where a zone skips midnight itself,
    # fold=0 gives the instant just after the gap, which is still the day's start.
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def period(kind: PeriodKind, *, now: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The last complete local day or week (weeks start on Monday) before `now`, in UTC."""
    return period_info(kind, now=now, tz=tz)[1:]  # type: ignore[return-value]


def period_info(kind: PeriodKind, *, now: datetime, tz: ZoneInfo) -> tuple[Period, datetime, datetime]:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    today = now.astimezone(tz).date()
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

    Computed on local dates, so the day before a 23-hour day is 24 hours long.
    """
    first, last = start.astimezone(tz).date(), end.astimezone(tz).date()
    days = (last - first).days
    prev_first = first - timedelta(days=days)
    return _local_midnight_utc(prev_first, tz), start


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
    start: datetime
    end: datetime
    opened: int = 0
    claimed: int = 0
    replied: int = 0  # reply_sent + marked_replied
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
    oldest_unclaimed: list[UnclaimedCase] = field(default_factory=list)


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile: the value at 1-based rank ceil(p/100 * n) of the sorted values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def spread(seconds: list[float]) -> Spread:
    return Spread(count=len(seconds), median=percentile(seconds, 50), p90=percentile(seconds, 90))


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def figures(*, session: Session, start: datetime, end: datetime, tz: ZoneInfo | None = None) -> Figures:
    """Every digest figure for [start, end). `tz` (default UTC) only places the hourly volume."""
    tz = tz or ZoneInfo("UTC")
    events = session.exec(
        select(CaseEventRow.case_id, CaseEventRow.kind, CaseEventRow.actor, CaseEventRow.at)
        .where(CaseEventRow.at >= start, CaseEventRow.at < end, col(CaseEventRow.kind).in_(COUNTED_KINDS))
        .order_by(CaseEventRow.at, CaseEventRow.id)
    ).all()
    kinds = Counter(kind for _, kind, _, _ in events)

    # The cases opened or resolved in the period, by a subquery: an IN list of ids would
    # hit PostgreSQL's 65,535 bound parameters on a busy month.
    in_period = select(CaseEventRow.case_id).where(
        CaseEventRow.at >= start, CaseEventRow.at < end, col(CaseEventRow.kind).in_((OPENED, RESOLVED)))
    cases: dict[int, tuple[datetime, float | None, int | None]] = {
        cid: (_utc(opened_at), sentiment, rule_id)
        for cid, opened_at, sentiment, rule_id in session.exec(
            select(CaseRow.id, CaseRow.opened_at, CaseRow.sentiment, CaseRow.rule_id)
            .where(col(CaseRow.id).in_(in_period))
        ).all()
    }

    # Time to resolve: every resolved event in the period, from the case's opening.
    to_resolve = [
        (_utc(at) - cases[cid][0]).total_seconds()
        for cid, kind, _, at in events
        if kind == RESOLVED and cid in cases
    ]
    # First response: cases whose first response falls in the period.
    first_responses = [
        (_utc(fr) - _utc(opened)).total_seconds()
        for opened, fr in session.exec(
            select(CaseRow.opened_at, CaseRow.first_response_at).where(
                CaseRow.first_response_at >= start, CaseRow.first_response_at < end
            )
        ).all()
    ]

    return Figures(
        start=start,
        end=end,
        opened=kinds[OPENED],
        claimed=kinds[CLAIMED],
        replied=sum(kinds[k] for k in REPLY_KINDS),
        resolved=kinds[RESOLVED],
        ignored=kinds[IGNORED],
        sla_breached=kinds[SLA_BREACHED],
        first_response=spread(first_responses),
        time_to_resolve=spread(to_resolve),
        agents=_agents(events),
        rules=_rules(session, events, cases),
        sentiment=_sentiment(events, cases),
        hourly=_hourly(events, start=start, end=end, tz=tz),
        top_authors=_top_authors(session, start, end),
        oldest_unclaimed=_oldest_unclaimed(session, end),
    )


def _agents(events) -> list[AgentFigures]:  # type: ignore[no-untyped-def]
    claims: Counter[str] = Counter()
    replies: Counter[str] = Counter()
    resolves: Counter[str] = Counter()
    for _, kind, actor, _ in events:
        if kind == CLAIMED:
            claims[actor] += 1
        elif kind in REPLY_KINDS:
            replies[actor] += 1
        elif kind == RESOLVED:
            resolves[actor] += 1
    actors = set(claims) | set(replies) | set(resolves)
    rows = [AgentFigures(a, claims[a], replies[a], resolves[a]) for a in actors]
    return sorted(rows, key=lambda r: (-(r.claims + r.replies + r.resolves), r.actor))


def _rules(session: Session, events, cases) -> list[RuleFigures]:  # type: ignore[no-untyped-def]
    opened: Counter[int | None] = Counter()
    resolved: Counter[int | None] = Counter()
    for cid, kind, _, _ in events:
        if cid not in cases:
            continue
        rule_id = cases[cid][2]
        if kind == OPENED:
            opened[rule_id] += 1
        elif kind == RESOLVED:
            resolved[rule_id] += 1
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
    return sorted(rows, key=lambda r: (-r.opened, -r.resolved, r.rule_id if r.rule_id is not None else math.inf))


def _sentiment(events, cases) -> dict[str, int]:  # type: ignore[no-untyped-def]
    mix = dict.fromkeys(SENTIMENTS, 0)
    for cid, kind, _, _ in events:
        if kind == OPENED and cid in cases:
            mix[sentiment_label(cases[cid][1])] += 1
    return mix


def _hourly(events, *, start: datetime, end: datetime, tz: ZoneInfo) -> list[int]:  # type: ignore[no-untyped-def]
    """Opened cases per local hour of each local day: 24 slots per day.

    On a 25-hour day the repeated hour's two halves share one slot; on a 23-hour day
    the skipped hour's slot stays 0.
    """
    first = _utc(start).astimezone(tz).date()
    days = max(1, (_utc(end).astimezone(tz).date() - first).days)
    slots = [0] * (24 * days)
    for _, kind, _, at in events:
        if kind != OPENED:
            continue
        local = _utc(at).astimezone(tz)
        index = (local.date() - first).days * 24 + local.hour
        if 0 <= index < len(slots):
            slots[index] += 1
    return slots


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


def _oldest_unclaimed(session: Session, end: datetime) -> list[UnclaimedCase]:
    """Cases waiting for an agent now (new or reopened) that were opened before the period ended."""
    rows = session.exec(
        select(CaseRow)
        .where(
            col(CaseRow.status).in_((CaseStatus.NEW.value, CaseStatus.REOPENED.value)),
            CaseRow.opened_at < end,
        )
        .order_by(CaseRow.opened_at, CaseRow.id)
        .limit(OLDEST_UNCLAIMED)
    ).all()
    return [
        UnclaimedCase(c.id, _utc(c.opened_at), c.network, c.channel_id, c.message_ts, c.priority)  # type: ignore[arg-type]
        for c in rows
    ]
