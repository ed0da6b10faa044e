"""GET /metrics of the running app after a card is posted and a click acked (HTTP mode), and on
SOCIALDESK_METRICS_PORT in Socket Mode."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from socialdesk.slack import ids
from tests.e2e.helpers import cards
from tests.e2e.test_claims import click
from tests.e2e.test_socket_mode import response_urls, socket_mode, start  # noqa: F401  (fixtures)
from tests.support.ports import free_port
from tests.support.slack_signing import new_trigger_id, slash_command_body
from tests.support.socket_mode import payload_of
from tests.support.waiting import wait_for


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    answer = httpx.get(url, timeout=5)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(answer.text) for s in family.samples}


def sample(samples, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def test_metrics_after_a_card_and_a_click(app, fake_x, slack_emulator, slack_proxy):
    channel = slack_emulator.new_channel("metrics")
    app.cli("rules", "add", "--network", "x", "--query", "acme", "--channel", channel, "--every", "5")
    fake_x.post(username="dana_k", text="acme support? my phone will not charge")
    slack_proxy.rate_limit("chat.postMessage", retry_after=1)  # the card's first try: Slack says wait a second
    app.start()
    [card] = wait_for(lambda: cards(slack_emulator, channel), timeout=20, what="the card")
    response, _ = click(app, slack_emulator, user="alice", card=card, channel=channel, action_id=ids.CLAIM)
    assert response.status_code == 200

    samples = scrape(app.url + "/metrics")
    rule = {"network": "x", "rule": "1"}
    assert sample(samples, "socialdesk_posts_fetched_total", **rule, via="poll") >= 1
    assert sample(samples, "socialdesk_posts_matched_total", **rule, via="poll") == 1
    assert sample(samples, "socialdesk_cases_opened_total", **rule) == 1
    assert sample(samples, "socialdesk_cards_waiting") == 0
    assert sample(samples, "socialdesk_publish_latency_seconds_count") == 1
    assert sample(samples, "socialdesk_publish_latency_seconds_bucket", le="+Inf") == 1
    assert sample(samples, "socialdesk_ack_seconds_count", mode="http") == 1  # the click, acked
    assert sample(samples, "socialdesk_ack_seconds_bucket", mode="http", le="3.0") == 1  # within Slack's 3 s
    assert sample(samples, "socialdesk_slack_errors_total", method="chat.postMessage", error="ratelimited") == 1
    assert sample(samples, "socialdesk_rate_limit_waits_total", service="slack") == 1
    assert sample(samples, "socialdesk_rate_limit_wait_seconds_total", service="slack") >= 1
    assert sample(samples, "socialdesk_poll_lag_seconds", **rule) is not None
    assert sample(samples, "socialdesk_lease_held", job="poll", key="1") in (0.0, 1.0)  # 1 only mid-poll


def test_socket_mode_serves_metrics_on_its_own_port(app, socket_mode, slack_emulator, response_urls):  # noqa: F811
    port = free_port()
    app.env["SOCIALDESK_METRICS_PORT"] = str(port)
    start(app, socket_mode)
    command = payload_of(slash_command_body(
        command="/social", text="help", user_id=slack_emulator.users["alice"], user_name="alice",
        channel_id=slack_emulator.channels["social-care"], team_id=slack_emulator.team_id,
        trigger_id=new_trigger_id()))
    command["response_url"] = response_urls.new()
    socket_mode.ack_of(socket_mode.slash_command(command))

    # The ack is sent before the handler's timing ends: the count may trail the ack by a moment.
    samples = wait_for(lambda: (s := scrape(f"http://127.0.0.1:{port}/metrics"))
                       and sample(s, "socialdesk_ack_seconds_count", mode="socket") and s,
                       timeout=10, what="the envelope's ack in the metrics")
    assert sample(samples, "socialdesk_ack_seconds_count", mode="socket") == 1
    assert sample(samples, "socialdesk_ack_seconds_count", mode="http") is None
    assert sample(samples, "socialdesk_cards_waiting") == 0
