"""Tables. Timestamps are aware UTC datetimes (SQLModel's UTCDateTime columns)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


class AuthorRow(SQLModel, table=True):
    __tablename__ = "authors"
    __table_args__ = (UniqueConstraint("network", "external_id", name="uq_authors_network_external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    network: str = Field(max_length=16)
    external_id: str = Field(max_length=512)
    handle: str = Field(max_length=255)
    name: str = Field(max_length=255)
    followers: int = 0
    verified: bool = False
    avatar_url: str | None = Field(default=None, max_length=1024)
    updated_at: datetime  # when the profile (handle, name, followers …) last changed as we saw it
    created_at: datetime | None = None  # when the account was made, where the network says (a spam signal)


class RuleRow(SQLModel, table=True):
    """A saved search and, beside it, where its polling stands."""

    __tablename__ = "rules"

    id: int | None = Field(default=None, primary_key=True)
    network: str = Field(max_length=16)
    query: str = Field(sa_column=Column(Text, nullable=False))
    channel_id: str = Field(max_length=32)
    every_seconds: int = 60
    lang: str | None = Field(default=None, max_length=16)
    include_reposts: bool = False
    paused: bool = False
    created_at: datetime
    # Carried by the network's stream where it takes only the rules marked so (`rules add --stream`).
    stream: bool = False
    # Why the network's stream refused to carry it (it is polled meanwhile); None: not refused.
    stream_refused: str | None = Field(default=None, sa_column=Column(Text))
    kind: str = Field(default="search", max_length=16)  # "search" or "mentions" (of our account)
    # Triage: a post matching one of these words, or from an account this big, is high priority.
    priority_keywords: list[str] | None = Field(default=None, sa_column=Column(JSON))
    priority_followers: int | None = None
    # First-response targets for this rule's cases ("high=15m,normal=1h"); priorities left
    # out, or no value at all, use SOCIALDESK_SLA_TARGETS.
    sla_targets: str | None = Field(default=None, max_length=200)
    # Likely spam (triage.spam) opens its case as ignored, reason recorded, reversible ("Not spam").
    ignore_spam: bool = False
    # {"question": "C0SUPPORT", "tag:refund": "C0BILLING"}: a new case of that intent or tag opens
    # in that channel instead of channel_id (rules.parse_routes).
    routes: dict[str, str] | None = Field(default=None, sa_column=Column(JSON))
    # Polling state ("cursor"): advanced in the same transaction that stores a page.
    cursor: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    last_polled_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    last_error_at: datetime | None = None
    consecutive_failures: int = 0
    not_before: datetime | None = None  # rate-limit reset or backoff: no request before this
    lease_until: datetime | None = None  # a replica polling it holds this lease
    # Dollars a month its network's billed reads may cost (store.spend); at 100 % it pauses until the month turns.
    monthly_budget: float | None = None
    # When the poller last found it paused by budget: "behind" counts from here when the pause ends (health).
    budget_paused_at: datetime | None = None
    # When an admin last resumed it: "behind" and a gap count from the later of this and the last success.
    resumed_at: datetime | None = None
    # Source health (socialdesk.health): when this run of failures began (a success clears it), what
    # the last one was (rate_limited, unavailable, rejected), and a window of posts that could not be read.
    failing_since: datetime | None = None
    failure_kind: str | None = Field(default=None, max_length=16)
    gap_from: datetime | None = None
    gap_to: datetime | None = None
    gap_at: datetime | None = None  # when the gap was found


class PostRow(SQLModel, table=True):
    __tablename__ = "posts"
    __table_args__ = (
        UniqueConstraint("network", "external_id", name="uq_posts_network_external_id"),
        Index("ix_posts_conversation", "network", "conversation_id"),
        Index("ix_posts_text_key_created", "text_key", "created_at", "author_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    network: str = Field(max_length=16)
    external_id: str = Field(max_length=512)
    url: str = Field(max_length=1024)
    author_id: int = Field(foreign_key="authors.id", index=True)
    text: str = Field(sa_column=Column(Text, nullable=False))
    lang: str | None = Field(default=None, max_length=16)
    created_at: datetime
    fetched_at: datetime
    conversation_id: str | None = Field(default=None, max_length=512)
    in_reply_to_id: str | None = Field(default=None, max_length=512)
    is_repost: bool = False
    is_reply: bool = False
    metrics: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    raw: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    rule_id: int | None = Field(default=None, foreign_key="rules.id", index=True)
    case_id: int | None = Field(default=None, foreign_key="cases.id", index=True)
    sentiment: float | None = None  # VADER compound score, -1 … 1
    # A follow-up in an existing case goes into the card's thread; same crash-safety as cards.
    thread_ts: str | None = Field(default=None, max_length=32)
    thread_attempted_at: datetime | None = None
    # Deleted or withheld at the source (the network's terms): the text is gone or hidden; see jobs.retention.
    removed_at: datetime | None = None
    removed_reason: str | None = Field(default=None, max_length=32)  # deleted, withheld, purged
    source_checked_at: datetime | None = None  # the network last confirmed the post still exists (jobs.removal)
    edited_at: datetime | None = None  # the author edited it at the source; `text` is the newest version
    lang_detected: bool = False  # `lang` was guessed locally (triage.language): the network gave none
    # A digest of the text normalised for "the same text" (triage.similarity.text_key): the accounts
    # posting one text are counted in one query per page (spam). None: no words to compare.
    text_key: str | None = Field(default=None, max_length=32)


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


class CredentialRow(SQLModel, table=True):
    """A network account we post as (its user tokens), refreshed as they expire."""

    __tablename__ = "credentials"

    network: str = Field(primary_key=True, max_length=16)
    access_token: str = Field(sa_column=Column(Text, nullable=False))
    refresh_token: str | None = Field(default=None, sa_column=Column(Text))
    expires_at: datetime | None = None
    account_id: str | None = Field(default=None, max_length=512)
    account_handle: str | None = Field(default=None, max_length=255)
    updated_at: datetime


class StreamRow(SQLModel, table=True):
    """A network's live stream: where it resumes (`cursor`, opaque) and which replica holds it."""

    __tablename__ = "streams"

    network: str = Field(primary_key=True, max_length=16)
    cursor: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    cursor_at: datetime | None = None  # when the cursor was last stored
    holder: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = None
    connected_at: datetime | None = None
    last_error: str | None = Field(default=None, max_length=500)
    updated_at: datetime
    failing_since: datetime | None = None  # when this run of failed connections began (a connection clears it)
    # Posts in this window could not be read: the gap was older than search reaches (Network.gap_limit).
    gap_from: datetime | None = None
    gap_to: datetime | None = None
    gap_at: datetime | None = None  # when the gap was found


