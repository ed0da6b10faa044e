"""Digest figures against hand-computed fixtures (SQLite and PostgreSQL).

Rows are inserted directly at chosen UTC instants; every expected number below was
worked out by hand from the fixture, not by running the code.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session

from socialdesk.store.figures import (
    AgentFigures,
    Backlog,
    AuthorFigures,
    RuleFigures,
    Spread,
    backlog,
    figures,
    percentile,
    period,
    period_info,
    previous,
)
from socialdesk.store.models import AuthorRow, CaseEventRow, CaseRow, PostRow, RuleRow

BERLIN = ZoneInfo("Europe/Berlin")
UTCZ = ZoneInfo("UTC")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def berlin(*args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=BERLIN, fold=fold).astimezone(UTC)


# -- periods (no database) -------------------------------------------------------------------


def test_a_spring_forward_day_is_23_hours_long():
    start, end = period("day", now=utc(2026, 3, 30, 8), tz=BERLIN)
    assert (start, end) == (utc(2026, 3, 28, 23), utc(2026, 3, 29, 22))
    assert end - start == timedelta(hours=23)


def test_a_fall_back_day_is_25_hours_long():
    start, end = period("day", now=utc(2026, 10, 26, 9), tz=BERLIN)
    assert (start, end) == (utc(2026, 10, 24, 22), utc(2026, 10, 25, 23))
    assert end - start == timedelta(hours=25)


def test_at_local_midnight_the_day_just_ended_is_the_period():
    assert period("day", now=berlin(2026, 3, 30, 0, 0), tz=BERLIN) == (utc(2026, 3, 28, 23), utc(2026, 3, 29, 22))
    # One microsecond earlier the 29th is not complete yet.
    assert period("day", now=berlin(2026, 3, 30) - timedelta(microseconds=1), tz=BERLIN) == (
        utc(2026, 3, 27, 23), utc(2026, 3, 28, 23))


def test_weeks_run_monday_to_monday_in_local_time():
    # Monday 30 March: the week before is 23–29 March, which lost an hour.
    start, end = period("week", now=utc(2026, 3, 30, 8), tz=BERLIN)
    assert (start, end) == (utc(2026, 3, 22, 23), utc(2026, 3, 29, 22))
    assert end - start == timedelta(hours=7 * 24 - 1)
    # On Sunday the 29th the last complete week is 16–22 March.
    assert period("week", now=utc(2026, 3, 29, 12), tz=BERLIN) == (utc(2026, 3, 15, 23), utc(2026, 3, 22, 23))


def test_previous_period_is_the_local_day_or_week_before():
    # The day before the 23-hour day is a full 24 hours.
    assert previous(utc(2026, 3, 28, 23), utc(2026, 3, 29, 22), tz=BERLIN) == (utc(2026, 3, 27, 23), utc(2026, 3, 28, 23))
    # The day before 26 October is the 25-hour day.
    assert previous(utc(2026, 10, 25, 23), utc(2026, 10, 26, 23), tz=BERLIN) == (utc(2026, 10, 24, 22), utc(2026, 10, 25, 23))
    week = period("week", now=utc(2026, 3, 30, 8), tz=BERLIN)
    assert previous(*week, tz=BERLIN) == (utc(2026, 3, 15, 23), utc(2026, 3, 22, 23))


def test_today_runs_from_local_midnight_to_now_and_compares_with_yesterday_until_the_same_time():
    now = utc(2026, 3, 29, 12, 5)  # 14:05 in Berlin, on the day the clocks went forward
    info, start, end = period_info("today", now=now, tz=BERLIN)
    assert (start, end) == (utc(2026, 3, 28, 23), now) and info.kind == "today"
    assert info.label == "Sun 29 Mar 2026, 00:00–14:05"
    # Yesterday (CET) from midnight to 14:05: 23:00 to 13:05 UTC.
    assert previous(start, end, tz=BERLIN) == (utc(2026, 3, 27, 23), utc(2026, 3, 28, 13, 5))
    # Right at midnight "today" is empty, and so is the day before's part.
    _, start, end = period_info("today", now=berlin(2026, 3, 30), tz=BERLIN)
    assert start == end and previous(start, end, tz=BERLIN) == (utc(2026, 3, 28, 23), utc(2026, 3, 28, 23))


def test_period_refuses_a_naive_clock():
    with pytest.raises(ValueError):
        period("day", now=datetime(2026, 1, 1), tz=BERLIN)


def test_percentiles_are_nearest_rank():
    assert percentile([], 50) is None
    assert percentile([7.0], 90) == 7.0
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.0  # rank ceil(2) = 2: the lower middle
    assert percentile([float(v) for v in range(1, 11)], 90) == 9.0  # rank 9 of 10
    assert percentile([float(v) for v in range(1, 12)], 90) == 10.0  # rank ceil(9.9) = 10


# -- fixture helpers -------------------------------------------------------------------------


class Builder:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.authors: dict[str, int] = {}
        self.posts = 0

    def rule(self, query: str) -> int:
        row = RuleRow(network="x", query=query, channel_id="C1", created_at=utc(2026, 1, 1))
        self.session.add(row)
        self.session.flush()
        return row.id

    def case(self, opened_at: datetime, *, status: str = "new", rule: int | None = None, sentiment: float | None = None,
             first_response_at: datetime | None = None, opened_event: bool = True) -> int:
        row = CaseRow(network="x", channel_id="C1", message_ts=f"{opened_at.timestamp():.6f}", opened_at=opened_at,
                      updated_at=opened_at, status=status, rule_id=rule, sentiment=sentiment,
                      first_response_at=first_response_at)
        self.session.add(row)
        self.session.flush()
        if opened_event:
            self.event(row.id, "opened", opened_at)
        return row.id

    def event(self, case_id: int, kind: str, at: datetime, actor: str = "system") -> None:
        self.session.add(CaseEventRow(case_id=case_id, kind=kind, actor=actor, at=at))
        self.session.flush()

    def post(self, handle: str, created_at: datetime) -> None:
        if handle not in self.authors:
            author = AuthorRow(network="x", external_id=f"a-{handle}", handle=handle, name=handle.title(),
                               updated_at=created_at)
            self.session.add(author)
            self.session.flush()
            self.authors[handle] = author.id
        self.posts += 1
        self.session.add(PostRow(network="x", external_id=f"p{self.posts}", url=f"https://x.com/{handle}/status/{self.posts}",
                                 author_id=self.authors[handle], text="hi", created_at=created_at, fetched_at=created_at))
        self.session.flush()


DAY = (utc(2026, 1, 15), utc(2026, 1, 16))  # a plain UTC day


@pytest.fixture
def busy_day(engine):
    """The 15 January fixture; returns the case ids by name."""
    with Session(engine) as session:
        b = Builder(session)
        r1, r2 = b.rule("acme phone"), b.rule("acme support")
        c = {}
        # c1 opened the evening before, answered and resolved inside the day.
        c["c1"] = b.case(utc(2026, 1, 14, 22), status="resolved", rule=r1, sentiment=-0.5,
                         first_response_at=utc(2026, 1, 15, 9))
        b.event(c["c1"], "claimed", utc(2026, 1, 15, 8), "UA")
        b.event(c["c1"], "reply_sent", utc(2026, 1, 15, 9), "UA")
        b.event(c["c1"], "resolved", utc(2026, 1, 15, 10), "UA")
        # c9 opened exactly at the start: inside.
        c["c9"] = b.case(utc(2026, 1, 15, 0), rule=r1, sentiment=0.02)
        c["c2"] = b.case(utc(2026, 1, 15, 1), status="resolved", rule=r1, sentiment=0.6,
                         first_response_at=utc(2026, 1, 15, 1, 30))
        b.event(c["c2"], "claimed", utc(2026, 1, 15, 1, 10), "UB")
        b.event(c["c2"], "marked_replied", utc(2026, 1, 15, 1, 30), "UB")
        b.event(c["c2"], "resolved", utc(2026, 1, 15, 3), "UB")
        c["c3"] = b.case(utc(2026, 1, 15, 5), status="ignored", rule=r2, sentiment=0.0)
        b.event(c["c3"], "ignored", utc(2026, 1, 15, 5, 5), "UA")
        c["c4"] = b.case(utc(2026, 1, 15, 12), status="replied", first_response_at=utc(2026, 1, 15, 13))
        b.event(c["c4"], "sla_breached", utc(2026, 1, 15, 12, 20))
        b.event(c["c4"], "claimed", utc(2026, 1, 15, 12, 30), "UA")
        b.event(c["c4"], "reply_sent", utc(2026, 1, 15, 13), "UA")
        b.event(c["c4"], "note", utc(2026, 1, 15, 13, 5), "UA")  # not a counted kind
        c["c5"] = b.case(utc(2026, 1, 15, 20), rule=r2, sentiment=-0.9)
        b.event(c["c5"], "sla_breached", utc(2026, 1, 15, 20, 45))
        c["c6"] = b.case(utc(2026, 1, 15, 23, 59, 59), rule=r1, sentiment=-0.05)
        b.event(c["c6"], "claimed", utc(2026, 1, 16), "UB")  # exactly at the end: the next day's
        # c7 reopened, waiting since the day before; c8 opened after the period.
        c["c7"] = b.case(utc(2026, 1, 14, 10), status="reopened", rule=r2)
        c["c8"] = b.case(utc(2026, 1, 16, 1))
        for handle, n in [("dana", 3), ("eli", 2), ("hal", 1), ("gus", 1), ("fay", 1), ("ivy", 1)]:
            for i in range(n):
                b.post(handle, utc(2026, 1, 15, 6 + i))
        for i in range(5):
            b.post("zed", utc(2026, 1, 14, 6 + i))  # busier, but the day before
        b.post("ivy", utc(2026, 1, 16))  # at the end: not in the day
        session.commit()
        c["r1"], c["r2"] = r1, r2
        return c


def test_counts_and_spreads_of_a_busy_day(engine, busy_day):
    with Session(engine) as session:
        f = figures(session=session, start=DAY[0], end=DAY[1], tz=UTCZ)
    assert (f.opened, f.claimed, f.replied, f.resolved, f.ignored, f.sla_breached) == (6, 3, 3, 2, 1, 2)
    # First responses: c2 30 min, c4 1 h, c1 11 h (opened before the day, answered inside it).
    assert f.first_response == Spread(count=3, median=3600.0, p90=39600.0)
    # Time to resolve: c2 2 h, c1 12 h (spans the boundary).
    assert f.time_to_resolve == Spread(count=2, median=7200.0, p90=43200.0)


def test_agent_and_rule_tables(engine, busy_day):
    with Session(engine) as session:
        f = figures(session=session, start=DAY[0], end=DAY[1], tz=UTCZ)
    assert f.agents == [AgentFigures("UA", claims=2, replies=2, resolves=1), AgentFigures("UB", claims=1, replies=1, resolves=1)]
    assert f.rules == [
        RuleFigures(busy_day["r1"], "x: acme phone", opened=3, resolved=2),
        RuleFigures(busy_day["r2"], "x: acme support", opened=2, resolved=0),
        RuleFigures(None, "no rule", opened=1, resolved=0),
    ]


def test_sentiment_hourly_and_authors(engine, busy_day):
    with Session(engine) as session:
        f = figures(session=session, start=DAY[0], end=DAY[1], tz=UTCZ)
    # Of the six opened in the day (c1's sentiment is the day before's).
    assert f.sentiment == {"negative": 2, "neutral": 2, "positive": 1, "unknown": 1}
    assert len(f.hourly) == 24 and sum(f.hourly) == 6
    assert [h for h, n in enumerate(f.hourly) if n] == [0, 1, 5, 12, 20, 23]
    assert f.top_authors == [AuthorFigures("x", "dana", 3), AuthorFigures("x", "eli", 2), AuthorFigures("x", "fay", 1),
                             AuthorFigures("x", "gus", 1), AuthorFigures("x", "hal", 1)]


def test_the_backlog_is_what_waits_now_whatever_the_period(engine, busy_day):
    """Issue #15: a digest of yesterday said "the backlog is clear" with cases opened today waiting."""
    with Session(engine) as session:
        waiting = backlog(session=session)
        few = backlog(session=session, limit=2)
    # New or reopened, oldest first: c8 was opened after the busy day and waits all the same.
    assert [u.case_id for u in waiting.oldest] == [busy_day[k] for k in ("c7", "c9", "c5", "c6", "c8")]
    assert waiting.oldest[0].opened_at == utc(2026, 1, 14, 10) and waiting.waiting == 5
    assert few.waiting == 5 and [u.case_id for u in few.oldest] == [busy_day["c7"], busy_day["c9"]]
    with Session(engine) as session:
        for key in ("c7", "c9", "c5"):
            session.get(CaseRow, busy_day[key]).status = "claimed"
        session.commit()
        assert backlog(session=session, limit=1) == Backlog(waiting=2, oldest=backlog(session=session).oldest[:1])
        assert [u.case_id for u in backlog(session=session).oldest] == [busy_day["c6"], busy_day["c8"]]


