"""The spend meter: what the networks that bill per read will charge, against the budgets.

A network with `Billing` reports what each page, stream event and reply was billed for
(`BilledReads`); the poller, stream worker and reply desk hand that to `Meter.record` in
the transaction that stores what was read (store.spend counts each resource once per UTC
day, as the networks do). Budgets are dollars per calendar month (UTC): a rule's own
(`rules add --budget 50/month`) and the network's (its settings). At 80 % a budget is an
alert condition (`budget_conditions`, for the ops alerts); at 100 % the rules it covers are
"paused by budget" (`paused_by_budget`: the poller and stream leave them) until the month
turns or the budget is raised. Nothing here names a network.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import event
from sqlmodel import Session

from socialdesk.health import (
    Condition,  # what the ops channel is told (the budgets' marks: recovers=False at 80 %)
)
from socialdesk.networks.base import BilledReads, Billing, Network
from socialdesk.slack.text import echoed
from socialdesk.store import spend as store

WARN_AT = 0.8  # a budget this far spent is an alert condition
NO_RULE = store.NO_RULE  # spend that is no rule's (replies, lookups)
_BUDGET = re.compile(r"^\$?\s*(\d+(?:\.\d{1,2})?)\s*(?:\$\s*)?(?:/\s*(?:month|mo|m))?$", re.IGNORECASE)
NO_BUDGET = ("none", "off", "no", "unlimited")


class BudgetInvalid(ValueError):
    """A budget that cannot be read; the message says how to write one."""


def unbilled(network: Network | None, label: str, monthly_budget: float | None) -> str | None:
    """Why a budget cannot go on a rule of this network (it does not bill per read), or None."""
    if monthly_budget is not None and (network is None or network.billing is None):
        return f"{label} does not bill per read, so a budget would never be spent"
    return None


def reached(cost: float, limit: float) -> bool:
    """`cost` (a sum of float cents) has reached `limit`, give or take the float's last bits."""
    return cost >= limit - 1e-9


def parse_budget(text: str) -> float | None:
    """'50/month', '$50', '12.5/month' → dollars a month; 'none' → None (no limit)."""
    value = text.strip()
    if value.lower() in NO_BUDGET:
        return None
    match = _BUDGET.match(value)
    if not match or float(match.group(1)) <= 0:
        raise BudgetInvalid(f"{echoed(text)} is not a budget; write dollars a month, like 50/month or 12.50/month "
                            "('none' for no limit)")
    return float(match.group(1))


def month_of(now: datetime) -> tuple[date, date]:
    """The UTC calendar month `now` is in, as [first day, first day of the next)."""
    day = now.astimezone(UTC).date()
    start = day.replace(day=1)
    end = (start + timedelta(days=32)).replace(day=1)
    return start, end


def month_fraction(now: datetime) -> float:
    """How much of the month is over (at least one hour of it: a projection needs something to go on)."""
    start, end = month_of(now)
    begin = datetime(start.year, start.month, start.day, tzinfo=UTC)
    length = (datetime(end.year, end.month, end.day, tzinfo=UTC) - begin).total_seconds()
    return min(1.0, max((now.astimezone(UTC) - begin).total_seconds(), 3600.0) / length)


@dataclass(frozen=True)
class RuleSpend:
    rule_id: int  # store.spend.NO_RULE: reads that are no rule's
    network: str
    reads: Mapping[str, int]  # by kind
    cost: float
    budget: float | None = None
    query: str | None = None  # None: the rule was removed (or none)
    network_paused: bool = False  # its network's budget is spent: paused whatever its own says

    @property
    def paused(self) -> bool:
        """Its own budget is spent."""
        return self.budget is not None and reached(self.cost, self.budget)


@dataclass(frozen=True)
class NetworkSpend:
    network: str
    label: str
    cost: float
    projected: float  # at this month's pace, by its end
    reads: Mapping[str, int]
    labels: Mapping[str, str]
    caps: Mapping[str, int]
    budget: float | None = None


@dataclass(frozen=True)
class Usage:
    """This month's spend, for `socialdesk usage`, `/social usage` and the digest (plain data)."""

    month: str  # "December 2026"
    day: int
    days: int
    networks: list[NetworkSpend] = field(default_factory=list)
    rules: list[RuleSpend] = field(default_factory=list)


def money(dollars: float) -> str:
    return f"${dollars:,.2f}"


