"""Faults through the running app: kill -9 and SIGTERM mid-publish, X rate limits and outages, Slack retries."""

from __future__ import annotations

import json
import signal
import threading

import pytest
from sqlalchemy import create_engine, text

from socialdesk.networks.x.search import SEARCH_PATH
from tests.e2e.helpers import block_text, case_id_of, cards
from tests.support.slack_signing import JSON, app_home_opened_event, event_callback_body, post_signed
from tests.support.waiting import wait_for


PUBLISH_LEASE = 3  # seconds; a card's post to the emulator takes milliseconds
ROUNDS = 3  # stops, each with a card in flight
RESET_IN = 22  # seconds to X's rate-limit reset: past the 503, its backoff, the 429 and one more interval


def release_when_stopping(app, slack_proxy, stops: int) -> None:  # type: ignore[no-untyped-def]
    """Release the held answer once the app has logged its `stops`-th SIGTERM (it is stopping)."""
    try:
        wait_for(lambda: app.log().count("received SIGTERM") >= stops, timeout=20, every=0.05,
                 what="the app to begin stopping")
    finally:
        slack_proxy.release()


def recovered_cards(db_url: str) -> int:
    """Cards recorded by looking them up in the channel after a restart (not from chat.postMessage's answer)."""
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            payloads = [r[0] for r in conn.execute(text("SELECT payload FROM case_events WHERE kind = 'card_posted'"))]
    finally:
        engine.dispose()
    return sum(1 for p in payloads if (json.loads(p) if isinstance(p, str) else p or {}).get("recovered"))


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
def test_a_stop_during_publishing_loses_and_doubles_nothing(app, fake_x, slack_emulator, slack_proxy, db_url, stop):
    # A card being posted when the process dies is retried (looked up first) once its lease is
    # over: 60 s in production, PUBLISH_LEASE here so the test does not sit out three of them.
    app.env["SOCIALDESK_PUBLISH_LEASE_SECONDS"] = str(PUBLISH_LEASE)
    channel = slack_emulator.new_channel("kill")
    app.cli("rules", "add", "--network", "x", "--query", "acme", "--channel", channel, "--every", "5")
    app.start()
    # The rule's first poll sees nothing: everything after it is new.
    wait_for(lambda: first_poll_stored(db_url), timeout=20, what="the rule's first poll, stored")
    posts = [fake_x.post(username=f"c{i % 5}", text=f"acme order {i} never arrived") for i in range(24)]
    for round_ in range(ROUNDS):
        # The next card reaches Slack but its answer is held: the stop comes between "posted"
        # and "ts recorded", where a publisher that does not look first posts the card twice.
        slack_proxy.hold_next("chat.postMessage")
        wait_for(lambda: slack_proxy.held("chat.postMessage"), timeout=20, what="a card in Slack, its answer held")
        if stop == "kill -9":
            app.kill9()
            slack_proxy.release()
        else:  # the answer comes once the app is stopping: a graceful stop finishes the card in hand
            releasing = threading.Thread(target=release_when_stopping, args=(app, slack_proxy, round_ + 1))
            releasing.start()
            try:
                assert app.stop(signal.SIGTERM) == 0
            finally:
                slack_proxy.release()
                releasing.join()
        app.start()
    # Settled: every case has its card recorded, so the publisher has nothing left to post (or to post again).
    wait_for(lambda: all_published(db_url) == len(posts), timeout=60, what="every case's card recorded")
    final = cards(slack_emulator, channel)
    case_ids = [case_id_of(c) for c in final]
    assert len(final) == len(posts) and len(set(case_ids)) == len(posts)
    texts = sorted(block_text(c, "post") for c in final)
    assert texts == sorted(p["text"] for p in posts)
    # Each card held at a kill -9 was found in the channel after the restart; a graceful stop recorded its own.
    assert recovered_cards(db_url) == (ROUNDS if stop == "kill -9" else 0)


@pytest.mark.both_databases
def test_a_burst_with_x_429_and_503_loses_nothing_and_waits_for_the_reset(app, fake_x, slack_emulator, db_url):
    channel = slack_emulator.new_channel("burst")
    app.cli("rules", "add", "--network", "x", "--query", "acme", "--channel", channel, "--every", "5")
    app.start()
    wait_for(lambda: fake_x.requests_to(SEARCH_PATH), timeout=10, what="the first poll")
    burst = [fake_x.post(username=f"b{i}", text=f"acme battery died {i}") for i in range(12)]
    # Queued just after a poll: the next poll (an interval, 5 s, later) gets the 503 and backs off
    # (5 s), the one after gets the 429. Its reset is RESET_IN s from now, past the poll a poller
    # that did not wait for the reset would send next.
    fake_x.unavailable_next(SEARCH_PATH)
    reset = fake_x.rate_limit_next(SEARCH_PATH, RESET_IN)
    wait_for(lambda: len(fake_x.requests_to(SEARCH_PATH)) >= 3, timeout=30, what="the 503 and the 429")
    limited_at = fake_x.requests_to(SEARCH_PATH)[2].at
    final = wait_for(lambda: (c := cards(slack_emulator, channel)) and len(c) >= 12 and c, timeout=60, what="12 cards")
    after_limit = [r.at for r in fake_x.requests_to(SEARCH_PATH) if r.at > limited_at]
    first = fake_x.requests_to(SEARCH_PATH)[0].at
    assert after_limit and min(after_limit) >= reset, (
        f"a request went out before x-rate-limit-reset (+{reset - first:.1f} s): searches at "
        f"{[f'+{r.at - first:.1f}' for r in fake_x.requests_to(SEARCH_PATH)]} s")
    # Settled: each case has its card recorded, so nothing is left to post (or to post twice).
    wait_for(lambda: all_published(db_url) == 12, timeout=30, what="every case's card recorded")
    assert len(cards(slack_emulator, channel)) == 12
    assert sorted(block_text(c, "post") for c in final) == sorted(p["text"] for p in burst)
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