def test_an_empty_backlog(engine):
    with Session(engine) as session:
        assert backlog(session=session) == Backlog(waiting=0, oldest=[])


def test_the_day_before_sees_only_its_own_events(engine, busy_day):
    with Session(engine) as session:
        f = figures(session=session, start=utc(2026, 1, 14), end=DAY[0], tz=UTCZ)
    assert (f.opened, f.claimed, f.replied, f.resolved) == (2, 0, 0, 0)
    assert f.first_response == Spread() and f.time_to_resolve == Spread()
    assert [h for h, n in enumerate(f.hourly) if n] == [10, 22]
    assert f.top_authors == [AuthorFigures("x", "zed", 5)]


def test_an_empty_period(engine):
    with Session(engine) as session:
        f = figures(session=session, start=utc(2025, 6, 1), end=utc(2025, 6, 2), tz=UTCZ)
    assert (f.opened, f.claimed, f.replied, f.resolved, f.ignored, f.sla_breached) == (0, 0, 0, 0, 0, 0)
    assert f.first_response == Spread(0, None, None) and f.time_to_resolve == Spread(0, None, None)
    assert f.agents == [] and f.rules == [] and f.top_authors == []
    assert f.sentiment == {"negative": 0, "neutral": 0, "positive": 0, "unknown": 0}
    assert f.hourly == [0] * 24