class Meter:
    """Counts billed reads and keeps them within budget; built once (app.build) from the networks.

    `on_billed(network, rule_id, kind, reads, cost)` is told of every new billed read (metrics), once the
    transaction that recorded it commits: a page rolled back (and stored again) is not counted twice."""

    def __init__(self, networks: Mapping[str, Network],
                 on_billed: Callable[[str, int | None, str, int, float], None] | None = None) -> None:
        self._billing: dict[str, Billing] = {name: n.billing for name, n in networks.items() if n.billing is not None}
        self._labels = {name: n.info.label for name, n in networks.items()}
        self._on_billed = on_billed
        self._pending_key = ("socialdesk.spend.billed", id(self))  # in session.info: told at commit

    def bills(self, network: str) -> bool:
        return network in self._billing

    def cost(self, network: str, new: Mapping[str, int]) -> float:
        """What `record`'s new reads cost (dollars)."""
        rates = self._billing[network].rates if network in self._billing else {}
        return sum(count * rates.get(kind, 0.0) for kind, count in new.items())

    def budgeted(self, rule: Any) -> bool:
        """Whether a budget (the rule's or its network's) applies to the rule."""
        billing = self._billing.get(rule.network)
        return billing is not None and (rule.monthly_budget is not None or billing.monthly_budget is not None)

    def headroom(self, *, session: Session, rule: Any, now: datetime) -> float | None:
        """Dollars the rule may still spend this month before its budget or its network's is reached (0 or less:
        paused); None: no budget applies. A walk subtracts what each page cost (`cost`) and stops at 0."""
        if not self.budgeted(rule):
            return None
        billing = self._billing[rule.network]
        start, end = month_of(now)
        rows = [r for r in store.spent(session=session, start=start, end=end) if r.network == rule.network]
        left = []
        if billing.monthly_budget is not None:
            left.append(billing.monthly_budget - sum(r.cost for r in rows))
        if rule.monthly_budget is not None:
            left.append(rule.monthly_budget - sum(r.cost for r in rows if r.rule_id == rule.id))
        return min(left)

    def _tell_after_commit(self, session: Session, told: list[tuple[str, int | None, str, int, float]]) -> None:
        """Metrics hear of new reads once their transaction commits; a rollback forgets them."""
        pending = session.info.get(self._pending_key)
        if pending is None:
            pending = session.info[self._pending_key] = []
            if not session.info.get((self._pending_key, "hooked")):  # one pair of listeners per session
                session.info[(self._pending_key, "hooked")] = True
                event.listen(session, "after_commit", self._committed)
                event.listen(session, "after_rollback", self._rolled_back)
        pending.extend(told)

    def _committed(self, session: Session) -> None:
        for args in session.info.pop(self._pending_key, None) or ():
            self._on_billed(*args)  # type: ignore[misc]

    def _rolled_back(self, session: Session) -> None:
        session.info.pop(self._pending_key, None)

    def record(self, *, session: Session, network: str, rule_id: int | None, reads: Sequence[BilledReads],
               now: datetime) -> dict[str, int]:
        """Count what one page (event, reply) was billed for, in the caller's transaction; new reads by kind."""
        billing = self._billing.get(network)
        if billing is None or not reads:
            return {}
        by_kind: dict[str, list[str]] = {}
        for read in reads:
            by_kind.setdefault(read.kind, []).extend(read.ids)
        new = store.record(session=session, network=network, rule_id=rule_id, reads=by_kind, rates=billing.rates,
                           now=now)
        if self._on_billed is not None and new:
            self._tell_after_commit(session, [(network, rule_id, kind, count, count * billing.rates[kind])
                                              for kind, count in new.items()])
        return new

    def usage(self, *, session: Session, now: datetime) -> Usage:
        """This month so far: by network (with its projection, cap and budget) and by rule."""
        from socialdesk.store import rules as rule_store

        start, end = month_of(now)
        rows = store.spent(session=session, start=start, end=end)
        rules = {r.id: r for r in rule_store.list_rules(session=session)}
        budgets = {i: r.monthly_budget for i, r in rules.items()}
        names = {i: r.query for i, r in rules.items()}
        fraction = month_fraction(now)
        networks = []
        for name, billing in self._billing.items():
            mine = [r for r in rows if r.network == name]
            cost = sum(r.cost for r in mine)
            reads: dict[str, int] = {}
            for r in mine:
                reads[r.kind] = reads.get(r.kind, 0) + r.reads
            networks.append(NetworkSpend(name, self._labels.get(name, name), cost, cost / fraction, reads,
                                         dict(billing.labels), dict(billing.caps), billing.monthly_budget))
        per_rule: dict[tuple[str, int], dict[str, int]] = {}
        costs: dict[tuple[str, int], float] = {}
        for r in rows:
            key = (r.network, r.rule_id)
            per_rule.setdefault(key, {})[r.kind] = r.reads
            costs[key] = costs.get(key, 0.0) + r.cost
        for rule_id, rule in rules.items():  # a budgeted rule with nothing spent yet is listed too
            if rule.monthly_budget is not None and (rule.network, rule_id) not in per_rule and rule.network in self._billing:
                per_rule[(rule.network, rule_id)], costs[(rule.network, rule_id)] = {}, 0.0
        # A rule of a network whose budget is spent is paused by budget too (as paused_by_budget says).
        over = {n.network for n in networks if n.budget is not None and reached(n.cost, n.budget)}
        listed = [RuleSpend(rule_id, network, reads, costs[(network, rule_id)], budgets.get(rule_id),
                            names.get(rule_id), network_paused=network in over and rule_id in rules)
                  for (network, rule_id), reads in per_rule.items()]
        listed.sort(key=lambda r: (-r.cost, r.rule_id))
        return Usage(month=f"{start:%B %Y}", day=now.astimezone(UTC).day, days=(end - start).days,
                     networks=networks, rules=listed)

    def paused_by_budget(self, *, session: Session, now: datetime) -> set[int]:
        """The rules whose budget, or whose network's budget, this month's spend has reached."""
        if not self._billing:
            return set()
        budgets = {i: b for i, b in store.budgets(session=session).items() if b[0] in self._billing}
        if not budgets and all(b.monthly_budget is None for b in self._billing.values()):
            return set()  # nothing to pause (the stream worker asks every few seconds): no sums
        start, end = month_of(now)
        rows = store.spent(session=session, start=start, end=end)
        paused: set[int] = set()
        over = {name for name, billing in self._billing.items() if billing.monthly_budget is not None
                and reached(sum(r.cost for r in rows if r.network == name), billing.monthly_budget)}
        by_rule: dict[int, float] = {}
        for r in rows:
            by_rule[r.rule_id] = by_rule.get(r.rule_id, 0.0) + r.cost
        for rule_id, (network, budget) in budgets.items():
            if reached(by_rule.get(rule_id, 0.0), budget):
                paused.add(rule_id)
        if over:
            from socialdesk.store import rules as rule_store

            paused |= {r.id for r in rule_store.list_rules(session=session) if r.network in over and r.id is not None}
        return paused

    def is_paused(self, *, session: Session, rule: Any, now: datetime) -> bool:
        """`paused_by_budget` for one rule (the poller asks before each poll); no query where no budget applies."""
        if not self.budgeted(rule):
            return False
        return rule.id in self.paused_by_budget(session=session, now=now)

    def budget_conditions(self, *, session: Session, now: datetime) -> list[Condition]:
        """A condition per budget at 80 % (and per budget spent) and per plan cap at 80 %, this month.

        The ops alert job (jobs.ops_alerts) tells each once: 80 % is a mark passed (no recovery when 100 %
        follows), a spent budget recovers when the month turns or the budget is raised. A budget's key holds
        its amount: a raised budget is a new one, whose 80 % and 100 % are told again."""
        usage = self.usage(session=session, now=now)
        month = f"{month_of(now)[0]:%Y-%m}"
        found: list[Condition] = []
        for n in usage.networks:
            if n.budget is not None and reached(n.cost, WARN_AT * n.budget):
                spent_all = reached(n.cost, n.budget)
                found.append(Condition(
                    f"budget:{n.network}:{month}:{n.budget:.2f}:{'100' if spent_all else '80'}",
                    f"{n.label} reads cost {money(n.cost)} of this month's {money(n.budget)} budget"
                    + (f": every {n.label} rule is paused by budget until the month turns" if spent_all else
                       f" ({n.cost / n.budget:.0%}); at this pace the month costs {money(n.projected)}"),
                    f"raise the {n.label} monthly budget (the network's setting) and restart, or narrow its rules' "
                    "queries; `socialdesk usage` shows which rules spend most",
                    recovers=spent_all))  # a pause ends (its recovery is told); 80 % is a mark passed
            for kind, cap in n.caps.items():
                read = n.reads.get(kind, 0)
                if cap and reached(read, WARN_AT * cap):
                    label = n.labels.get(kind, kind)
                    found.append(Condition(
                        f"cap:{n.network}:{kind}:{month}", f"{n.label}: {read:,} of the plan's {cap:,} {label} a "
                        f"month are used ({read / cap:.0%})",
                        f"narrow the rules' queries, or move to a plan with a higher cap before {label} stop",
                        recovers=False))
        for r in usage.rules:
            if r.budget is None or not reached(r.cost, WARN_AT * r.budget):
                continue
            label = self._labels.get(r.network, r.network)
            found.append(Condition(
                f"budget:rule:{r.rule_id}:{month}:{r.budget:.2f}:{'100' if r.paused else '80'}",
                f"rule {r.rule_id} ({label}) spent {money(r.cost)} of its {money(r.budget)} monthly budget"
                + (": it is paused by budget until the month turns" if r.paused else f" ({r.cost / r.budget:.0%})"),
                f"raise it with `socialdesk rules edit {r.rule_id} --budget N/month`, or narrow its query",
                recovers=r.paused))
        return found


