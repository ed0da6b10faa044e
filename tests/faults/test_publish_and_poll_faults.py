"""Faults through the running app: kill -9 and SIGTERM mid-publish, X rate limits and outages, Slack retries."""

from __future__ import annotations

import random
import signal
import time

import pytest
from sqlalchemy import create_engine, text

from socialdesk.networks.x.search import SEARCH_PATH
from tests.e2e.helpers import case_id_of, cards
from tests.support.slack_signing import JSON, app_home_opened_event, event_callback_body, post_signed
from tests.support.waiting import wait_for


def first_poll_stored(db_url: str) -> bool:
    """Every rule's first poll has come back and been stored (its cursor with it)."""
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            polled = [r[0] for r in conn.execute(text("SELECT last_success_at FROM rules"))]
        return bool(polled) and all(at is not None for at in polled)
    finally:
        engine.dispose()


def all_published(db_url: str) -> int | None:
    """How many cases there are once each has its card recorded; None while some wait for one."""
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            total, waiting = conn.execute(text(
                "SELECT count(*), count(*) - count(message_ts) FROM cases")).one()
        return total if waiting == 0 else None
    finally:
        engine.dispose()


@pytest.mark.parametrize("stop", [pytest.param("kill -9", marks=pytest.mark.both_databases), "SIGTERM"])
def test_a_stop_during_publishing_loses_and_doubles_nothing(app, fake_x, slack_emulator, db_url, stop):
    channel = slack_emulator.new_channel("kill")
    app.cli("rules", "add", "--network", "x", "--query", "acme", "--channel", channel, "--every", "5")
    app.start()
    # The rule's first poll sees nothing: everything after it is new.
    wait_for(lambda: first_poll_stored(db_url), timeout=20, what="the rule's first poll, stored")
    posts = [fake_x.post(username=f"c{i % 5}", text=f"acme order {i} never arrived") for i in range(24)]
    rng = random.Random(7)
    for _ in range(3):
        before = len(cards(slack_emulator, channel))
        if before >= len(posts):
            break  # all out already (a graceful stop finishes the card in hand)
        wait_for(lambda: len(cards(slack_emulator, channel)) > before, timeout=20, what="publishing to progress")
        time.sleep(rng.uniform(0.0, 0.6))  # land anywhere in the post → record window
        if stop == "kill -9":
            app.kill9()
        else:
            assert app.stop(signal.SIGTERM) == 0  # a graceful stop: running jobs get their grace
        app.start()
    # Settled: every case has its card recorded, so the publisher has nothing left to post (or to post again).
    wait_for(lambda: all_published(db_url) == len(posts), timeout=60, what="every case's card recorded")
    final = cards(slack_emulator, channel)
    case_ids = [case_id_of(c) for c in final]
    assert len(final) == len(posts) and len(set(case_ids)) == len(posts)
    texts = sorted(c["blocks"][1]["text"]["text"] for c in final)
    assert texts == sorted(p["text"] for p in posts)


@pytest.mark.both_databases
def test_a_burst_with_x_429_and_503_loses_nothing_and_waits_for_the_reset(app, fake_x, slack_emulator, db_url):
    channel = slack_emulator.new_channel("burst")
    app.cli("rules", "add", "--network", "x", "--query", "acme", "--channel", channel, "--every", "5")
    app.start()
    wait_for(lambda: fake_x.requests_to(SEARCH_PATH), timeout=10, what="the first poll")
    burst = [fake_x.post(username=f"b{i}", text=f"acme battery died {i}") for i in range(12)]
    fake_x.unavailable_next(SEARCH_PATH)
    reset = fake_x.rate_limit_next(SEARCH_PATH, 12)
    wait_for(lambda: any(r.at > 0 for r in fake_x.requests_to(SEARCH_PATH)[-1:]) and len(fake_x.requests_to(SEARCH_PATH)) >= 3,
             timeout=30, what="the 503 and the 429")
    limited_at = fake_x.requests_to(SEARCH_PATH)[2].at
    final = wait_for(lambda: (c := cards(slack_emulator, channel)) and len(c) >= 12 and c, timeout=60, what="12 cards")
    after_limit = [r.at for r in fake_x.requests_to(SEARCH_PATH) if r.at > limited_at]
    assert after_limit and min(after_limit) >= reset, "a request went out before x-rate-limit-reset"
    # Settled: each case has its card recorded, so nothing is left to post (or to post twice).
    wait_for(lambda: all_published(db_url) == 12, timeout=30, what="every case's card recorded")
    assert len(cards(slack_emulator, channel)) == 12
    assert sorted(c["blocks"][1]["text"]["text"] for c in final) == sorted(p["text"] for p in burst)
    rules = app.cli("rules", "list").stdout
    assert "last error:" not in rules  # recovered


def test_a_retried_event_is_handled_once(app, slack_emulator, slack_proxy):
    app.start()
    user = slack_emulator.users["alice"]
    body = event_callback_body(event=app_home_opened_event(user_id=user), event_id="Ev0SOCIAL1", team_id=slack_emulator.team_id)
    first = post_signed(app.events_url, body, app.signing_secret, JSON)
    retry = post_signed(app.events_url, body, app.signing_secret, JSON,
                        extra_headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    assert first.status_code == 200 and retry.status_code == 200
    wait_for(lambda: slack_proxy.times_of("views.publish"), timeout=10, what="the App Home")
    # Sent within the same second, the retry has the first one's signature (the request guard drops
    # it as a replay); otherwise the event id gives it away after the ack.
    wait_for(lambda: "already handled; ignoring Slack's retry" in (log := app.log()) or "dropped a replayed" in log,
             timeout=10, what="the retry recognised")
    assert len(slack_proxy.times_of("views.publish", status=None)) == 1
