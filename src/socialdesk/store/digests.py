"""Digest schedules (who gets which digest when) and digest runs (one per schedule and period).

A run row is the lease: the unique (schedule_id, period_start) constraint lets exactly
one replica insert it, and only that replica posts the digest. A scheduler that fires
again for the same period (a restart, a second replica, a misfire) finds the row and
posts nothing.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from socialdesk.schedules import canonical_spec
from socialdesk.store.models import DigestRunRow, DigestScheduleRow

# Slack ids: channels C…/G… (private ones are G… in older workspaces), users U…/W… (W: Enterprise Grid).
TARGET = re.compile(r"^[CGUW][A-Z0-9]{2,30}$")
MAX_TARGETS = 20


def check_targets(targets: list[str]) -> list[str]:
    """The targets, deduplicated in order; ValueError (fit to show to a user) when one is not a Slack id."""
    if not targets:
        raise ValueError("a digest needs at least one channel or person to go to")
    unique = list(dict.fromkeys(targets))
    if len(unique) > MAX_TARGETS:
        raise ValueError(f"a digest can go to at most {MAX_TARGETS} channels or people; split it into two schedules")
    for target in unique:
        if not TARGET.match(target):
            shown = target[:40]
            raise ValueError(
                f"{shown!r} is not a Slack channel or user id (channels start with C or G, people with U or W)"
            )
    return unique


def add_schedule(*, session: Session, spec: str, targets: list[str], created_by: str, now: datetime) -> DigestScheduleRow:
    """A new, running schedule. The spec is stored in its canonical form ("daily 09:00", "weekly mon 09:00").

    Raises ValueError, with a message fit to show to a user, for a bad spec or target.
    """
    row = DigestScheduleRow(
        spec=canonical_spec(spec),
        targets=check_targets(targets),
        paused=False,
        created_by=created_by,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def list_schedules(*, session: Session) -> list[DigestScheduleRow]:
    return list(session.exec(select(DigestScheduleRow).order_by(DigestScheduleRow.id)))


def get_schedule(*, session: Session, schedule_id: int) -> DigestScheduleRow | None:
    return session.get(DigestScheduleRow, schedule_id)


def remove_schedule(*, session: Session, schedule_id: int) -> bool:
    """Delete the schedule and its run history; False when there is no such schedule."""
    row = session.get(DigestScheduleRow, schedule_id)
    if row is None:
        return False
    session.execute(delete(DigestRunRow).where(DigestRunRow.schedule_id == schedule_id))
    session.delete(row)
    session.flush()
    return True


def set_paused(*, session: Session, schedule_id: int, paused: bool) -> bool:
    """False when there is no such schedule."""
    row = session.get(DigestScheduleRow, schedule_id)
    if row is None:
        return False
    row.paused = paused
    session.add(row)
    session.flush()
    return True


def claim_run(*, session: Session, schedule_id: int, period_start: datetime, now: datetime) -> DigestRunRow | None:
    """The run for this schedule and period, or None when another replica (or an earlier fire) holds it.

    The insert happens in a savepoint, so losing the race leaves the caller's transaction
    usable on PostgreSQL too (there a failed statement aborts the whole transaction).
    """
    run = DigestRunRow(schedule_id=schedule_id, period_start=period_start.astimezone(UTC), claimed_at=now)
    try:
        with session.begin_nested():
            session.add(run)
            session.flush()
    except IntegrityError:
        return None
    return run


def finish_run(*, session: Session, run_id: int, result: dict[str, Any], now: datetime) -> None:
    run = session.get(DigestRunRow, run_id)
    if run is None:  # the schedule was removed while its digest was being posted
        return
    run.result = result
    run.finished_at = now
    session.add(run)
    session.flush()


def runs(*, session: Session, schedule_id: int) -> list[DigestRunRow]:
    """A schedule's runs, newest period first."""
    statement = (
        select(DigestRunRow)
        .where(DigestRunRow.schedule_id == schedule_id)
        .order_by(DigestRunRow.period_start.desc())  # type: ignore[union-attr]
    )
    return list(session.exec(statement))