def summary(usage: Usage) -> str | None:
    """One line for the digest: each billing network's month so far, projection, budget and cap; None: nothing bills."""
    parts = []
    for n in usage.networks:
        text = f"{n.label} reads this month: {money(n.cost)}, projected {money(n.projected)}"
        if n.budget is not None:
            text += f" of a {money(n.budget)} budget"
        for kind, cap in n.caps.items():
            text += f"; {n.reads.get(kind, 0):,} of {cap:,} {n.labels.get(kind, kind)}"
        parts.append(text)
    return " · ".join(parts) or None


def reads_text(reads: Mapping[str, int], labels: Mapping[str, str]) -> str:
    """'1,200 post reads · 200 user reads' in the network's order of kinds."""
    kinds = [k for k in labels if reads.get(k)] + [k for k in reads if k not in labels and reads[k]]
    return " · ".join(f"{reads[k]:,} {labels.get(k, k)}" for k in kinds) or "nothing billed"


def network_lines(n: NetworkSpend) -> list[str]:
    """What one network cost this month, its projection, budget and cap (plain text)."""
    head = f"{n.label}: {money(n.cost)} so far, {money(n.projected)} projected by the month's end"
    if n.budget is not None:
        head += f"; budget {money(n.budget)} ({n.cost / n.budget:.0%} spent)"
    lines = [head, "  " + reads_text(n.reads, n.labels)]
    for kind, cap in n.caps.items():
        read = n.reads.get(kind, 0)
        lines.append(f"  {read:,} of the plan's {cap:,} {n.labels.get(kind, kind)} a month ({read / cap:.1%})"
                     if cap else "")
    return [line for line in lines if line]


