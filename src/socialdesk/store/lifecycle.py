"""Case transitions. Each is one conditional UPDATE: of many concurrent callers, one wins.

`new → claimed → replied → resolved` (with an outcome), `ignored` (with a reason),
`reopened` (back in the queue, its first-response clock started again). A loser gets
`ok=False` and the case as it is now, to tell the agent why.

Errors: `OutcomeError` (a ValueError): an outcome that is not one of OUTCOMES, or a
duplicate that names no case, the case itself, or a case that duplicates it.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, update
from sqlmodel import Session, select

from socialdesk.domain import DUPLICATE, OUTCOMES, CaseStatus, EventKind, outcome_label
from socialdesk.store import notices
from socialdesk.store.cases import get_case
from socialdesk.store.events import record_event
from socialdesk.store.models import CaseRow
from socialdesk.triage.triaged import LIKELY_SPAM

S = CaseStatus
OPEN = {S.NEW, S.REOPENED, S.CLAIMED, S.REPLIED}
IGNORE_REASONS = {"spam": "spam", "not_relevant": "not relevant", "duplicate": "duplicate"}
PRIORITIES = ("high", "normal", "low")


def rearmed(now: datetime) -> dict[str, Any]:
    """What a reopen sets: the first-response clock starts again at `now` (nudges and breach
    can happen again), and the outcome of the resolution it undoes is gone (history keeps it)."""
    return {"sla_started_at": now, "responded_at": None, "sla_at_risk_at": None, "sla_breached_at": None,
            "outcome": None, "duplicate_of": None}


class OutcomeError(ValueError):
    """The outcome can't be recorded; the message says why and what to do."""


def duplicate_problem(*, session: Session, case_id: int, duplicate_of: int | None) -> str | None:
    """Why case `case_id` can't be resolved as a duplicate of `duplicate_of`, or None when it can."""
    if duplicate_of is None:
        return "Give the number of the case this one duplicates (the # on its card)."
    if duplicate_of == case_id:
        return f"Case #{case_id} can't be a duplicate of itself. Give the number of the other case."
    other = session.get(CaseRow, duplicate_of, populate_existing=True)
    if other is None:
        return (f"There is no case #{duplicate_of}. Check the number on the other case's card "
                f"(`/social case {duplicate_of}` finds it).")
    if other.duplicate_of == case_id:
        return (f"Case #{duplicate_of} is already resolved as a duplicate of #{case_id}, so #{case_id} can't be its "
                f"duplicate too. Choose another outcome, or reopen #{duplicate_of} first.")
    return None


@dataclass(frozen=True)
class TransitionResult:
    """`ok` when this call made the change; otherwise `case` shows what the case is now."""

    ok: bool
    case: CaseRow


def _apply(
    session: Session,
    *,
    case_id: int,
    actor: str,
    now: datetime,
    allowed_from: Collection[CaseStatus],
    event: EventKind,
    last_action: str,
    values: dict[str, Any],
    expected_version: int | None = None,
    assignee_must_be: str | None = None,
    payload: dict[str, Any] | None = None,
    ignored_reason_must_be: str | None = None,
) -> TransitionResult:
    conditions = [CaseRow.id == case_id, CaseRow.status.in_([s.value for s in allowed_from])]
    if ignored_reason_must_be is not None:
        conditions.append(CaseRow.ignored_reason == ignored_reason_must_be)
    if expected_version is not None:
        conditions.append(CaseRow.version == expected_version)
    if assignee_must_be is not None:
        conditions.append(CaseRow.assignee == assignee_must_be)
    result = session.execute(
        update(CaseRow)
        .where(*conditions)
        .values(updated_at=now, version=CaseRow.version + 1, last_action=last_action[:200], **values)
    )
    won = result.rowcount == 1
    if won:
        record_event(session, case_id, event, actor, now, **(payload or {}))
    return TransitionResult(ok=won, case=get_case(session=session, case_id=case_id))


def claim(*, session: Session, case_id: int, user_id: str, now: datetime) -> TransitionResult:
    return _apply(session, case_id=case_id, actor=user_id, now=now, allowed_from={S.NEW, S.REOPENED},
                  event=EventKind.CLAIMED, last_action=f"claimed by <@{user_id}>",
                  values={"status": S.CLAIMED.value, "assignee": user_id, "claimed_at": now})


