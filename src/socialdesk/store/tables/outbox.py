"""What goes out, each taken once across replicas: notices, webhooks and their deliveries,
digests and their runs, ops alerts. Split from store/models.py, which re-exports them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


class NoticeRow(SQLModel, table=True):
    """A message that tells someone about a case (store.notices): queued in the transaction of the change
    that calls for it, sent at most once (taken before it is posted), held through quiet hours."""

    __tablename__ = "notices"
    __table_args__ = (Index("ix_notices_due", "status", "due_at"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=128, unique=True)  # one per event ("assigned:12:v4"): queueing it again is a no-op
    kind: str = Field(max_length=32)  # assigned, follow_up, sla_at_risk, sla_breached, sla_lead
    # No foreign key: retention deletes cases (and their notices, store.retention); a notice whose case is gone is dropped.
    case_id: int = Field(index=True)
    channel_id: str = Field(max_length=32)  # a user id (a DM) or the card's channel (in its thread)
    payload: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))  # ids and times, never customer text
    status: str = Field(default="queued", max_length=16)  # queued, taken, sent, skipped, failed
    attempts: int = 0
    created_at: datetime
    due_at: datetime  # not before: quiet hours push it to when business hours open
    taken_at: datetime | None = None
    sent_at: datetime | None = None
    error: str | None = Field(default=None, sa_column=Column(Text))  # why it was skipped, retried or failed


class WebhookRow(SQLModel, table=True):
    """An outbound webhook: case events are signed (HMAC-SHA256) and POSTed to `url`."""

    __tablename__ = "webhooks"

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(max_length=2048)
    secret: str = Field(max_length=255)
    events: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))  # empty = all kinds
    active: bool = True
    created_by: str = Field(max_length=64)
    created_at: datetime
    # Outbox cursor: case_events with a larger id have not been queued for this webhook yet.
    last_event_id: int = 0


class WebhookDeliveryRow(SQLModel, table=True):
    """The delivery log: one row per webhook and case event (or test ping), with its attempts."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("webhook_id", "case_event_id", name="uq_webhook_deliveries_event"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    webhook_id: int = Field(foreign_key="webhooks.id", index=True)
    case_event_id: int | None = None  # None for a test ping
    case_id: int | None = Field(default=None, index=True)
    kind: str = Field(max_length=32)
    body: str = Field(sa_column=Column(Text, nullable=False))  # the exact JSON signed and sent
    status: str = Field(default="pending", max_length=16)  # pending, delivered, failed
    attempts: int = 0
    next_attempt_at: datetime
    lease_until: datetime | None = None
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime
    delivered_at: datetime | None = None


class DigestScheduleRow(SQLModel, table=True):
    """A recurring digest: "daily 09:00" or "weekly mon 09:00" in the team's time zone, to channels/DMs."""

    __tablename__ = "digest_schedules"

    id: int | None = Field(default=None, primary_key=True)
    spec: str = Field(max_length=64)
    targets: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    paused: bool = False
    created_by: str = Field(max_length=64)
    created_at: datetime


class DigestRunRow(SQLModel, table=True):
    """One digest per schedule and period: the replica that inserts this row posts it."""

    __tablename__ = "digest_runs"
    __table_args__ = (UniqueConstraint("schedule_id", "period_start", name="uq_digest_runs_schedule_period"),)

    id: int | None = Field(default=None, primary_key=True)
    schedule_id: int = Field(foreign_key="digest_schedules.id", index=True)
    period_start: datetime
    claimed_at: datetime
    finished_at: datetime | None = None
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))  # posted/failed per target


class OpsAlertRow(SQLModel, table=True):
    """One incident told to the ops channel (jobs.ops_alerts): inserting the row is taking the alert, setting
    `recovered_at` is taking its recovery, so of several replicas (and restarts) one posts each."""

    __tablename__ = "ops_alerts"
    __table_args__ = (Index("ix_ops_alerts_open", "recovered_at"),)

    key: str = Field(primary_key=True, max_length=200)  # names the incident: "failing:rule:3:2026-12-02T01:00:00"
    text: str = Field(sa_column=Column(Text, nullable=False))  # what happened, as posted
    fix: str = Field(sa_column=Column(Text, nullable=False))  # what to do
    channel_id: str = Field(max_length=32)
    opened_at: datetime
    message_ts: str | None = Field(default=None, max_length=32)  # the alert as posted (chat.postMessage ts)
    recovered_at: datetime | None = None  # None: still open
    error: str | None = Field(default=None, sa_column=Column(Text))  # why Slack did not take it
