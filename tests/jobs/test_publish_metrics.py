"""What the publisher records into the metrics: publish latency and Slack's rate-limit waits (emulator, proxy)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk import WebClient

from socialdesk.jobs.poll import Poller
from socialdesk.jobs.publish import Publisher
from socialdesk.metrics import Metrics, watch_state
from socialdesk.store import ingest
from socialdesk.store.db import session_scope
from tests.support.factories import x_post
from tests.support.slack_proxy import SlackProxy

OPENED = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def proxy(slack_emulator):
    with SlackProxy(slack_emulator.url) as p:
        yield p


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def open_cases(engine, channel: str, n: int) -> list[int]:
    with session_scope(engine) as session:
        return ingest.store_posts(session=session, posts=[x_post(f"acme #{i}") for i in range(n)], rule_id=None,
                                  channel_id=channel, now=OPENED)


def test_publish_latency_from_opening_to_card_and_cards_waiting(engine, slack_emulator, proxy):
    channel = slack_emulator.new_channel("latency")
    open_cases(engine, channel, 2)
    metrics = Metrics()
    now = [OPENED + timedelta(seconds=42)]
    watch_state(metrics, engine=engine, clock=lambda: now[0],
                poller=Poller(engine=engine, networks={}, own_handles=frozenset(), clock=lambda: now[0]), streams=[])
    assert value(metrics, "socialdesk_cards_waiting") == 2
    client = WebClient(token=f"xoxb-{uuid.uuid4().hex}", base_url=proxy.url)
    publisher = Publisher(engine=engine, slack=client, clock=lambda: now[0], post_interval=0.0, metrics=metrics)
    assert publisher.run_once() == 2
    assert value(metrics, "socialdesk_cards_waiting") == 0
    assert value(metrics, "socialdesk_publish_latency_seconds_count") == 2
    assert value(metrics, "socialdesk_publish_latency_seconds_sum") == 84
    assert value(metrics, "socialdesk_publish_latency_seconds_bucket", le="30.0") == 0
    assert value(metrics, "socialdesk_publish_latency_seconds_bucket", le="60.0") == 2


def test_a_429_the_client_did_not_retry_is_a_wait_for_the_channel(engine, slack_emulator, proxy):
    channel = slack_emulator.new_channel("limited")
    open_cases(engine, channel, 1)
    metrics = Metrics()
    client = WebClient(token=f"xoxb-{uuid.uuid4().hex}", base_url=proxy.url)  # no retry handler: the publisher waits
    proxy.rate_limit("chat.postMessage", retry_after=7)
    publisher = Publisher(engine=engine, slack=client, clock=lambda: OPENED, post_interval=0.0, metrics=metrics,
                          time_budget=0.5)
    assert publisher.run_once() == 0
    assert value(metrics, "socialdesk_rate_limit_waits_total", service="slack") == 1
    assert value(metrics, "socialdesk_rate_limit_wait_seconds_total", service="slack") == 7
    assert value(metrics, "socialdesk_publish_latency_seconds_count") == 0