def unclaim(*, session: Session, case_id: int, user_id: str, now: datetime) -> TransitionResult:
    """Only the owner can give a case back."""
    return _apply(session, case_id=case_id, actor=user_id, now=now, allowed_from={S.CLAIMED},
                  assignee_must_be=user_id, event=EventKind.UNCLAIMED, last_action=f"unclaimed by <@{user_id}>",
                  values={"status": S.NEW.value, "assignee": None, "claimed_at": None})


def assign(*, session: Session, case_id: int, user_id: str, assignee: str, now: datetime) -> TransitionResult:
    """Give the case to `assignee`; they are told in a DM (queued here, in the same transaction: store.notices),
    unless it was theirs already or they assigned it to themselves; so is the owner it was taken from."""
    before = session.exec(select(CaseRow.assignee).where(CaseRow.id == case_id)).first()
    result = _apply(session, case_id=case_id, actor=user_id, now=now, allowed_from=OPEN,
                    event=EventKind.ASSIGNED, last_action=f"assigned to <@{assignee}> by <@{user_id}>",
                    values={"status": func.coalesce(_replied_or_none(), S.CLAIMED.value), "assignee": assignee,
                            "claimed_at": now},
                    payload={"to": assignee})
    if result.ok and before != assignee:
        notices.queue_assigned(session=session, case_id=case_id, version=result.case.version, by=user_id,
                               assignee=assignee, now=now)
        notices.queue_reassigned(session=session, case_id=case_id, version=result.case.version, by=user_id,
                                 owner=before, assignee=assignee, now=now)
    return result


def _replied_or_none():  # type: ignore[no-untyped-def]
    """Assigning a replied case keeps it replied; anything else becomes claimed."""
    from sqlalchemy import case as sql_case

    return sql_case((CaseRow.status == S.REPLIED.value, S.REPLIED.value), else_=None)


def resolve(*, session: Session, case_id: int, user_id: str, now: datetime, expected_version: int | None = None,
            outcome: str | None = None, duplicate_of: int | None = None) -> TransitionResult:
    """Resolve with an `outcome` (OUTCOMES; None: not said, e.g. "resolve all" on an incident).

    "duplicate" needs `duplicate_of`, checked by `duplicate_problem` (raises OutcomeError)."""
    if outcome is not None and outcome not in OUTCOMES:
        raise OutcomeError(f"{outcome!r} is not an outcome; choose one of {', '.join(OUTCOMES)}")
    if outcome == DUPLICATE:
        problem = duplicate_problem(session=session, case_id=case_id, duplicate_of=duplicate_of)
        if problem:
            raise OutcomeError(problem)
    else:
        duplicate_of = None
    label = outcome_label(outcome, duplicate_of)
    payload = {"outcome": outcome} if outcome else {}
    if duplicate_of is not None:
        payload["duplicate_of"] = duplicate_of
    return _apply(session, case_id=case_id, actor=user_id, now=now, allowed_from=OPEN,
                  expected_version=expected_version, event=EventKind.RESOLVED,
                  last_action=f"resolved{f' ({label})' if label else ''} by <@{user_id}>",
                  values={"status": S.RESOLVED.value, "resolved_at": now, "customer_wrote_at": None,
                          "outcome": outcome, "duplicate_of": duplicate_of},
                  payload=payload)


def ignore(*, session: Session, case_id: int, user_id: str, reason: str, now: datetime,
           expected_version: int | None = None) -> TransitionResult:
    if reason not in IGNORE_REASONS:
        raise ValueError(f"unknown reason {reason!r}")
    return _apply(session, case_id=case_id, actor=user_id, now=now, allowed_from=OPEN,
                  expected_version=expected_version, event=EventKind.IGNORED,
                  last_action=f"ignored as {IGNORE_REASONS[reason]} by <@{user_id}>",
                  values={"status": S.IGNORED.value, "ignored_reason": reason, "customer_wrote_at": None},
                  payload={"reason": reason})


def reopen(*, session: Session, case_id: int, user_id: str, now: datetime) -> TransitionResult:
    """Back in the queue for anyone to claim (the owner let go), a first reply due again from now."""
    return _apply(session, case_id=case_id, actor=user_id, now=now, allowed_from={S.RESOLVED, S.IGNORED},
                  event=EventKind.REOPENED, last_action=f"reopened by <@{user_id}>",
                  values={"status": S.REOPENED.value, "resolved_at": None, "ignored_reason": None,
                          "assignee": None, "claimed_at": None, **rearmed(now)})