class CaseEventRow(SQLModel, table=True):
    """Append-only case history."""

    __tablename__ = "case_events"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    kind: str = Field(max_length=32)
    actor: str = Field(max_length=64)  # a Slack user id, or "system"
    at: datetime
    payload: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))


class SlackEventRow(SQLModel, table=True):
    """Slack event ids already handled: a retried delivery is dropped."""

    __tablename__ = "slack_events"

    event_id: str = Field(primary_key=True, max_length=64)
    received_at: datetime


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


class SeenRequestRow(SQLModel, table=True):
    """A request from Slack already accepted, kept while its timestamp is inside Slack's 5-minute
    window: the same signed request sent again is dropped, by whichever replica gets it (slack.verify)."""

    __tablename__ = "seen_requests"

    signature: str = Field(primary_key=True, max_length=80)  # X-Slack-Signature, "v0=" and 64 hex digits
    sent_at: datetime = Field(index=True)  # X-Slack-Request-Timestamp; rows past the window are pruned


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


class SavedViewRow(SQLModel, table=True):
    """What a person keeps of App Home between visits (and restarts): their queue's filters."""

    __tablename__ = "saved_views"

    user_id: str = Field(primary_key=True, max_length=32)
    # queue_filter.QueueFilter.text(): parsed again when read, "" for the whole queue.
    queue_filter: str = Field(default="", sa_column=Column(Text, nullable=False))
    updated_at: datetime


class BilledSeenRow(SQLModel, table=True):
    """A resource a network billed on a UTC day: read again that day, it costs nothing (the network
    de-duplicates within the day, and so does the meter). Pruned once its month is over."""

    __tablename__ = "billed_seen"

    network: str = Field(primary_key=True, max_length=16)
    day: date = Field(primary_key=True, index=True)  # retention prunes by day (the key starts with network)
    kind: str = Field(primary_key=True, max_length=16)  # the network's Billing.rates key
    resource_id: str = Field(primary_key=True, max_length=64)


class SpendRow(SQLModel, table=True):
    """Billed reads counted per network, UTC day, rule and kind, with what they cost at the rate of the day."""

    __tablename__ = "spend"

    network: str = Field(primary_key=True, max_length=16)
    day: date = Field(primary_key=True)
    rule_id: int = Field(primary_key=True)  # 0: no rule (a reply's post, a lookup); no foreign key (rules go)
    kind: str = Field(primary_key=True, max_length=16)
    reads: int = 0
    cost: float = 0.0  # dollars


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
