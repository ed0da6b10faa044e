"""Requests and events from Slack already accepted: a replay inside the 5-minute window, or a
retried event delivery, is found here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from socialdesk.store.models import SeenRequestRow, SlackEventRow

BATCH_ROWS = 400  # two values a row: far below SQLite's 32,766 and PostgreSQL's 65,535 bound parameters


def remember_request(*, session: Session, signature: str, sent_at: datetime) -> bool:
    """Record a request by its signature; False when it was recorded before (a replay).

    One INSERT … ON CONFLICT DO NOTHING: on the ack path, and safe when two replicas get
    the same request at once (one of them inserts it).
    """
    return _insert_once(session, SeenRequestRow.__table__, {"signature": signature, "sent_at": sent_at}, "signature")


def remember_requests(*, session: Session, requests: Sequence[tuple[str, datetime]]) -> set[str]:
    """Record many requests in one statement; the signatures not recorded before (the others are replays).

    The replay check batches the requests that arrive while its last transaction runs: a
    burst of 50 clicks is two transactions instead of 50 in a row, each waiting on the last.
    """
    if not requests:
        return set()
    table = SeenRequestRow.__table__
    dialect = session.get_bind().dialect.name
    if dialect not in ("postgresql", "sqlite"):
        return {signature for signature, sent_at in requests
                if remember_request(session=session, signature=signature, sent_at=sent_at)}
    module = postgresql if dialect == "postgresql" else sqlite
    fresh: set[str] = set()
    for start in range(0, len(requests), BATCH_ROWS):
        rows = [{"signature": signature, "sent_at": sent_at} for signature, sent_at in requests[start:start + BATCH_ROWS]]
        statement = (module.insert(table).values(rows).on_conflict_do_nothing(index_elements=["signature"])
                     .returning(table.c.signature))
        fresh.update(session.execute(statement).scalars())
    return fresh


def remember_event(*, session: Session, event_id: str, received_at: datetime) -> bool:
    """Record an Events API delivery by its event id; False when it was handled before (Slack's retry)."""
    return _insert_once(session, SlackEventRow.__table__, {"event_id": event_id, "received_at": received_at},
                        "event_id")


def _insert_once(session: Session, table: Any, values: dict[str, Any], key: str) -> bool:
    dialect = session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        module = postgresql if dialect == "postgresql" else sqlite
        statement = (module.insert(table).values(values).on_conflict_do_nothing(index_elements=[key])
                     .returning(table.c[key]))
        # RETURNING, not rowcount: SQLAlchemy 2.1 with psycopg reports -1 for this INSERT.
        return session.execute(statement).first() is not None
    try:
        with session.begin_nested():
            session.execute(insert(table).values(values))
    except IntegrityError:
        return False
    return True


def prune_requests(*, session: Session, before: datetime) -> int:
    """Forget requests sent before `before` (outside the window, they are refused anyway); how many."""
    return session.execute(delete(SeenRequestRow).where(SeenRequestRow.sent_at < before)).rowcount


def forget_request(*, session: Session, signature: str) -> None:
    """A request that failed: Slack's resend of it (perhaps with the same timestamp and signature) is handled."""
    session.execute(delete(SeenRequestRow).where(SeenRequestRow.signature == signature))