def not_spam(*, session: Session, case_id: int, user_id: str, now: datetime) -> TransitionResult:
    """A case filed as likely spam at ingest is a real customer after all: it opens as new, no longer marked spam.

    Recorded as `reopened` with `not_spam` and the score and reasons it had (the case forgets them)."""
    case = get_case(session=session, case_id=case_id)
    return _apply(session, case_id=case_id, actor=user_id, now=now, allowed_from={S.IGNORED},
                  ignored_reason_must_be=LIKELY_SPAM, event=EventKind.REOPENED,
                  last_action=f"marked not spam by <@{user_id}>",
                  values={"status": S.NEW.value, "ignored_reason": None, "spam_score": None, "spam_reasons": None},
                  payload={"not_spam": True, "spam_score": case.spam_score, "spam_reasons": case.spam_reasons})


def replied(*, session: Session, case_id: int, user_id: str, now: datetime, kind: EventKind,
            payload: dict[str, Any]) -> TransitionResult:
    """A public reply went out (sent by us, or marked as sent from the network): the case is `replied`."""
    return _apply(session, case_id=case_id, actor=user_id, now=now, allowed_from=OPEN | {S.RESOLVED},
                  event=kind, last_action=f"replied by <@{user_id}>",
                  values={"status": S.REPLIED.value, "customer_wrote_at": None,
                          "first_response_at": func.coalesce(CaseRow.first_response_at, now),
                          "responded_at": func.coalesce(CaseRow.responded_at, now),  # the clock is answered
                          "assignee": func.coalesce(CaseRow.assignee, user_id),
                          "claimed_at": func.coalesce(CaseRow.claimed_at, now)},
                  payload=payload)


def set_tags(*, session: Session, case_id: int, user_id: str, tags: list[str], priority: str, now: datetime) -> TransitionResult:
    if priority not in PRIORITIES:
        raise ValueError(f"unknown priority {priority!r}")
    return _apply(session, case_id=case_id, actor=user_id, now=now, allowed_from=set(S),
                  event=EventKind.TAGGED, last_action=f"tagged by <@{user_id}>",
                  values={"tags": sorted(set(tags)), "priority": priority},
                  payload={"tags": sorted(set(tags)), "priority": priority})


def change_tags(*, session: Session, case_id: int, user_id: str, added: Collection[str], removed: Collection[str],
                known: Collection[str], priority: str | None, now: datetime) -> TransitionResult:
    """What an agent changed in the Tags & priority window, onto the case as it is now: a teammate's change
    made meanwhile stays (the window's whole list would undo it). `priority` None: left as it is. Tags
    not in `known` (no longer the team's) are dropped, as the window says."""
    if priority is not None and priority not in PRIORITIES:
        raise ValueError(f"unknown priority {priority!r}")
    case = get_case(session=session, case_id=case_id)
    tags = sorted({t for t in case.tags or [] if t in known and t not in removed} | set(added))
    chosen = priority or case.priority
    return _apply(session, case_id=case_id, actor=user_id, now=now, allowed_from=set(S), expected_version=case.version,
                  event=EventKind.TAGGED, last_action=f"tagged by <@{user_id}>",
                  values={"tags": tags, "priority": chosen}, payload={"tags": tags, "priority": chosen})


def add_note(*, session: Session, case_id: int, user_id: str, text: str, now: datetime) -> TransitionResult:
    """Notes are internal: history and the card's thread, never the network."""
    return _apply(session, case_id=case_id, actor=user_id, now=now, allowed_from=set(S),
                  event=EventKind.NOTE, last_action=f"note by <@{user_id}>", values={}, payload={"text": text})


def set_replying(*, session: Session, case_id: int, user_id: str | None, now: datetime, only_if: str | None = None) -> bool:
    """Show (or clear) "@alice is replying…"; `only_if` clears only that user's marker."""
    conditions = [CaseRow.id == case_id]
    if only_if is not None:
        conditions.append(CaseRow.replying_user == only_if)
    result = session.execute(
        update(CaseRow).where(*conditions).values(replying_user=user_id, replying_since=now if user_id else None)
    )
    return result.rowcount == 1
