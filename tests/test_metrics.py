"""The Metrics object: its Slack meter against the emulator (behind the proxy that answers 429),
the gauges read at scrape time on a real database, billed reads, and how /metrics is served."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from socialdesk.metrics import MeteredRateLimitHandler, Metrics, SlackCallMeter, watch_state
from socialdesk.networks.base import BilledReads, Network
from socialdesk.networks.x import network as x
from socialdesk.networks.x.settings import XSettings
from socialdesk.spend import Meter
from socialdesk.store import ingest
from socialdesk.store import rules as rule_store
from socialdesk.store.db import session_scope
from tests.support.db import engine  # noqa: F401  (fixture)
from tests.support.factories import x_post
from tests.support.slack_proxy import SlackProxy

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def proxy(slack_emulator):
    with SlackProxy(slack_emulator.url) as p:
        yield p


def metered_client(proxy: SlackProxy, metrics: Metrics) -> WebClient:
    return WebClient(token=f"xoxb-{uuid.uuid4().hex}", base_url=proxy.url,
                     retry_handlers=[SlackCallMeter(metrics), MeteredRateLimitHandler(metrics, max_retry_count=2)])


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_slack_errors_are_counted_by_method_and_code_and_429_waits_by_time(slack_emulator, proxy):
    metrics = Metrics()
    client = metered_client(proxy, metrics)
    channel = slack_emulator.new_channel("metered")
    with pytest.raises(SlackApiError):
        client.chat_postMessage(channel="C0NOSUCH", text="hello")
    assert value(metrics, "socialdesk_slack_errors_total", method="chat.postMessage", error="channel_not_found") == 1

    proxy.rate_limit("chat.postMessage", retry_after=1)
    assert client.chat_postMessage(channel=channel, text="after the wait")["ok"]
    # The 429 was an error of its own, then slack_sdk's handler waited Retry-After and the retry went through.
    assert value(metrics, "socialdesk_slack_errors_total", method="chat.postMessage", error="ratelimited") == 1
    assert value(metrics, "socialdesk_rate_limit_waits_total", service="slack") == 1
    assert value(metrics, "socialdesk_rate_limit_wait_seconds_total", service="slack") >= 1.0
    assert client.chat_postMessage(channel=channel, text="fine")["ok"]
    assert value(metrics, "socialdesk_slack_errors_total", method="chat.postMessage", error="channel_not_found") == 1


def test_a_client_bolt_copies_keeps_the_meter(slack_emulator, proxy):
    """Bolt makes a client per request with a copy of the app client's retry handlers."""
    metrics = Metrics()
    original = metered_client(proxy, metrics)
    copy = WebClient(token=original.token, base_url=original.base_url, retry_handlers=original.retry_handlers.copy())
    with pytest.raises(SlackApiError):
        copy.conversations_info(channel="C0NOSUCH")
    assert value(metrics, "socialdesk_slack_errors_total", method="conversations.info", error="channel_not_found") == 1


class Leases:
    """The poller's side of watch_state (its real one is tested in tests/jobs/test_poll_metrics.py)."""

    def __init__(self, held: dict[int, bool]) -> None:
        self.held = held

    def leases(self) -> dict[int, bool]:
        return self.held


class StreamState:
    """A stream worker's side of watch_state (the real one: tests/jobs/test_stream_metrics.py)."""

    def __init__(self, name: str, held: bool, newest: datetime | None) -> None:
        self.name, self.holds_lease, self.newest_event_at = name, held, newest


