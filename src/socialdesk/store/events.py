"""Appending to a case's history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from socialdesk.domain import EventKind
from socialdesk.store.models import CaseEventRow


def record_event(session: Session, case_id: int, kind: EventKind, actor: str, now: datetime, /, **payload: Any) -> None:
    session.add(CaseEventRow(case_id=case_id, kind=kind.value, actor=actor, at=now, payload=payload or None))
