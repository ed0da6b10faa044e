"""SLA nudges in the store: which open cases to look at, and taking each nudge once.

`mark` is a conditional UPDATE (`… WHERE sla_at_risk_at IS NULL`): of several sweeps
(threads or replicas) racing for the same nudge, exactly one gets True.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import or_, update
from sqlmodel import Session, select

from socialdesk import sla
from socialdesk.domain import CaseStatus, EventKind
from socialdesk.store.events import record_event
from socialdesk.store.incident_views import incident_threads
from socialdesk.store.models import CaseRow, RuleRow

Which = Literal["at_risk", "breached"]
WAITING = [CaseStatus.NEW.value, CaseStatus.REOPENED.value, CaseStatus.CLAIMED.value]  # "replied" has a response
_COLUMN = {"at_risk": CaseRow.sla_at_risk_at, "breached": CaseRow.sla_breached_at}
_EVENT = {"at_risk": EventKind.SLA_AT_RISK, "breached": EventKind.SLA_BREACHED}
LIMIT = 500


def with_rule_targets(*, session: Session, policy: sla.Policy) -> sla.Policy:
    """`policy` plus the rules' own first-response targets (rules.sla_targets), read now."""
    specs = {rid: spec for rid, spec in session.exec(
        select(RuleRow.id, RuleRow.sla_targets).where(RuleRow.sla_targets.is_not(None))).all() if spec}
    if not specs:
        return policy
    try:
        return policy.with_rule_targets(specs)
    except ValueError:  # validated when set; a hand-edited row must not stop every SLA
        return policy.with_rule_targets({rid: spec for rid, spec in specs.items() if _valid(spec)})


def _valid(spec: str) -> bool:
    try:
        sla.parse_targets(spec)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Nudge:
    """A case that needs an SLA message now: `which` says which one."""

    case_id: int
    which: Which
    channel_id: str
    message_ts: str
    priority: str
    assignee: str | None
    opened_at: datetime
    due: datetime
    target: timedelta
    thread_ts: str | None = None  # where the nudge goes: the card's thread (a member's: the incident card's)


def _waiting(session: Session, now: datetime, policy: sla.Policy, limit: int, *where: Any) -> list[CaseRow]:
    """Open cases still waiting for a first reply that could be at risk by now, oldest first."""
    shortest = policy.shortest
    if shortest is None:
        return []
    # Working time never runs faster than the wall clock: nothing opened after this can be due yet.
    newest = now - shortest * policy.at_risk
    return list(session.exec(
        select(CaseRow)
        .where(
            CaseRow.status.in_(WAITING),
            CaseRow.responded_at.is_(None),  # no reply since the clock (re)started
            CaseRow.opened_at <= newest,
            or_(CaseRow.sla_started_at.is_(None), CaseRow.sla_started_at <= newest),  # a reopen restarts it
            CaseRow.priority.in_(sorted(policy.priorities)),
            *where,
        )
        .order_by(CaseRow.opened_at, CaseRow.id)
        .limit(limit)
    ))


def due_nudges(*, session: Session, now: datetime, policy: sla.Policy, limit: int = LIMIT) -> list[Nudge]:
    """Open cases with a card and no first response whose at-risk or breach nudge is due and not yet taken.

    A case found already past its deadline gets only the breach (no late "at risk").
    """
    policy = with_rule_targets(session=session, policy=policy)
    rows = _waiting(session, now, policy, limit, CaseRow.message_ts.is_not(None), CaseRow.sla_breached_at.is_(None))
    threads = incident_threads(session=session, cases=rows)
    nudges = []
    for case in rows:
        where = sla.state(case, now, policy)
        if where == "breached":
            which: Which = "breached"
        elif where == "at_risk" and case.sla_at_risk_at is None:
            which = "at_risk"
        else:
            continue
        due = sla.case_deadline(case, policy)
        target = policy.target(case.priority, case.rule_id)
        assert due is not None and target is not None and case.id is not None and case.message_ts is not None
        nudges.append(Nudge(case_id=case.id, which=which, channel_id=case.channel_id, message_ts=case.message_ts,
                            priority=case.priority, assignee=case.assignee, opened_at=case.opened_at, due=due,
                            target=target, thread_ts=threads.get(case.id, case.message_ts)))
    return nudges


def mark(*, session: Session, case_id: int, which: Which, now: datetime, due: datetime | None = None) -> bool:
    """Take the nudge: True for exactly one caller, and only while the case still waits for a reply."""
    column = _COLUMN[which]
    result = session.execute(
        update(CaseRow)
        .where(CaseRow.id == case_id, column.is_(None), CaseRow.responded_at.is_(None),
               CaseRow.status.in_(WAITING))
        .values({column.key: now})
    )
    won = result.rowcount == 1
    if won:
        payload = {"due": due.isoformat()} if due else {}
        record_event(session, case_id, _EVENT[which], "system", now, **payload)
    return won


@dataclass(frozen=True)
class AtRisk:
    """An open case still waiting for its first reply, at risk or past due (App Home)."""

    case_id: int
    state: sla.State  # "at_risk" or "breached"
    status: str
    priority: str
    assignee: str | None
    opened_at: datetime
    due: datetime
    channel_id: str
    message_ts: str | None


def at_risk(*, session: Session, now: datetime, policy: sla.Policy, limit: int = LIMIT) -> list[AtRisk]:
    """Open unanswered cases whose first-response due time is near (at risk) or past, soonest due first.

    Unlike `due_nudges`, a case stays listed after its nudge went out: it is still at risk.
    """
    policy = with_rule_targets(session=session, policy=policy)
    rows = _waiting(session, now, policy, limit)
    found = []
    for case in rows:
        where = sla.state(case, now, policy)
        due = sla.case_deadline(case, policy)
        if where not in ("at_risk", "breached") or due is None or case.id is None:
            continue
        found.append(AtRisk(case_id=case.id, state=where, status=case.status, priority=case.priority,
                            assignee=case.assignee, opened_at=case.opened_at, due=due, channel_id=case.channel_id,
                            message_ts=case.message_ts))
    return sorted(found, key=lambda c: (c.due, c.case_id))
