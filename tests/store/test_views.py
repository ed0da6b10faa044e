"""Rows become the plain views the Slack builders take: every field they show, nothing secret."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from socialdesk.store.models import DigestScheduleRow, RuleRow, WebhookDeliveryRow, WebhookRow
from socialdesk.store.views import (DeliveryView, DigestView, RuleView, WebhookView, delivery_view, digest_view,
                                    rule_view, webhook_summary_view, webhook_view)
from socialdesk.store.webhook_deliveries import WebhookSummary

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def test_rows_become_views():
    rule = RuleRow(id=3, network="x", query="acme", channel_id="C1", every_seconds=90, kind="mentions", paused=True,
                   priority_keywords=["refund"], priority_followers=500, sla_targets="high=15m", last_error="429",
                   last_error_at=NOW, consecutive_failures=2, created_at=NOW, cursor={"since_id": "9"})
    assert rule_view(rule) == RuleView(id=3, network="x", query="acme", channel_id="C1", every_seconds=90,
                                       kind="mentions", paused=True, priority_keywords=("refund",),
                                       priority_followers=500, sla_targets="high=15m", last_error="429",
                                       last_error_at=NOW, consecutive_failures=2)
    digest = DigestScheduleRow(id=5, spec="daily 09:00", targets=["C1", "UMIA"], created_by="UMIA", created_at=NOW)
    assert digest_view(digest) == DigestView(id=5, spec="daily 09:00", targets=("C1", "UMIA"), created_by="UMIA")
    hook = WebhookRow(id=9, url="https://hooks.example/in", secret="whsec-never-shown", events=["resolved"],
                      active=False, created_by="UMIA", created_at=NOW)
    assert webhook_view(hook) == WebhookView(id=9, url="https://hooks.example/in", events=("resolved",), active=False)
    assert "secret" not in {f.name for f in dataclasses.fields(WebhookView)}
    delivery = WebhookDeliveryRow(id=1, webhook_id=9, case_id=4, kind="case.resolved", body="{}", status="failed",
                                  attempts=3, next_attempt_at=NOW, last_status_code=500, last_error="boom",
                                  created_at=NOW)
    expected = DeliveryView(kind="case.resolved", status="failed", attempts=3, created_at=NOW, next_attempt_at=NOW,
                            case_id=4, last_status_code=500, last_error="boom")
    assert delivery_view(delivery) == expected
    summary = webhook_summary_view(WebhookSummary(webhook=hook, last=delivery, pending=1, failed=2))
    assert (summary.webhook.id, summary.last, summary.pending, summary.failed) == (9, expected, 1, 2)
    assert webhook_summary_view(WebhookSummary(webhook=hook, last=None, pending=0, failed=0)).last is None