def rule_state(r: RuleSpend) -> str:
    if r.network_paused:
        return "paused by budget"  # the network's
    if r.budget is None:
        return "no budget"
    return "paused by budget" if r.paused else f"{r.cost / r.budget:.0%} of budget"


def usage_text(usage: Usage) -> list[str]:
    """`socialdesk usage`: spend by network and by rule this month (UTC), with the projection and the cap."""
    lines = [f"Spend in {usage.month} (UTC), day {usage.day} of {usage.days}"]
    if not usage.networks:
        return lines + ["No configured network bills per read; nothing to count."]
    for n in usage.networks:
        lines += network_lines(n)
    if not usage.rules:
        return lines + ["No rule has billed reads this month."]
    labels = {n.network: n.labels for n in usage.networks}
    lines.append(f"{'rule':>5}  {'network':8}  {'cost':>10}  {'budget':>10}  {'state':18}  reads / query")
    for r in usage.rules:
        name = "—" if r.rule_id == NO_RULE else str(r.rule_id)
        budget = money(r.budget) if r.budget is not None else "—"
        query = ("(replies, lookups, removed rules)" if r.rule_id == NO_RULE else
                 r.query if r.query is not None else "(removed rule)")
        lines.append(f"{name:>5}  {r.network:8}  {money(r.cost):>10}  {budget:>10}  {rule_state(r):18}  "
                     f"{reads_text(r.reads, labels.get(r.network, {}))} · {query[:60]}")
    return lines