def test_state_read_at_scrape_poll_lag_cards_waiting_stream_lag_and_leases(engine):  # noqa: F811
    with session_scope(engine) as session:
        polled = rule_store.add_rule(session=session, network="x", query="acme", channel_id="C1", every_seconds=60,
                                     lang=None, include_reposts=False, now=NOW - timedelta(hours=2))
        rule_store.save_cursor(session=session, rule_id=polled.id, cursor={"since_id": "1"}, not_before=None,
                               now=NOW - timedelta(seconds=90))
        never = rule_store.add_rule(session=session, network="x", query="beta", channel_id="C1", every_seconds=60,
                                    lang=None, include_reposts=False, now=NOW - timedelta(minutes=10))
        paused = rule_store.add_rule(session=session, network="x", query="gamma", channel_id="C1",
                                     every_seconds=60, lang=None, include_reposts=False, now=NOW)
        rule_store.set_paused(session=session, rule_id=paused.id, paused=True, now=datetime.now(UTC))
        over_budget = rule_store.add_rule(session=session, network="x", query="delta", channel_id="C1",
                                          every_seconds=60, lang=None, include_reposts=False,
                                          now=NOW - timedelta(days=20))
        # Paused by budget from day 2 to yesterday (the budget was raised): its lag counts from then.
        resumed = rule_store.add_rule(session=session, network="x", query="epsilon", channel_id="C1",
                                      every_seconds=60, lang=None, include_reposts=False, now=NOW - timedelta(days=20))
        rule_store.save_cursor(session=session, rule_id=resumed.id, cursor={"since_id": "1"}, not_before=None,
                               now=NOW - timedelta(days=18))
        rule_store.note_budget_pause(session=session, rule_id=resumed.id, now=NOW - timedelta(seconds=45))
        polled_id, never_id, paused_id = polled.id, never.id, paused.id
        over_budget_id, resumed_id = over_budget.id, resumed.id
        ingest.store_posts(session=session, posts=[x_post(f"acme #{i}") for i in range(3)], rule_id=polled_id,
                           channel_id="C1", now=NOW)
    metrics = Metrics()
    clock = [NOW]
    meter = Meter({"x": Network(info=x.INFO, billing=x.billing(XSettings()))})
    with session_scope(engine) as session:  # $1.00 of post reads: its $1 budget is spent
        rule_store.set_budget(session=session, rule_id=over_budget_id, monthly_budget=1.0)
        meter.record(session=session, network="x", rule_id=over_budget_id, now=NOW,
                     reads=[BilledReads("post", tuple(f"p{i}" for i in range(200)))])

    watch_state(metrics, engine=engine, clock=lambda: clock[0], poller=Leases({polled_id: True, never_id: False}),
                streams=[StreamState("bluesky", True, NOW - timedelta(seconds=4)),
                         StreamState("mastodon", False, NOW - timedelta(seconds=1))], budget_paused=meter.paused_by_budget)

    assert value(metrics, "socialdesk_poll_lag_seconds", network="x", rule=str(polled_id)) == 90
    assert value(metrics, "socialdesk_poll_lag_seconds", network="x", rule=str(never_id)) == 600  # since it was added
    assert value(metrics, "socialdesk_poll_lag_seconds", network="x", rule=str(paused_id)) is None
    assert value(metrics, "socialdesk_poll_lag_seconds", network="x", rule=str(over_budget_id)) is None
    assert value(metrics, "socialdesk_poll_lag_seconds", network="x", rule=str(resumed_id)) == 45
    assert value(metrics, "socialdesk_cards_waiting") == 3
    assert value(metrics, "socialdesk_stream_lag_seconds", network="bluesky") == 4
    assert value(metrics, "socialdesk_stream_lag_seconds", network="mastodon") is None  # another replica's to say
    assert value(metrics, "socialdesk_lease_held", job="poll", key=str(polled_id)) == 1
    assert value(metrics, "socialdesk_lease_held", job="poll", key=str(never_id)) == 0
    assert value(metrics, "socialdesk_lease_held", job="stream", key="bluesky") == 1
    assert value(metrics, "socialdesk_lease_held", job="stream", key="mastodon") == 0

    clock[0] += timedelta(seconds=30)  # read again at each scrape
    assert value(metrics, "socialdesk_poll_lag_seconds", network="x", rule=str(polled_id)) == 120
    assert value(metrics, "socialdesk_stream_lag_seconds", network="bluesky") == 34


def test_a_state_that_cannot_be_read_leaves_the_rest_of_the_scrape(caplog):
    metrics = Metrics()

    def broken():
        raise ConnectionError("database away")

    metrics.gauge_at_scrape("socialdesk_broken", "never read", [], broken)
    metrics.gauge_at_scrape("socialdesk_fine", "read", [], lambda: [((), 7.0)])
    metrics.opened("x", 3, 2)
    assert value(metrics, "socialdesk_fine") == 7
    assert value(metrics, "socialdesk_cases_opened_total", network="x", rule="3") == 2
    assert value(metrics, "socialdesk_broken") is None
    assert "socialdesk_broken not read for this scrape (ConnectionError)" in caplog.text


def test_billed_reads_and_their_cost():
    metrics = Metrics()
    metrics.billed("x", 4, "post", 10, 0.05)
    metrics.billed("x", 4, "post", 3, 0.015)
    metrics.billed("x", None, "user", 1, 0.01)
    assert value(metrics, "socialdesk_network_billed_reads_total", network="x", rule="4", kind="post") == 13
    assert value(metrics, "socialdesk_network_billed_cost_dollars_total", network="x", rule="4",
                 kind="post") == pytest.approx(0.065)
    assert value(metrics, "socialdesk_network_billed_cost_dollars_total", network="x", rule="", kind="user") == 0.01


def test_two_apps_in_one_process_count_apart():
    first, second = Metrics(), Metrics()
    first.opened("x", 1, 1)
    assert value(first, "socialdesk_cases_opened_total", network="x", rule="1") == 1
    assert value(second, "socialdesk_cases_opened_total", network="x", rule="1") is None


def test_served_on_a_port_of_its_own_in_prometheus_text_format():
    metrics = Metrics()
    metrics.acked("socket", 0.02)
    metrics.gauge_at_scrape("socialdesk_cards_waiting", "Cases whose card is not in Slack yet", [],
                            lambda: [((), 2.0)])
    server = metrics.serve("127.0.0.1", 0)  # the OS picks the port
    try:
        answer = httpx.get(f"http://127.0.0.1:{server.port}/metrics")
    finally:
        server.close()
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(answer.text)}
    [count] = [s for s in families["socialdesk_ack_seconds"].samples if s.name == "socialdesk_ack_seconds_count"]
    assert count.labels == {"mode": "socket"} and count.value == 1
    assert families["socialdesk_cards_waiting"].samples[0].value == 2
