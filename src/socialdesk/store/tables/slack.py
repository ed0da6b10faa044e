"""What we keep of Slack: event ids and signed requests already handled (a retry is dropped), and
each person's saved App Home view. Split from store/models.py, which re-exports them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel


class SlackEventRow(SQLModel, table=True):
    """Slack event ids already handled: a retried delivery is dropped."""

    __tablename__ = "slack_events"

    event_id: str = Field(primary_key=True, max_length=64)
    received_at: datetime


class SeenRequestRow(SQLModel, table=True):
    """A request from Slack already accepted, kept while its timestamp is inside Slack's 5-minute
    window: the same signed request sent again is dropped, by whichever replica gets it (slack.verify)."""

    __tablename__ = "seen_requests"

    signature: str = Field(primary_key=True, max_length=80)  # X-Slack-Signature, "v0=" and 64 hex digits
    sent_at: datetime = Field(index=True)  # X-Slack-Request-Timestamp; rows past the window are pruned


class SavedViewRow(SQLModel, table=True):
    """What a person keeps of App Home between visits (and restarts): their queue's filters."""

    __tablename__ = "saved_views"

    user_id: str = Field(primary_key=True, max_length=32)
    # queue_filter.QueueFilter.text(): parsed again when read, "" for the whole queue.
    queue_filter: str = Field(default="", sa_column=Column(Text, nullable=False))
    updated_at: datetime
