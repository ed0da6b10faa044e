"""The SQL behind store.figures: a period's case events counted in the database.

Nothing here loads the period's events: each figure is one aggregate query, and
only its handful of result rows come back. The few places where SQLite and
PostgreSQL differ (exact durations, a list of time ranges as one parameter) are
the small helpers at the top.

SQLite has no hash aggregation: every GROUP BY it cannot read in index order is a
sort. So the hourly volume is counted range by range through the (kind, at)
index, and the event counts are grouped in the order of the (kind, actor, at)
index (migration 0014); only the rule table and the two percentile queries sort.

The figures count cases, not events: a case claimed twice in a period (claimed,
unclaimed, claimed) is one case claimed. No index orders a period's events by case,
so rather than a COUNT(DISTINCT case_id) in every query (each a sort of the whole
period), the events are counted as above and one statement (`repeats`) finds the
few (kind, case) pairs that happen more than once and says how many events to take
off each count.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import BigInteger, ColumnElement, Integer, String, case, cast, extract, func, literal, null, text, union_all
from sqlmodel import Session, col, select

from socialdesk.store.models import CaseEventRow, CaseRow
from socialdesk.triage.sentiment import NEGATIVE_AT, POSITIVE_AT

MICROS = 1_000_000
# unixepoch() is SQLite 3.38's; strftime('%s') is older and about half as fast.
_SQLITE_EPOCH = "unixepoch" if sqlite3.sqlite_version_info >= (3, 38) else None


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _epoch_micros(column: ColumnElement[datetime], dialect: str) -> ColumnElement[int]:
    """A stored UTC time as whole microseconds since 1970, exactly (no float on the way)."""
    if dialect == "sqlite":
        # SQLAlchemy stores 'YYYY-MM-DD HH:MM:SS.ffffff': the whole seconds from the date functions
        # given only characters 1–19 (with the fraction they round to milliseconds first, so
        # '…:59.9997' would count as the next second), the microseconds from characters 21–26.
        whole = func.substr(column, 1, 19)
        seconds = (func.unixepoch(whole) if _SQLITE_EPOCH else cast(func.strftime("%s", whole), Integer))
        return seconds * MICROS + cast(func.substr(column, 21, 6), Integer)
    # PostgreSQL's EXTRACT gives numeric (exact) since version 14.
    return cast(extract("epoch", column) * MICROS, BigInteger)


def micros_between(later: ColumnElement[datetime], earlier: ColumnElement[datetime], dialect: str) -> ColumnElement[int]:
    return _epoch_micros(later, dialect) - _epoch_micros(earlier, dialect)


def nearest_rank(p: float, n: int) -> int:
    """The 1-based rank of the p-th percentile of n values by the nearest-rank method."""
    return max(1, math.ceil(p / 100 * n))


# -- counts ----------------------------------------------------------------------------------


def events_by_kind_and_actor(session: Session, start: datetime, end: datetime,
                             kinds: Sequence[str]) -> list[tuple[str, str, int]]:
    """(kind, actor, events) for the counted kinds in [start, end)."""
    n = func.count()
    return [(k, a, int(c)) for k, a, c in session.exec(
        select(CaseEventRow.kind, CaseEventRow.actor, n)
        .where(col(CaseEventRow.kind).in_(kinds), CaseEventRow.at >= start, CaseEventRow.at < end)
        .group_by(col(CaseEventRow.kind), col(CaseEventRow.actor))
    ).all()]


def _sentiment_label(sentiment: ColumnElement[float | None]) -> ColumnElement[str]:
    return case(
        (sentiment.is_(None), "unknown"),
        (sentiment <= NEGATIVE_AT, "negative"),
        (sentiment >= POSITIVE_AT, "positive"),
        else_="neutral",
    )


def by_rule_and_sentiment(session: Session, start: datetime, end: datetime,
                          kinds: Sequence[str]) -> list[tuple[str, int | None, str, int]]:
    """(kind, the case's rule id, the case's sentiment label, events) for `kinds` in [start, end)."""
    label = _sentiment_label(col(CaseRow.sentiment))
    # Grouped outside a subquery: PostgreSQL does not see that the CASE in GROUP BY, with
    # its own bound thresholds, is the one in the select list.
    rows = (
        select(CaseEventRow.kind, CaseRow.rule_id, label.label("sentiment"))
        .join(CaseRow, col(CaseRow.id) == col(CaseEventRow.case_id))
        .where(col(CaseEventRow.kind).in_(kinds), CaseEventRow.at >= start, CaseEventRow.at < end)
        .subquery()
    )
    return [(k, r, s, int(c)) for k, r, s, c in session.exec(
        select(rows.c.kind, rows.c.rule_id, rows.c.sentiment, func.count())
        .group_by(rows.c.kind, rows.c.rule_id, rows.c.sentiment)
    ).all()]


@dataclass(frozen=True)
class Repeats:
    """Events to take off the event counts so that they count cases: for each (kind, case)
    with n events in the period, n - 1. By kind, by (kind, actor) — a case claimed by two
    agents is one case for each of them, and one in all — and by (kind, rule, sentiment).
    Kinds are folded as `repeats` was told (a reply sent and one marked as sent: one reply)."""

    by_kind: Counter[str]
    by_actor: Counter[tuple[str, str]]
    by_rule: Counter[tuple[str, int | None, str]]


def _folded(kind: ColumnElement[str], fold: Mapping[str, str]) -> ColumnElement[str]:
    if not fold:
        return kind
    return case(*((kind == k, literal(v)) for k, v in fold.items()), else_=kind)


def repeats(session: Session, start: datetime, end: datetime, kinds: Sequence[str], *,
            fold: Mapping[str, str], rule_kinds: Sequence[str]) -> Repeats:
    """The repeated events of `kinds` in [start, end) — `fold` maps a kind to the kind it counts
    as — and, for the rule figures, of `rule_kinds`. One statement: its one sort, of the period's
    (kind, case) pairs, is shared by the three counts (the CTE is used three times, so both
    databases materialize it)."""
    events = (
        select(_folded(col(CaseEventRow.kind), fold).label("kind"), CaseEventRow.case_id)
        .where(col(CaseEventRow.kind).in_(kinds), CaseEventRow.at >= start, CaseEventRow.at < end)
        .subquery()
    )
    dup = (
        select(events.c.kind, events.c.case_id, func.count().label("n"))
        .group_by(events.c.kind, events.c.case_id)
        .having(func.count() > 1)
        .cte("dup")
    )
    none_text, none_int = cast(null(), String), cast(null(), Integer)
    per_kind = select(literal("kind").label("what"), dup.c.kind, none_text.label("actor"), none_int.label("rule_id"),
                      none_text.label("sentiment"), func.sum(dup.c.n - 1).label("extra")).group_by(dup.c.kind)
    # An agent's repeats: their events on those cases beyond one per case (another agent's
    # event on the same case is not a repeat for them). The actor is only in the table rows:
    # read through the case index for the repeated cases alone, in case order (materialized,
    # else SQLite reads them per (kind, case) pair, kind by kind: half as slow again).
    theirs = (
        select(_folded(col(CaseEventRow.kind), fold).label("kind"), CaseEventRow.actor, CaseEventRow.case_id)
        .where(col(CaseEventRow.kind).in_(kinds), CaseEventRow.at >= start, CaseEventRow.at < end,
               col(CaseEventRow.case_id).in_(select(dup.c.case_id)))
        .cte("theirs")
    )
    if _dialect(session) != "sqlite" or sqlite3.sqlite_version_info >= (3, 35):  # older SQLite: no such word
        theirs = theirs.prefix_with("MATERIALIZED")
    per_actor = (
        select(literal("actor"), theirs.c.kind, theirs.c.actor, none_int, none_text,
               func.count() - func.count(theirs.c.case_id.distinct()))
        .select_from(theirs.join(dup, (dup.c.case_id == theirs.c.case_id) & (dup.c.kind == theirs.c.kind)))
        .group_by(theirs.c.kind, theirs.c.actor)
    )
    # Grouped outside a subquery, as in by_rule_and_sentiment.
    ruled = (
        select(dup.c.kind, CaseRow.rule_id, _sentiment_label(col(CaseRow.sentiment)).label("sentiment"),
               (dup.c.n - 1).label("extra"))
        .select_from(dup.join(CaseRow, col(CaseRow.id) == dup.c.case_id))
        .where(dup.c.kind.in_(rule_kinds))
        .subquery()
    )
    per_rule = select(literal("rule"), ruled.c.kind, none_text, ruled.c.rule_id, ruled.c.sentiment,
                      func.sum(ruled.c.extra)).group_by(ruled.c.kind, ruled.c.rule_id, ruled.c.sentiment)
    found = Repeats(Counter(), Counter(), Counter())
    for what, kind, actor, rule_id, sentiment, extra in session.exec(union_all(per_kind, per_actor, per_rule)).all():
        if not extra:
            continue
        if what == "kind":
            found.by_kind[kind] += int(extra)
        elif what == "actor":
            found.by_actor[(kind, actor)] += int(extra)
        else:
            found.by_rule[(kind, rule_id, sentiment)] += int(extra)
    return found


def events_in_ranges(session: Session, kind: str, ranges: Sequence[tuple[datetime, datetime]]) -> list[int]:
    """How many cases have an event of `kind` in each [lo, hi), in one statement: an index range
    count per range, so nothing is sorted (a GROUP BY on a time bucket is a sort on SQLite)."""
    if not ranges:
        return []
    dialect = _dialect(session)
    if dialect == "sqlite":
        bind = session.get_bind().dialect
        stored = CaseEventRow.__table__.c.at.type.dialect_impl(bind).bind_processor(bind)
        param = json.dumps([[stored(lo), stored(hi)] for lo, hi in ranges])
        sql = text(
            "SELECT r.key, (SELECT count(DISTINCT e.case_id) FROM case_events e WHERE e.kind = :kind"
            " AND e.at >= json_extract(r.value, '$[0]') AND e.at < json_extract(r.value, '$[1]'))"
            " FROM json_each(:ranges) AS r"
        )
        rows = session.connection().execute(sql, {"kind": kind, "ranges": param}).all()
    else:
        sql = text(
            "SELECT r.i - 1, (SELECT count(DISTINCT e.case_id) FROM case_events e WHERE e.kind = :kind"
            " AND e.at >= r.lo AND e.at < r.hi)"
            " FROM unnest(CAST(:los AS timestamptz[]), CAST(:his AS timestamptz[])) WITH ORDINALITY AS r(lo, hi, i)"
        )
        rows = session.connection().execute(
            sql, {"kind": kind, "los": [lo for lo, _ in ranges], "his": [hi for _, hi in ranges]}).all()
    counts = [0] * len(ranges)
    for i, n in rows:
        counts[int(i)] = int(n)
    return counts


# -- percentiles -----------------------------------------------------------------------------


def ranked_seconds(session: Session, durations, ranks: Sequence[int]) -> dict[int, float]:  # type: ignore[no-untyped-def]
    """The values at these 1-based ranks of a sample, in seconds, sorted by the database.

    `durations` is a select of one column of whole microseconds (micros_between): exact on
    both databases, so ties and order are the ones Python's sort of the timedeltas gives,
    and micros / 10**6 is the float timedelta.total_seconds() gives.
    """
    sample = durations.subquery()
    d = sample.c[0]
    numbered = select(d.label("d"), func.row_number().over(order_by=d).label("rn")).subquery()
    rows = session.exec(select(numbered.c.rn, numbered.c.d).where(numbered.c.rn.in_(sorted(set(ranks))))).all()
    return {int(rn): int(value) / MICROS for rn, value in rows}


def first_response_micros(session: Session, start: datetime, end: datetime):  # type: ignore[no-untyped-def]
    """Cases whose first response falls in [start, end): opened → first response."""
    return select(micros_between(col(CaseRow.first_response_at), col(CaseRow.opened_at), _dialect(session))).where(
        CaseRow.first_response_at >= start, CaseRow.first_response_at < end)


def first_responses(session: Session, start: datetime, end: datetime) -> int:
    return int(session.exec(select(func.count()).select_from(CaseRow).where(
        CaseRow.first_response_at >= start, CaseRow.first_response_at < end)).one())


def resolve_micros(session: Session, start: datetime, end: datetime, resolved: str):  # type: ignore[no-untyped-def]
    """Each case resolved in [start, end), once: its opening → its last resolution in the period
    (a case resolved, reopened and resolved again took until the second)."""
    return (
        select(micros_between(func.max(col(CaseEventRow.at)), col(CaseRow.opened_at), _dialect(session)))
        .select_from(CaseEventRow)
        .join(CaseRow, col(CaseRow.id) == col(CaseEventRow.case_id))
        .where(CaseEventRow.kind == resolved, CaseEventRow.at >= start, CaseEventRow.at < end)
        .group_by(col(CaseEventRow.case_id), col(CaseRow.opened_at))
    )
