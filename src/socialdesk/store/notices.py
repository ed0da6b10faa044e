"""Notices: messages that tell people about a case, each at most once per event.

A notice is queued in the same transaction as the change that calls for it (an
assignment, a follow-up threaded under an owned case's card, an SLA mark), under a key
naming that event: queueing the same key again (a retried click, a second replica, a
restart that redoes the work) adds nothing. The notifier (jobs.notices) takes a due
notice with a conditional UPDATE before posting it, so of several senders exactly one
posts it; a crash between taking and posting loses that one notice rather than repeating
it (as the SLA marks do, see jobs.sla). Quiet hours move `due_at` to when business hours
open. Notices hold ids and times, never a customer's text: what they say is drawn from the
case when they are sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from socialdesk.domain import CaseStatus
from socialdesk.store.models import CaseRow, NoticeRow
from socialdesk.store.once import insert_once

ASSIGNED, FOLLOW_UP, SLA_AT_RISK, SLA_BREACHED, SLA_LEAD = "assigned", "follow_up", "sla_at_risk", "sla_breached", "sla_lead"
REASSIGNED = "reassigned"  # the owner a case was taken from by someone else's assignment
KINDS = (ASSIGNED, FOLLOW_UP, SLA_AT_RISK, SLA_BREACHED, SLA_LEAD, REASSIGNED)
QUEUED, TAKEN, SENT, SKIPPED, FAILED = "queued", "taken", "sent", "skipped", "failed"
FINISHED = (SENT, SKIPPED, FAILED)
KEEP = timedelta(days=30)  # finished notices are kept this long (to see what was sent), then pruned


@dataclass(frozen=True)
class Notice:
    id: int
    kind: str
    case_id: int
    channel_id: str
    payload: dict[str, Any]
    attempts: int
    created_at: datetime


def queue(*, session: Session, key: str, kind: str, case_id: int, channel_id: str, now: datetime,
          payload: dict[str, Any] | None = None) -> bool:
    """Queue a notice, due now; False when its key was queued before (the same event told once)."""
    if kind not in KINDS:
        raise ValueError(f"unknown notice kind {kind!r}")
    values = {"key": key[:128], "kind": kind, "case_id": case_id, "channel_id": channel_id[:32], "payload": payload,
              "status": QUEUED, "attempts": 0, "created_at": now, "due_at": now}
    return insert_once(session=session, table=NoticeRow.__table__, values=values, key="key")  # type: ignore[arg-type]


def queue_assigned(*, session: Session, case_id: int, version: int, by: str, assignee: str, now: datetime) -> bool:
    """The assignee hears of it in a DM (not when they assigned it to themselves). One per assignment:
    the case's version after it names the event."""
    if by == assignee:
        return False
    return queue(session=session, key=f"{ASSIGNED}:{case_id}:v{version}", kind=ASSIGNED, case_id=case_id,
                 channel_id=assignee, now=now, payload={"by": by, "to": assignee})


def queue_reassigned(*, session: Session, case_id: int, version: int, by: str, owner: str | None, assignee: str,
                     now: datetime) -> bool:
    """The owner hears that someone else gave their case to another (not when they did it themselves, or when
    it stays theirs), so they stop working it. One per assignment, as `queue_assigned`; none while the DM
    that gave it to them is still waiting (quiet hours): they never heard it was theirs, and that DM is skipped."""
    if owner is None or owner in (by, assignee):
        return False
    unheard = session.exec(select(NoticeRow.id).where(NoticeRow.case_id == case_id, NoticeRow.kind == ASSIGNED,
                                                      NoticeRow.channel_id == owner, NoticeRow.status == QUEUED)).first()
    if unheard is not None:
        return False
    return queue(session=session, key=f"{REASSIGNED}:{case_id}:v{version}", kind=REASSIGNED, case_id=case_id,
                 channel_id=owner, now=now, payload={"by": by, "to": assignee, "from": owner})


def queue_follow_up(*, session: Session, case_id: int, post_id: int, now: datetime) -> bool:
    """The customer wrote again: the case's owner is pinged in the card's thread. Nobody owns it: nothing."""
    case = session.exec(select(CaseRow.assignee, CaseRow.status, CaseRow.channel_id).where(CaseRow.id == case_id)).first()
    if case is None or not case[0] or case[1] == CaseStatus.IGNORED.value:
        return False
    return queue(session=session, key=f"{FOLLOW_UP}:{post_id}", kind=FOLLOW_UP, case_id=case_id, channel_id=case[2],
                 now=now, payload={"post": post_id, "owner": case[0]})


def due(*, session: Session, now: datetime, limit: int = 100) -> list[Notice]:
    """Queued notices due by `now`, oldest first."""
    rows = session.exec(select(NoticeRow).where(NoticeRow.status == QUEUED, NoticeRow.due_at <= now)
                        .order_by(NoticeRow.due_at, NoticeRow.id).limit(limit)).all()
    return [Notice(id=r.id, kind=r.kind, case_id=r.case_id, channel_id=r.channel_id, payload=dict(r.payload or {}),  # type: ignore[arg-type]
                   attempts=r.attempts, created_at=r.created_at) for r in rows]


def hold_until(*, session: Session, now: datetime, until: datetime) -> int:
    """Quiet hours: everything due by `now` waits until `until` (when business hours open); how many."""
    return session.execute(
        update(NoticeRow).where(NoticeRow.status == QUEUED, NoticeRow.due_at <= now).values(due_at=until)
    ).rowcount


def take(*, session: Session, notice_ids: Sequence[int], now: datetime) -> list[int]:
    """Take notices for posting: the ids this caller won (each is won by exactly one caller)."""
    if not notice_ids:
        return []
    return sorted(session.execute(
        update(NoticeRow)
        .where(col(NoticeRow.id).in_(list(notice_ids)), NoticeRow.status == QUEUED, NoticeRow.due_at <= now)
        .values(status=TAKEN, taken_at=now)
        .returning(NoticeRow.id)
    ).scalars())


def finish(*, session: Session, notice_ids: Sequence[int], status: str, now: datetime, error: str | None = None) -> None:
    """Record what became of taken notices: sent, skipped (and why) or failed (and why)."""
    if status not in FINISHED:
        raise ValueError(f"not a finished status: {status!r}")
    session.execute(
        update(NoticeRow).where(col(NoticeRow.id).in_(list(notice_ids)), NoticeRow.status == TAKEN)
        .values(status=status, sent_at=now if status == SENT else None, error=(error or None) and error[:2000])
    )


def retry_later(*, session: Session, notice_ids: Sequence[int], at: datetime, error: str) -> None:
    """Slack refused (nothing was posted): queue them again for `at`, one attempt more."""
    session.execute(
        update(NoticeRow).where(col(NoticeRow.id).in_(list(notice_ids)), NoticeRow.status == TAKEN)
        .values(status=QUEUED, due_at=at, taken_at=None, attempts=NoticeRow.attempts + 1, error=error[:2000])
    )


def prune(*, session: Session, before: datetime) -> int:
    """Forget notices finished before `before` (history stays in case_events); how many."""
    return session.execute(
        delete(NoticeRow).where(col(NoticeRow.status).in_(FINISHED), NoticeRow.created_at < before)
    ).rowcount


def forget_cases(*, session: Session, case_ids: Sequence[int]) -> int:
    """The cases are being deleted (retention, a forgotten person): their notices go too."""
    return session.execute(delete(NoticeRow).where(col(NoticeRow.case_id).in_(list(case_ids)))).rowcount
