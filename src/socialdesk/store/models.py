"""Tables. Timestamps are aware UTC datetimes (SQLModel's UTCDateTime columns).

Defined in `store.tables` (sources, cases, outbox, slack, billing) and gathered here: importing
this module registers every table on SQLModel's metadata (Alembic's env.py relies on it), and
`from socialdesk.store.models import XRow` works for each."""

from __future__ import annotations

from socialdesk.store.tables.billing import BilledSeenRow, SpendRow
from socialdesk.store.tables.cases import CaseEventRow, CaseRow, CuratedEntryRow, IncidentRow, ReplyRow
from socialdesk.store.tables.outbox import (
    DigestRunRow,
    DigestScheduleRow,
    NoticeRow,
    OpsAlertRow,
    WebhookDeliveryRow,
    WebhookRow,
)
from socialdesk.store.tables.slack import SavedViewRow, SeenRequestRow, SlackEventRow
from socialdesk.store.tables.sources import AuthorRow, CredentialRow, PostRow, RuleRow, StreamRow

__all__ = [
    "AuthorRow", "BilledSeenRow", "CaseEventRow", "CaseRow", "CredentialRow", "CuratedEntryRow", "DigestRunRow",
    "DigestScheduleRow", "IncidentRow", "NoticeRow", "OpsAlertRow", "PostRow", "ReplyRow", "RuleRow", "SavedViewRow",
    "SeenRequestRow", "SlackEventRow", "SpendRow", "StreamRow", "WebhookDeliveryRow", "WebhookRow",
]
