"""Webhook deliveries: the outbox that queues case events for the webhooks, sending, the delivery log.

The webhooks themselves (their rows, what a URL may be) are in store/webhooks.py.

The outbox: each webhook keeps a cursor over `case_events.id`. `enqueue_new_events`
turns the events past the cursor into delivery rows and moves the cursor, in one
transaction, holding the webhook's row lock (`FOR UPDATE SKIP LOCKED` on PostgreSQL;
SQLite's `BEGIN IMMEDIATE` serializes writers) so two replicas never queue the same
event twice; the unique (webhook_id, case_event_id) key backs that up.

On PostgreSQL an event's id is taken when it is inserted but it becomes visible at
commit, so a slow transaction can commit id 10 after id 11 was seen and the cursor
moved past it. Each run therefore also looks RECHECK_IDS events behind the cursor for
subscribed events without a delivery row.

Sending: `claim_due` leases due deliveries (conditional UPDATE, after `SKIP LOCKED`
on PostgreSQL) so a delivery is in one sender's hands at a time; `record_attempt`
writes the outcome only if nobody recorded this attempt already.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, func, insert, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

from socialdesk.store.models import CaseEventRow, WebhookDeliveryRow, WebhookRow
from socialdesk.store.webhook_payloads import PING, event_bodies, ping_body
from socialdesk.store.webhooks import get_webhook, list_webhooks
from socialdesk.webhook_events import EVENT_KINDS, EVENT_NAME

RECHECK_IDS = 1000
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


# --- the outbox ---


def _kinds(webhook: WebhookRow) -> list[str]:
    names = webhook.events or list(EVENT_KINDS)
    return [kind for name in names for kind in EVENT_KINDS.get(name, ())]


def _insert_ignoring_duplicates(session: Session, rows: list[dict]) -> int:
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        stmt = postgresql.insert(WebhookDeliveryRow).values(rows).on_conflict_do_nothing(
            index_elements=["webhook_id", "case_event_id"])
    elif dialect == "sqlite":
        stmt = sqlite.insert(WebhookDeliveryRow).values(rows).on_conflict_do_nothing(
            index_elements=["webhook_id", "case_event_id"])
    else:  # another database: the row lock alone keeps this to one writer
        stmt = insert(WebhookDeliveryRow).values(rows)
    # RETURNING counts what went in (psycopg reports no rowcount for this statement).
    return len(session.execute(stmt.returning(WebhookDeliveryRow.id)).all())


def enqueue_new_events(*, session: Session, now: datetime, limit: int = 500) -> int:
    """Queue a delivery per subscribed new event per active webhook; returns how many were queued."""
    webhooks = list(session.exec(
        select(WebhookRow).where(WebhookRow.active.is_(True)).order_by(WebhookRow.id)  # type: ignore[attr-defined]
        .with_for_update(skip_locked=True)  # another replica is queueing for it: leave it be
    ))
    queued = 0
    bodies: dict[int, str] = {}
    for webhook in webhooks:
        kinds = _kinds(webhook)
        fresh = list(session.exec(
            select(CaseEventRow).where(CaseEventRow.id > webhook.last_event_id).order_by(CaseEventRow.id).limit(limit)
        ))
        late = list(session.exec(
            select(CaseEventRow).where(
                CaseEventRow.id <= webhook.last_event_id,
                CaseEventRow.id > webhook.last_event_id - RECHECK_IDS,
                CaseEventRow.kind.in_(kinds),  # type: ignore[attr-defined]
                CaseEventRow.at > webhook.created_at,  # not history from before it existed
                ~exists().where(WebhookDeliveryRow.webhook_id == webhook.id,
                                WebhookDeliveryRow.case_event_id == CaseEventRow.id),
            ).order_by(CaseEventRow.id)
        ))
        wanted = [e for e in late + fresh if e.kind in kinds]
        missing = [e for e in wanted if e.id not in bodies]
        bodies.update(event_bodies(session, missing))
        queued += _insert_ignoring_duplicates(session, [
            {"webhook_id": webhook.id, "case_event_id": e.id, "case_id": e.case_id, "kind": EVENT_NAME[e.kind],
             "body": bodies[e.id], "status": PENDING, "attempts": 0, "next_attempt_at": now, "created_at": now}  # type: ignore[index]
            for e in wanted
        ])
        if fresh:
            session.execute(update(WebhookRow).where(WebhookRow.id == webhook.id)
                            .values(last_event_id=fresh[-1].id))
    return queued


def enqueue_test(*, session: Session, webhook_id: int, now: datetime) -> WebhookDeliveryRow:
    """A ping for the Test button and `webhooks test`; sent even while the webhook is paused."""
    webhook = get_webhook(session=session, webhook_id=webhook_id)
    delivery = WebhookDeliveryRow(webhook_id=webhook.id, case_event_id=None, case_id=None, kind=PING,  # type: ignore[arg-type]
                                  body=ping_body(webhook_id=webhook.id, now=now), status=PENDING,  # type: ignore[arg-type]
                                  next_attempt_at=now, created_at=now)
    session.add(delivery)
    session.flush()
    return delivery


# --- sending ---


@dataclass(frozen=True)
class Claimed:
    """A delivery leased for sending, with what is needed to sign and send it."""

    delivery_id: int
    webhook_id: int
    url: str
    secret: str
    kind: str
    body: str
    attempt: int  # the number of the attempt about to be made (1 for the first)


def _lease(session: Session, ids: list[int], now: datetime, lease: timedelta) -> list[int]:
    """The ids this call leased: a conditional UPDATE per row, so a row leased elsewhere is skipped."""
    won = []
    for delivery_id in ids:
        result = session.execute(
            update(WebhookDeliveryRow)
            .where(WebhookDeliveryRow.id == delivery_id, WebhookDeliveryRow.status == PENDING,
                   or_(WebhookDeliveryRow.lease_until.is_(None), WebhookDeliveryRow.lease_until <= now))  # type: ignore[union-attr]
            .values(lease_until=now + lease)
        )
        if result.rowcount == 1:
            won.append(delivery_id)
    return won


def _claimed(session: Session, ids: list[int]) -> list[Claimed]:
    if not ids:
        return []
    rows = session.exec(
        select(WebhookDeliveryRow, WebhookRow)
        .join(WebhookRow, WebhookRow.id == WebhookDeliveryRow.webhook_id)  # type: ignore[arg-type]
        .where(WebhookDeliveryRow.id.in_(ids))  # type: ignore[union-attr]
        .order_by(WebhookDeliveryRow.next_attempt_at, WebhookDeliveryRow.id)
    )
    return [Claimed(delivery_id=d.id, webhook_id=w.id, url=w.url, secret=w.secret, kind=d.kind, body=d.body,  # type: ignore[arg-type]
                    attempt=d.attempts + 1) for d, w in rows]


def claim_due(*, session: Session, now: datetime, limit: int, lease: timedelta) -> list[Claimed]:
    """Lease up to `limit` pending deliveries of active webhooks whose time has come, oldest first."""
    due = session.exec(
        select(WebhookDeliveryRow.id)
        .join(WebhookRow, WebhookRow.id == WebhookDeliveryRow.webhook_id)  # type: ignore[arg-type]
        .where(WebhookRow.active.is_(True), WebhookDeliveryRow.status == PENDING,  # type: ignore[attr-defined]
               WebhookDeliveryRow.next_attempt_at <= now,
               or_(WebhookDeliveryRow.lease_until.is_(None), WebhookDeliveryRow.lease_until <= now))  # type: ignore[union-attr]
        .order_by(WebhookDeliveryRow.next_attempt_at, WebhookDeliveryRow.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=WebhookDeliveryRow)  # type: ignore[arg-type]
    )
    return _claimed(session, _lease(session, list(due), now, lease))


def claim_one(*, session: Session, delivery_id: int, now: datetime, lease: timedelta) -> Claimed | None:
    """Lease one delivery (a test ping sent at once); None if it is leased elsewhere or settled."""
    return next(iter(_claimed(session, _lease(session, [delivery_id], now, lease))), None)


def record_attempt(*, session: Session, claimed: Claimed, now: datetime, status_code: int | None,
                   error: str | None, delivered: bool, retry_at: datetime | None) -> bool:
    """Write one attempt's outcome: delivered, pending until `retry_at`, or failed (neither).

    False when this attempt was already recorded (another sender took over after the lease ran out).
    """
    status = DELIVERED if delivered else (PENDING if retry_at is not None else FAILED)
    values = {"status": status, "attempts": claimed.attempt, "lease_until": None, "last_status_code": status_code}
    if error is not None:  # kept after a later success: the log shows what the retries were for
        values["last_error"] = error[:2000]
    if delivered:
        values["delivered_at"] = now
    if retry_at is not None:
        values["next_attempt_at"] = retry_at
    result = session.execute(
        update(WebhookDeliveryRow)
        .where(WebhookDeliveryRow.id == claimed.delivery_id, WebhookDeliveryRow.status == PENDING,
               WebhookDeliveryRow.attempts == claimed.attempt - 1)
        .values(**values)
    )
    return result.rowcount == 1


def defer(*, session: Session, delivery_ids: Sequence[int], until: datetime) -> None:
    """Give leased deliveries back untried, due at `until` (their receiver is down; no attempt is counted)."""
    if delivery_ids:
        session.execute(
            update(WebhookDeliveryRow)
            .where(WebhookDeliveryRow.id.in_(list(delivery_ids)), WebhookDeliveryRow.status == PENDING)  # type: ignore[union-attr]
            .values(next_attempt_at=until, lease_until=None)
        )


def retry_failed(*, session: Session, webhook_id: int, now: datetime) -> int:
    """Put the webhook's failed deliveries back in the queue, due now; returns how many.

    Each gets one more attempt (its count goes on, so a receiver still down fails it again
    at once instead of starting hours of backoff); the body and delivery id are unchanged,
    so a receiver that got it after all dedupes it.
    """
    get_webhook(session=session, webhook_id=webhook_id)
    result = session.execute(
        update(WebhookDeliveryRow)
        .where(WebhookDeliveryRow.webhook_id == webhook_id, WebhookDeliveryRow.status == FAILED)
        .values(status=PENDING, next_attempt_at=now, lease_until=None)
    )
    return result.rowcount


# --- the delivery log ---


def prune(*, session: Session, before: datetime, limit: int = 1000) -> int:
    """Forget settled deliveries (delivered or failed) created before `before`; pending ones stay."""
    old = list(session.exec(
        select(WebhookDeliveryRow.id).where(WebhookDeliveryRow.status.in_([DELIVERED, FAILED]),  # type: ignore[attr-defined]
                                            WebhookDeliveryRow.created_at < before).limit(limit)))
    if old:
        session.execute(delete(WebhookDeliveryRow).where(WebhookDeliveryRow.id.in_(old)))  # type: ignore[union-attr]
    return len(old)


def deliveries(*, session: Session, webhook_id: int, limit: int = 20) -> list[WebhookDeliveryRow]:
    """The newest deliveries first."""
    get_webhook(session=session, webhook_id=webhook_id)
    return list(session.exec(
        select(WebhookDeliveryRow).where(WebhookDeliveryRow.webhook_id == webhook_id)
        .order_by(WebhookDeliveryRow.id.desc()).limit(limit)  # type: ignore[union-attr]
    ))


def get_delivery(*, session: Session, delivery_id: int) -> WebhookDeliveryRow | None:
    return session.get(WebhookDeliveryRow, delivery_id, populate_existing=True)


@dataclass(frozen=True)
class WebhookSummary:
    webhook: WebhookRow
    last: WebhookDeliveryRow | None
    pending: int
    failed: int


def summaries(*, session: Session) -> list[WebhookSummary]:
    """Each webhook with its newest delivery and its pending and failed counts (for lists)."""
    webhooks = list_webhooks(session=session)
    counts = {(w, s): n for w, s, n in session.exec(
        select(WebhookDeliveryRow.webhook_id, WebhookDeliveryRow.status, func.count())
        .where(WebhookDeliveryRow.status.in_([PENDING, FAILED]))  # type: ignore[attr-defined]
        .group_by(WebhookDeliveryRow.webhook_id, WebhookDeliveryRow.status)
    )}
    newest_ids = [i for i in session.exec(
        select(func.max(WebhookDeliveryRow.id)).group_by(WebhookDeliveryRow.webhook_id)) if i]
    newest = {d.webhook_id: d for d in session.exec(
        select(WebhookDeliveryRow).where(WebhookDeliveryRow.id.in_(newest_ids)))} if newest_ids else {}  # type: ignore[union-attr]
    return [WebhookSummary(webhook=w, last=newest.get(w.id), pending=counts.get((w.id, PENDING), 0),  # type: ignore[arg-type]
                           failed=counts.get((w.id, FAILED), 0)) for w in webhooks]