def test_spring_forward_night_in_berlin(engine):
    with Session(engine) as session:
        b = Builder(session)
        b.case(berlin(2026, 3, 29, 0, 30))     # 23:30 UTC on the 28th
        b.case(berlin(2026, 3, 29, 23, 30))     # CEST: 21:30 UTC
        b.case(berlin(2026, 3, 28, 23, 30))                 # CET: 22:30 UTC, the day before
        b.case(berlin(2026, 3, 30, 0, 30))                  # 22:30 UTC on the 29th, the day after
        session.commit()
    start, end = period("day", now=utc(2026, 3, 30, 8), tz=BERLIN)
    with Session(engine) as session:
        f = figures(session=session, start=start, end=end, tz=BERLIN)
        before = figures(session=session, **dict(zip(("start", "end"), previous(start, end, tz=BERLIN))), tz=BERLIN)
    assert f.opened == 2
    assert f.hourly[0] == 1 and f.hourly[23] == 1 and f.hourly[2] == 0 and len(f.hourly) == 24
    assert before.opened == 1 and before.hourly[23] == 1


def test_fall_back_night_in_berlin(engine):
    with Session(engine) as session:
        b = Builder(session)
        b.case(berlin(2026, 10, 25, 0, 30))           # CEST: 22:30 UTC on the 24th
        b.case(berlin(2026, 10, 25, 2, 30, fold=0))   # first 02:30 (CEST): 00:30 UTC
        b.case(berlin(2026, 10, 25, 2, 30, fold=1))   # second 02:30 (CET): 01:30 UTC
        b.case(berlin(2026, 10, 25, 23, 30))          # CET: 22:30 UTC
        b.case(berlin(2026, 10, 24, 23, 30))          # the day before
        b.case(berlin(2026, 10, 26, 0, 30))           # the day after
        session.commit()
    start, end = period("day", now=utc(2026, 10, 26, 9), tz=BERLIN)
    with Session(engine) as session:
        f = figures(session=session, start=start, end=end, tz=BERLIN)
    assert f.opened == 4
    assert f.hourly[0] == 1 and f.hourly[2] == 2 and f.hourly[23] == 1 and sum(f.hourly) == 4


