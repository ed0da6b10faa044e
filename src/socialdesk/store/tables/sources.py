"""Where posts come from: the rules that search and the streams that carry them, the accounts
we post as, and the authors and posts found. Split from store/models.py, which re-exports them."""

from __future__ import annotations

from datetime import datetime
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
