"""Figures counted in SQL against the Python counting they replaced (SQLite and PostgreSQL).

`reference()` is the previous store.figures: it loads every counted event of the period
and counts in Python — cases, not events (each (kind, case) once; a reply sent and one
marked as sent are one reply; a case's time to resolve runs to its last resolution in
the period). For random case histories (seeded) around daylight-saving days,
in zones with whole, half and three-quarter hour offsets, both must give the same
Figures, field by field: counts, agent and rule tables in order, the sentiment mix, the
hourly slots, the exact percentiles.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, col, select

from socialdesk.listeners.commands import period_bounds
from socialdesk.store.figures import (
    COUNTED_KINDS,
    OPENED,
    RESOLVED,
    AgentFigures,
    Figures,
    RuleFigures,
    _top_authors,
    figures,
    hour_ranges,
    period,
    previous,
    spread,
)
from socialdesk.store.models import AuthorRow, CaseEventRow, CaseRow, PostRow, RuleRow
from socialdesk.triage.sentiment import sentiment_label

BERLIN, KOLKATA, KATHMANDU, UTCZ = (ZoneInfo(z) for z in ("Europe/Berlin", "Asia/Kolkata", "Asia/Kathmandu", "UTC"))
SPRING, FALL = datetime(2026, 3, 30, 8, tzinfo=UTC), datetime(2026, 10, 26, 9, tzinfo=UTC)  # the mornings after
KINDS = [*COUNTED_KINDS, "note", "reopened", "tagged"]
ACTORS = ["UA", "UB", "UC", "system"]


# -- the previous implementation, kept as the reference ---------------------------------------


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def reference(session: Session, start: datetime, end: datetime, tz: ZoneInfo) -> Figures:
    events = session.exec(
        select(CaseEventRow.case_id, CaseEventRow.kind, CaseEventRow.actor, CaseEventRow.at)
        .where(CaseEventRow.at >= start, CaseEventRow.at < end, col(CaseEventRow.kind).in_(COUNTED_KINDS))
        .order_by(CaseEventRow.at, CaseEventRow.id)
    ).all()
    fold = {"marked_replied": "reply_sent"}
    events = [(cid, fold.get(kind, kind), actor, at) for cid, kind, actor, at in events]
    kinds = Counter(kind for kind, _ in {(kind, cid) for cid, kind, _, _ in events})
    in_period = select(CaseEventRow.case_id).where(
        CaseEventRow.at >= start, CaseEventRow.at < end, col(CaseEventRow.kind).in_((OPENED, RESOLVED)))
    cases = {cid: (_utc(o), s, r) for cid, o, s, r in session.exec(
        select(CaseRow.id, CaseRow.opened_at, CaseRow.sentiment, CaseRow.rule_id).where(col(CaseRow.id).in_(in_period))
    ).all()}
    last_resolved = {}
    for cid, kind, _, at in events:  # in time order: the last one stays
        if kind == RESOLVED and cid in cases:
            last_resolved[cid] = _utc(at)
    to_resolve = [(at - cases[cid][0]).total_seconds() for cid, at in last_resolved.items()]
    first_responses = [(_utc(fr) - _utc(o)).total_seconds() for o, fr in session.exec(
        select(CaseRow.opened_at, CaseRow.first_response_at).where(
            CaseRow.first_response_at >= start, CaseRow.first_response_at < end)).all()]

    claims, replies, resolves = Counter(), Counter(), Counter()
    for _, kind, actor in {(cid, kind, actor) for cid, kind, actor, _ in events}:
        {"claimed": claims, "reply_sent": replies, "resolved": resolves}.get(kind, Counter())[actor] += 1
    agents = sorted((AgentFigures(a, claims[a], replies[a], resolves[a]) for a in set(claims) | set(replies) | set(resolves)),
                    key=lambda r: (-(r.claims + r.replies + r.resolves), r.actor))

    opened, resolved = Counter(), Counter()
    mix = dict.fromkeys(("negative", "neutral", "positive", "unknown"), 0)
    for cid, kind in {(cid, kind) for cid, kind, _, _ in events}:
        if cid in cases and kind == OPENED:
            opened[cases[cid][2]] += 1
            mix[sentiment_label(cases[cid][1])] += 1
        elif cid in cases and kind == RESOLVED:
            resolved[cases[cid][2]] += 1
    labels = {r.id: f"{r.network}: {r.query}" for r in session.exec(select(RuleRow)).all()} | {None: "no rule"}
    rules = sorted((RuleFigures(r, labels.get(r, f"rule {r}"), opened[r], resolved[r]) for r in set(opened) | set(resolved)),
                   key=lambda r: (-r.opened, -r.resolved, r.rule_id if r.rule_id is not None else math.inf))

    first = start.astimezone(tz).date()
    hourly = [0] * (24 * max(1, (end.astimezone(tz).date() - first).days))
    placed = set()
    for cid, kind, _, at in events:
        local = _utc(at).astimezone(tz)
        index = (local.date() - first).days * 24 + local.hour
        if kind == OPENED and 0 <= index < len(hourly) and (cid, index) not in placed:  # a case once an hour
            placed.add((cid, index))
            hourly[index] += 1

    return Figures(start=start, end=end, opened=kinds["opened"], claimed=kinds["claimed"],
                   replied=kinds["reply_sent"], resolved=kinds["resolved"],
                   ignored=kinds["ignored"], sla_breached=kinds["sla_breached"],
                   first_response=spread(first_responses), time_to_resolve=spread(to_resolve), agents=agents,
                   rules=rules, sentiment=mix, hourly=hourly, top_authors=_top_authors(session, start, end))


# -- random histories -------------------------------------------------------------------------


def periods() -> list[tuple[str, datetime, datetime, ZoneInfo]]:
    found = []
    for name, tz in [("Berlin", BERLIN), ("Kolkata", KOLKATA), ("Kathmandu", KATHMANDU), ("UTC", UTCZ)]:
        for morning in (SPRING, FALL):
            for kind in ("day", "week"):
                start, end = period(kind, now=morning, tz=tz)
                found.append((f"{name} {kind} before {morning:%d %b}", start, end, tz))
                found.append((f"{name} {kind} before that", *previous(start, end, tz=tz), tz))
        # `/social stats 7d` ends now, in the middle of a local day.
        found.append((f"{name} stats 7d", *period_bounds("7d", FALL + timedelta(hours=3, seconds=17.25), tz), tz))
    found.append(("empty", datetime(2025, 6, 1, tzinfo=UTC), datetime(2025, 6, 2, tzinfo=UTC), UTCZ))
    return found


def instant(rng: random.Random, around: datetime) -> datetime:
    """Near a DST change, often on a whole hour or quarter (boundaries), else to the microsecond."""
    at = around + timedelta(seconds=rng.uniform(-9 * 86400, 4 * 86400))
    if rng.random() < 0.3:
        return at.replace(minute=rng.choice((0, 15, 30, 45)), second=0, microsecond=0)
    if rng.random() < 0.2:  # a fraction SQLite's date functions would round up to the next second
        return at.replace(microsecond=rng.choice((999_500, 999_700, 999_999)))
    return at


def seed_history(session: Session, rng: random.Random, n_cases: int = 250) -> None:
    rules = [RuleRow(network="x", query=f"acme {i}", channel_id="C1", created_at=datetime(2026, 1, 1, tzinfo=UTC))
             for i in range(3)]
    author = AuthorRow(network="x", external_id="a1", handle="dana", name="Dana", updated_at=datetime(2026, 1, 1, tzinfo=UTC))
    session.add_all([*rules, author])
    session.flush()
    tied = [timedelta(minutes=10), timedelta(hours=1), timedelta(seconds=0.5)]  # equal durations: ties
    cases = []
    for _ in range(n_cases):
        opened = instant(rng, rng.choice((SPRING, FALL)))
        fr = None
        if rng.random() < 0.6:
            fr = opened + (rng.choice(tied) if rng.random() < 0.3 else timedelta(seconds=rng.uniform(0, 2 * 86400)))
            if rng.random() < 0.2:
                fr = fr.replace(microsecond=999_800)
        cases.append(CaseRow(
            network="x", channel_id="C1", opened_at=opened, updated_at=opened, first_response_at=fr,
            status=rng.choice(("new", "claimed", "resolved", "reopened", "ignored")),
            rule_id=rng.choice([r.id for r in rules] + [None]),
            sentiment=rng.choice((None, -0.05, 0.05, 0.0, -0.0499999, 0.0499999, rng.uniform(-1, 1)))))
    session.add_all(cases)
    session.flush()
    events = []
    for case in cases:
        events.append(CaseEventRow(case_id=case.id, kind="opened", actor="system", at=case.opened_at))
        for _ in range(rng.randint(0, 6)):
            if rng.random() < 0.3:
                at = case.opened_at + rng.choice(tied)
            else:
                at = case.opened_at + timedelta(seconds=rng.uniform(0, 3 * 86400))
            events.append(CaseEventRow(case_id=case.id, kind=rng.choice(KINDS), actor=rng.choice(ACTORS), at=at))
    if rng.random() < 0.5:  # a case opened twice in its history (an import, a replay)
        events.append(CaseEventRow(case_id=cases[0].id, kind="opened", actor="system", at=cases[0].opened_at + timedelta(hours=1)))
    posts = [PostRow(network="x", external_id=f"p{i}", url=f"https://x.com/p/{i}", author_id=author.id, text="hi",
                     created_at=c.opened_at, fetched_at=c.opened_at, case_id=c.id) for i, c in enumerate(cases[:40])]
    session.add_all(events + posts)
    session.commit()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sql_figures_equal_the_python_counting(engine, seed):
    with Session(engine) as session:
        seed_history(session, random.Random(seed))
    with Session(engine) as session:
        checked = 0
        for name, start, end, tz in periods():
            got = figures(session=session, start=start, end=end, tz=tz)
            want = reference(session, start, end, tz)
            assert got == want, name
            checked += bool(want.opened)
        assert checked >= len(periods()) - 3  # the fixture reaches nearly every period (not a vacuous pass)


def test_an_empty_database_gives_empty_figures_for_every_period(engine):
    with Session(engine) as session:
        for name, start, end, tz in periods():
            assert figures(session=session, start=start, end=end, tz=tz) == reference(session, start, end, tz), name


# -- hour ranges (no database) ----------------------------------------------------------------


@pytest.mark.parametrize("tz, morning", [(BERLIN, SPRING), (BERLIN, FALL), (KOLKATA, FALL), (KATHMANDU, SPRING),
                                         (ZoneInfo("Australia/Lord_Howe"), datetime(2026, 4, 6, tzinfo=UTC)),
                                         # +00:19:32 then: quarter hours straddle local hours and are halved
                                         (ZoneInfo("Europe/Amsterdam"), datetime(1937, 7, 2, tzinfo=UTC))])
def test_hour_ranges_place_every_instant_in_its_local_hour(tz, morning):
    start, end = period("week", now=morning, tz=tz)
    slots, ranges = hour_ranges(start, end, tz)
    first = start.astimezone(tz).date()
    assert ranges[0][0] == start and ranges[-1][1] == end
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))  # contiguous, nothing counted twice
    assert slots == 7 * 24 and len(ranges) <= slots + 2
    rng = random.Random(5)
    for lo, hi, slot in ranges:
        for at in (lo, hi - timedelta(microseconds=1), lo + (hi - lo) * rng.random()):
            local = at.astimezone(tz)
            assert (local.date() - first).days * 24 + local.hour == slot


def test_hour_ranges_leave_out_what_is_past_the_last_slot():
    # `/social stats today` ends now; a 30-day window's last (partial) day has no slots.
    start, end = period_bounds("7d", datetime(2026, 10, 26, 12, 7, tzinfo=UTC), BERLIN)
    slots, ranges = hour_ranges(start, end, BERLIN)
    assert slots == 6 * 24 and ranges[-1][2] == slots - 1
    assert ranges[-1][1] == datetime(2026, 10, 25, 23, tzinfo=UTC)  # Berlin's midnight, the end of slot 143
