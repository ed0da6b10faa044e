"""Plain, frozen copies of rows for the Slack builders: no session, no SQL.

The builders in `slack/blocks` take these, never table rows: a row belongs to a session
(it expires and lazy-loads) and carries columns a message has no business seeing (a
webhook's signing secret, a rule's cursor and lease). The listeners read rows through
the store and turn them into views with the `*_view` functions here, which only copy
attributes (the table models are imported for type checking alone).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from socialdesk.store.models import DigestScheduleRow, RuleRow, WebhookDeliveryRow, WebhookRow
    from socialdesk.store.webhook_deliveries import WebhookSummary


@dataclass(frozen=True)
class RuleView:
    """A saved search as the rule list, the Home tab and the rule editor show it."""

    id: int
    network: str
    query: str
    channel_id: str
    every_seconds: int
    kind: str = "search"  # or "mentions" (of our account)
    paused: bool = False
    priority_keywords: tuple[str, ...] = ()
    priority_followers: int | None = None
    sla_targets: str | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    consecutive_failures: int = 0
    stream: bool = False  # marked to be carried by its network's stream (where it takes only those)
    stream_refused: str | None = None  # the network's reason for not carrying it (polled meanwhile)
    ignore_spam: bool = False  # likely spam opens its case as ignored (reversible: "Not spam")
    routes: tuple[tuple[str, str], ...] = ()  # (intent or "tag:<tag>", channel id), as `--route` set them
    monthly_budget: float | None = None  # dollars a month its billed reads may cost (socialdesk.spend)
    health: str = ""  # its source state (socialdesk.health: "ok", "failing since …"); "": not read
    healthy: bool = True  # that state is ok (or paused by an admin)


@dataclass(frozen=True)
class SourceView:
    """A rule or stream and its state, as App Home's Sources section lists it."""

    name: str  # "Rule 3 · <network label> search", "<network label> stream"
    state: str  # socialdesk.health's state: ok, behind, failing …
    text: str  # the state in words ("failing since 2026-12-02 01:00 UTC: …")


@dataclass(frozen=True)
class DigestView:
    """A digest schedule: when ("daily 09:00"), to whom, by whom."""

    id: int
    spec: str
    targets: tuple[str, ...]
    created_by: str
    paused: bool = False


@dataclass(frozen=True)
class WebhookView:
    """An outbound webhook, without its secret. `url` is whole: builders show `display_url(url)`."""

    id: int
    url: str
    events: tuple[str, ...] = ()  # empty: all case events
    active: bool = True


@dataclass(frozen=True)
class DeliveryView:
    """One webhook delivery and how it went."""

    kind: str
    status: str  # pending, delivered, failed
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    case_id: int | None = None
    delivered_at: datetime | None = None
    last_status_code: int | None = None
    last_error: str | None = None


@dataclass(frozen=True)
class WebhookSummaryView:
    """A webhook with its newest delivery and how many wait or failed (the `/social webhooks` list)."""

    webhook: WebhookView
    last: DeliveryView | None
    pending: int
    failed: int


def rule_view(row: RuleRow) -> RuleView:
    return RuleView(id=row.id, network=row.network, query=row.query, channel_id=row.channel_id,  # type: ignore[arg-type]
                    every_seconds=row.every_seconds, kind=row.kind, paused=row.paused,
                    priority_keywords=tuple(row.priority_keywords or ()), priority_followers=row.priority_followers,
                    sla_targets=row.sla_targets, last_error=row.last_error, last_error_at=row.last_error_at,
                    consecutive_failures=row.consecutive_failures, stream=row.stream,
                    stream_refused=row.stream_refused, ignore_spam=row.ignore_spam,
                    routes=tuple((row.routes or {}).items()), monthly_budget=row.monthly_budget)


def digest_view(row: DigestScheduleRow) -> DigestView:
    return DigestView(id=row.id, spec=row.spec, targets=tuple(row.targets or ()), created_by=row.created_by,  # type: ignore[arg-type]
                      paused=row.paused)


def webhook_view(row: WebhookRow) -> WebhookView:
    return WebhookView(id=row.id, url=row.url, events=tuple(row.events or ()), active=row.active)  # type: ignore[arg-type]


def delivery_view(row: WebhookDeliveryRow) -> DeliveryView:
    return DeliveryView(kind=row.kind, status=row.status, attempts=row.attempts, created_at=row.created_at,
                        next_attempt_at=row.next_attempt_at, case_id=row.case_id, delivered_at=row.delivered_at,
                        last_status_code=row.last_status_code, last_error=row.last_error)


def webhook_summary_view(summary: WebhookSummary) -> WebhookSummaryView:
    return WebhookSummaryView(webhook=webhook_view(summary.webhook),
                              last=delivery_view(summary.last) if summary.last is not None else None,
                              pending=summary.pending, failed=summary.failed)