def test_week_boundaries_in_berlin(engine):
    with Session(engine) as session:
        b = Builder(session)
        b.case(berlin(2026, 3, 23, 0, 30))   # Monday, first hour of the week
        b.case(berlin(2026, 3, 29, 23, 30))  # Sunday, last hour (after the clocks went forward)
        b.case(berlin(2026, 3, 22, 23, 30))  # the Sunday before
        b.case(berlin(2026, 3, 30, 0, 30))   # the Monday after
        session.commit()
    start, end = period("week", now=utc(2026, 3, 30, 8), tz=BERLIN)
    with Session(engine) as session:
        f = figures(session=session, start=start, end=end, tz=BERLIN)
    assert f.opened == 2
    assert len(f.hourly) == 7 * 24 and f.hourly[0] == 1 and f.hourly[-1] == 1 and sum(f.hourly) == 2


def test_cases_are_counted_once_however_often_they_happen(engine):
    """Issue #15: one case resolved twice was "Resolved 2 … over 2 cases"; it is one case."""
    with Session(engine) as session:
        b = Builder(session)
        rule = b.rule("acme")
        twice = b.case(utc(2026, 1, 15, 1), status="resolved", rule=rule)
        b.event(twice, "claimed", utc(2026, 1, 15, 2), "UA")
        b.event(twice, "unclaimed", utc(2026, 1, 15, 3), "UA")
        b.event(twice, "claimed", utc(2026, 1, 15, 4), "UA")  # UA claimed it twice: one case for UA
        b.event(twice, "reply_sent", utc(2026, 1, 15, 5), "UA")
        b.event(twice, "reply_sent", utc(2026, 1, 15, 6), "UA")
        b.event(twice, "marked_replied", utc(2026, 1, 15, 7), "UB")  # a reply sent and one marked: one case
        b.event(twice, "resolved", utc(2026, 1, 15, 8), "UA")  # 7 h after opening
        b.event(twice, "reopened", utc(2026, 1, 15, 9))
        b.event(twice, "claimed", utc(2026, 1, 15, 10), "UB")  # and UB claimed it: one case for UB too
        b.event(twice, "sla_breached", utc(2026, 1, 15, 10, 30))
        b.event(twice, "sla_breached", utc(2026, 1, 15, 10, 40))
        b.event(twice, "resolved", utc(2026, 1, 15, 11), "UB")  # the last resolution: 10 h after opening
        once = b.case(utc(2026, 1, 15, 12), status="resolved", rule=rule)
        b.event(once, "claimed", utc(2026, 1, 15, 12, 30), "UA")
        b.event(once, "resolved", utc(2026, 1, 15, 13), "UA")  # 1 h
        session.commit()
    with Session(engine) as session:
        f = figures(session=session, start=DAY[0], end=DAY[1], tz=UTCZ)
    assert (f.opened, f.claimed, f.replied, f.resolved, f.sla_breached) == (2, 2, 1, 2, 1)
    # One duration per resolved case: 1 h and 10 h (not 7 h, 10 h and 1 h).
    assert f.time_to_resolve == Spread(count=2, median=3600.0, p90=36000.0)
    assert f.agents == [AgentFigures("UA", claims=2, replies=1, resolves=2), AgentFigures("UB", claims=1, replies=1, resolves=1)]
    assert f.rules == [RuleFigures(rule, "x: acme", opened=2, resolved=2)]
