"""A case and what hangs off it: its storm (incident), public replies, append-only history, and
the FAQ entries curated from it. Split from store/models.py, which re-exports them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text
from sqlmodel import Field, SQLModel


class CaseRow(SQLModel, table=True):
    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_unpublished", "message_ts", "id"),
        Index("ix_cases_conversation", "network", "conversation_id"),
        Index("ix_cases_rule_opened", "rule_id", "opened_at"),  # also serves lookups by rule (0017)
    )

    id: int | None = Field(default=None, primary_key=True)
    rule_id: int | None = Field(default=None, foreign_key="rules.id")
    first_post_id: int | None = Field(default=None, index=True)
    network: str = Field(max_length=16)
    conversation_id: str | None = Field(default=None, max_length=512)
    status: str = Field(default="new", max_length=16)  # indexed with opened_at (migrations 0007, 0015)
    assignee: str | None = Field(default=None, max_length=32)
    priority: str = Field(default="normal", max_length=16)
    channel_id: str = Field(max_length=32)
    message_ts: str | None = Field(default=None, max_length=32)
    publish_attempted_at: datetime | None = None  # set before chat.postMessage; see jobs.publish
    publish_lease_until: datetime | None = None
    publish_failures: int = 0
    publish_error: str | None = Field(default=None, sa_column=Column(Text))
    opened_at: datetime
    claimed_at: datetime | None = None
    updated_at: datetime
    version: int = 1
    customer_author_id: int | None = Field(default=None, index=True)
    sentiment: float | None = None
    tags: list[str] | None = Field(default=None, sa_column=Column(JSON))
    ignored_reason: str | None = Field(default=None, max_length=32)
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    last_action: str | None = Field(default=None, max_length=200)
    customer_wrote_at: datetime | None = None  # a follow-up not yet seen by an agent
    replying_user: str | None = Field(default=None, max_length=32)
    replying_since: datetime | None = None
    sending_reply_id: int | None = None  # one public reply in flight per case, taken conditionally
    sla_at_risk_at: datetime | None = None  # the at-risk nudge was taken (at most once; see jobs.sla)
    sla_breached_at: datetime | None = None  # the breach was announced (at most once)
    intent: str | None = Field(default=None, max_length=16)  # complaint, question, praise, other (triage.intent)
    spam_score: float | None = None  # 0..1 (triage.spam); at LIKELY_SPAM_AT or above: likely spam
    spam_reasons: list[str] | None = Field(default=None, sa_column=Column(JSON))  # readable, shown on the card
    # The storm it is part of (store.incidents); the anchor case is in it too.
    incident_id: int | None = Field(default=None, foreign_key="incidents.id", index=True)
    # How it was resolved (store.lifecycle.OUTCOMES); "duplicate" names the case it duplicates.
    # No foreign key on duplicate_of: retention deletes cases (migration 0019).
    outcome: str | None = Field(default=None, max_length=16)
    duplicate_of: int | None = Field(default=None, index=True)
    # The first-response clock: started at opening (None) or at the last reopen, and answered
    # by the first reply since (`first_response_at` stays the very first reply, for figures).
    sla_started_at: datetime | None = None
    responded_at: datetime | None = None


class IncidentRow(SQLModel, table=True):
    """Near-duplicate posts on one rule within a window (a storm): one card, each post still its own case."""

    __tablename__ = "incidents"

    id: int | None = Field(default=None, primary_key=True)
    rule_id: int | None = Field(default=None, foreign_key="rules.id", index=True)
    channel_id: str = Field(max_length=32)
    # The first case: its card is the incident card. No foreign key: cases point here, and
    # retention deletes cases (store.incidents.forget_cases tidies up after it).
    anchor_case_id: int = Field(index=True)
    opened_at: datetime
    last_joined_at: datetime
    closed_at: datetime | None = None  # resolved or ignored all at once; a new member opens it again
    version: int = 1


class ReplyRow(SQLModel, table=True):
    """A public reply: asked for, maybe approved, then sent once (or marked as sent elsewhere)."""

    __tablename__ = "replies"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    key: str = Field(max_length=128, unique=True)  # idempotency: a retried submission finds this row
    agent: str = Field(max_length=32)
    text: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(max_length=24)  # awaiting_approval, sending, sent, failed, rejected, marked
    via: str | None = Field(default=None, max_length=16)  # api, intent, manual
    external_id: str | None = Field(default=None, max_length=512)
    url: str | None = Field(default=None, max_length=1024)
    error: str | None = Field(default=None, sa_column=Column(Text))
    approver: str | None = Field(default=None, max_length=32)
    approval_channel: str | None = Field(default=None, max_length=32)
    approval_ts: str | None = Field(default=None, max_length=32)
    created_at: datetime
    sent_at: datetime | None = None


class CaseEventRow(SQLModel, table=True):
    """Append-only case history."""

    __tablename__ = "case_events"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    kind: str = Field(max_length=32)
    actor: str = Field(max_length=64)  # a Slack user id, or "system"
    at: datetime
    payload: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))


class CuratedEntryRow(SQLModel, table=True):
    """A question and the answer that worked, curated from a resolved case ("Save as FAQ")."""

    __tablename__ = "curated_entries"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    question: str = Field(sa_column=Column(Text, nullable=False))
    answer: str = Field(sa_column=Column(Text, nullable=False))
    notes: str = Field(default="", sa_column=Column(Text, nullable=False))
    tags: list[str] | None = Field(default=None, sa_column=Column(JSON))
    status: str = Field(default="active", max_length=16)  # active, withdrawn
    created_by: str = Field(max_length=64)
    created_at: datetime
    updated_by: str = Field(max_length=64)
    updated_at: datetime
