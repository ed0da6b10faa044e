"""Live streams: where each resumes, and which replica holds it (a lease, shared by replicas)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from socialdesk.store import storable
from socialdesk.store.db import as_utc
from socialdesk.store.models import CaseRow, RuleRow, StreamRow
from socialdesk.domain import CaseStatus


def take_lease(*, session: Session, network: str, holder: str, now: datetime, seconds: float) -> bool:
    """Hold the network's stream for `seconds` (or renew our hold); False when another replica has it."""
    if session.get(StreamRow, network) is None:
        try:
            with session.begin_nested():
                session.add(StreamRow(network=network, updated_at=now))
        except IntegrityError:
            pass  # another replica made the row a moment ago
    taken = session.execute(
        update(StreamRow)
        .where(StreamRow.network == network,
               or_(StreamRow.holder == holder, StreamRow.lease_until.is_(None), StreamRow.lease_until <= now))
        .values(holder=holder, lease_until=now + timedelta(seconds=seconds), updated_at=now)
    )
    return taken.rowcount == 1


def release_lease(*, session: Session, network: str, holder: str) -> None:
    session.execute(update(StreamRow).where(StreamRow.network == network, StreamRow.holder == holder)
                    .values(lease_until=None, holder=None))


def is_live(*, session: Session, network: str, now: datetime) -> bool:
    """Whether some replica's stream of the network is connected (its search rules need no polling)."""
    row = session.get(StreamRow, network, populate_existing=True)
    return bool(row and row.holder and row.lease_until and as_utc(row.lease_until) > now and row.connected_at
                and not row.last_error)


def stream_state(*, session: Session, network: str) -> StreamRow | None:
    return session.get(StreamRow, network, populate_existing=True)


def save_cursor(*, session: Session, network: str, holder: str, cursor: dict[str, Any] | None, now: datetime) -> bool:
    """Store where to resume; only the holder may (False: the lease was lost, stop streaming)."""
    saved = session.execute(update(StreamRow).where(StreamRow.network == network, StreamRow.holder == holder)
                            .values(cursor=cursor, cursor_at=now, updated_at=now))
    return saved.rowcount == 1


def record_connection(*, session: Session, network: str, holder: str, now: datetime,
                      error: str | None = None) -> None:
    """A connection was made (error None) or failed (the error, for `socialdesk status` and App Home)."""
    # A network's words: NUL would fail recording the failure on PostgreSQL.
    values: dict[str, Any] = {"last_error": storable.text(error)[:500] if error else None, "updated_at": now}
    if error is None:
        # A connection that drops again at once is still the same failing run: record_healthy ends it.
        values.update(connected_at=now)
    else:  # the first failure of a run starts its clock (source health, the ops alert)
        values["failing_since"] = func.coalesce(StreamRow.failing_since, now)
    session.execute(update(StreamRow).where(StreamRow.network == network, StreamRow.holder == holder).values(**values))


def record_healthy(*, session: Session, network: str, holder: str) -> None:
    """The connection delivered a post, or held for a good while: a failing run (if any) is over."""
    session.execute(update(StreamRow).where(StreamRow.network == network, StreamRow.holder == holder,
                                            StreamRow.failing_since.is_not(None)).values(failing_since=None))


def record_gap(*, session: Session, network: str, start: datetime, end: datetime, now: datetime) -> None:
    """Posts between `start` and `end` could not be read: the stream's gap began before search reaches back."""
    session.execute(update(StreamRow).where(StreamRow.network == network).values(gap_from=start, gap_to=end, gap_at=now))


def list_streams(*, session: Session) -> list[StreamRow]:
    """Every network's stream row (one exists once a replica has tried to hold it)."""
    return list(session.exec(select(StreamRow).order_by(StreamRow.network)))


def streamed_rules(*, session: Session, network: str, kinds: Sequence[str] = ("search",),
                   opted_in_only: bool = False) -> list[RuleRow]:
    """The active rules of these kinds a stream carries (its posts are matched to them).

    `opted_in_only`: only those marked `stream` (a stream that takes only those)."""
    query = select(RuleRow).where(RuleRow.network == network, col(RuleRow.kind).in_(list(kinds)),
                                  RuleRow.paused == False)  # noqa: E712
    if opted_in_only:
        query = query.where(RuleRow.stream == True)  # noqa: E712
    return list(session.exec(query.order_by(RuleRow.id)))


def watched_conversations(*, session: Session, network: str, active_since: datetime) -> set[str]:
    """Conversations of cases active since then (not ignored): a customer's later posts in them join."""
    rows = session.exec(select(CaseRow.conversation_id).where(
        CaseRow.network == network, CaseRow.conversation_id.is_not(None),
        CaseRow.status != CaseStatus.IGNORED.value, CaseRow.updated_at >= active_since))
    return {c for c in rows if c}
