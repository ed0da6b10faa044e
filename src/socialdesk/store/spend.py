"""Billed reads: each resource counted once per network, UTC day and kind, and what it cost.

A network that bills per resource read (its `Billing`) charges a resource once per UTC
day however often it is read; the meter does the same. `record` inserts the day's
resources into `billed_seen` (a conflict is a repeat: free) and adds the new ones, with
their cost, to the `spend` row of (network, day, rule, kind), in the caller's transaction:
the poller records a page in the transaction that stores it, so a page stored twice (a
crash, another replica) is billed once, and one rolled back is not billed at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from socialdesk.store import storable
from socialdesk.store.models import BilledSeenRow, RuleRow, SpendRow

NO_RULE = 0  # spend that is no rule's (a reply posted, a lookup)


@dataclass(frozen=True)
class Spent:
    """One network's billed reads of one kind for one rule (NO_RULE: none) over some days."""

    network: str
    rule_id: int
    kind: str
    reads: int
    cost: float


def _seen_insert(session: Session):  # type: ignore[no-untyped-def]
    seen = BilledSeenRow.__table__
    return _dialect_insert(session, seen).on_conflict_do_nothing().returning(seen.c.resource_id)


def _dialect_insert(session: Session, table):  # type: ignore[no-untyped-def]
    module = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return module.insert(table)


def record(*, session: Session, network: str, rule_id: int | None, reads: Mapping[str, Iterable[str]],
           rates: Mapping[str, float], now: datetime) -> dict[str, int]:
    """Count the resources by kind (kind → ids) not billed yet today; returns the new reads by kind.

    Kinds without a rate are not billed. Ids repeated within the call count once."""
    day = now.astimezone(UTC).date()  # the network's day is UTC's, whatever zone the clock gives
    rule = rule_id or NO_RULE
    new: dict[str, int] = {}
    statement = _seen_insert(session)
    # Sorted kinds and ids: two replicas' transactions billing overlapping resources (one author read by
    # two rules) then wait for each other in the same order on PostgreSQL, never deadlock.
    for kind in sorted(reads):
        rate = rates.get(kind)
        # Written in the page's transaction: an id PostgreSQL refuses (NUL) would fail the page.
        unique = sorted({storable.text(str(i))[:64] for i in reads[kind]})
        if rate is None or not unique:
            continue
        # One cached statement, executemany ("insertmanyvalues": a few multi-row INSERTs); RETURNING names the
        # rows inserted, a conflict (billed already today, here or by another replica) returns nothing.
        rows = [{"network": network, "day": day, "kind": kind, "resource_id": i} for i in unique]
        count = len(session.execute(statement, rows).all())
        if count:
            _add(session, network=network, day=day, rule_id=rule, kind=kind, reads=count, cost=count * rate)
            new[kind] = count
    return new


def _add(session: Session, *, network: str, day: date, rule_id: int, kind: str, reads: int, cost: float) -> None:
    table = SpendRow.__table__
    statement = _dialect_insert(session, table)  # values as parameters: one cached statement
    statement = statement.on_conflict_do_update(
        index_elements=["network", "day", "rule_id", "kind"],
        set_={"reads": table.c.reads + statement.excluded.reads, "cost": table.c.cost + statement.excluded.cost})
    session.execute(statement, {"network": network, "day": day, "rule_id": rule_id, "kind": kind, "reads": reads,
                                "cost": cost})


def forget_rule(*, session: Session, rule_id: int) -> None:
    """A removed rule's spend becomes no rule's (NO_RULE): the network's total stays, and a new rule given the
    same id (SQLite reuses the highest removed one) does not inherit it and its budget with it."""
    table = SpendRow.__table__
    rows = session.execute(select(table.c.network, table.c.day, table.c.kind, table.c.reads, table.c.cost)
                           .where(table.c.rule_id == rule_id)).all()
    for network, day, kind, reads, cost in rows:
        _add(session, network=network, day=day, rule_id=NO_RULE, kind=kind, reads=reads, cost=cost)
    session.execute(delete(table).where(table.c.rule_id == rule_id))


def spent(*, session: Session, start: date, end: date) -> list[Spent]:
    """Billed reads on the days in [start, end), per network, rule and kind."""
    table = SpendRow.__table__
    rows = session.execute(
        select(table.c.network, table.c.rule_id, table.c.kind, func.sum(table.c.reads), func.sum(table.c.cost))
        .where(table.c.day >= start, table.c.day < end)
        .group_by(table.c.network, table.c.rule_id, table.c.kind)
        .order_by(table.c.network, table.c.rule_id, table.c.kind))
    return [Spent(network, int(rule), kind, int(reads or 0), float(cost or 0.0)) for network, rule, kind, reads, cost in rows]


def seen_count(*, session: Session, network: str, day: date | None = None) -> dict[str, int]:
    """Resources billed (by kind) on `day`, or on every day kept: what a hand count compares with."""
    table = BilledSeenRow.__table__
    query = select(table.c.kind, func.count()).where(table.c.network == network).group_by(table.c.kind)
    if day is not None:
        query = query.where(table.c.day == day)
    return {kind: int(n) for kind, n in session.execute(query)}


def budgets(*, session: Session) -> dict[int, tuple[str, float]]:
    """Rules with a monthly budget: id → (network, dollars)."""
    rows = session.execute(select(RuleRow.id, RuleRow.network, RuleRow.monthly_budget)  # type: ignore[call-overload]
                           .where(RuleRow.monthly_budget.is_not(None)))  # type: ignore[union-attr]
    return {int(rule_id): (network, float(budget)) for rule_id, network, budget in rows}


def prune_seen(*, session: Session, before: date) -> int:
    """Forget the resources billed on the oldest day before `before` (a month that is over: nothing
    de-duplicates against it); 0 when none is left. One day per call keeps each delete short."""
    table = BilledSeenRow.__table__
    oldest = session.execute(select(func.min(table.c.day)).where(table.c.day < before)).scalar()
    if oldest is None:
        return 0
    result = session.execute(delete(table).where(table.c.day == oldest))
    return max(int(result.rowcount or 0), 1)  # a day found is progress, whatever the driver counts
