"""Appending to a case's history."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session

from socialdesk.domain import EventKind
from socialdesk.store.models import CaseEventRow


def record_event(session: Session, case_id: int, kind: EventKind, actor: str, now: datetime, /, **payload: Any) -> None:
    session.add(CaseEventRow(case_id=case_id, kind=kind.value, actor=actor, at=now, payload=payload or None))


def event_row(case_id: int, kind: EventKind, actor: str, now: datetime, /, **payload: Any) -> dict[str, Any]:
    """One case event as a row for `record_events` (the same values `record_event` stores)."""
    return {"case_id": case_id, "kind": kind.value, "actor": actor, "at": now, "payload": payload or None}


def record_events(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Many events in one executemany (ids from the database: nothing reads them back)."""
    if rows:
        session.connection().execute(insert(CaseEventRow.__table__), list(rows))  # type: ignore[arg-type]
