"""X's filtered stream end to end: FakeX serving the stream and its rules, the Slack emulator, `socialdesk run`.

A rule added with `--stream` is registered at X (tagged with its id) within seconds, a
matching post is a card within seconds (the figure is printed, never asserted), a paused
rule leaves X's rules; a dropped stream loses nothing and doubles nothing: the gap is
read once by search, and of what the stream delivered only the last minute before the drop
is searched again (X's stream is not in order: the overlap catches a post still on its way).
"""

from __future__ import annotations

import time

import pytest

from socialdesk.networks.x.fake.server import FakeX
from socialdesk.networks.x.parse import snowflake_at
from tests.e2e.helpers import block_text, case_id_of
from tests.e2e.workspace import Workspace
from tests.support.app_process import AppProcess
from tests.support.waiting import wait_for

SEARCH = "/2/tweets/search/recent"
QUERY = '"acme phone"'


def ours(fake_x: FakeX) -> dict[str, str]:
    """X's stream rules socialdesk made: tag → value."""
    return {r["tag"]: r["value"] for r in fake_x.stream_rules if str(r.get("tag", "")).startswith("socialdesk:")}


def connected(app: AppProcess, fake_x: FakeX) -> None:
    """The app's stream is connected and has fixed where its first gap ends.

    X accepts the connection a moment before the app names that moment (the log line): a
    post made in between is read by the gap's search too, by design, and a test counting
    searches must not make one then."""
    wait_for(lambda: fake_x.stream_connections() == 1, timeout=30, what="the app to connect to the stream")
    wait_for(lambda: "x stream: connected" in app.log(), timeout=30, what="the app to log its connection")


def searched(fake_x: FakeX, post_ids: list[str]) -> dict[str, int]:
    """How many recent-search answers each post was in (from the recorded requests: ids are times,
    so a request returned the posts after its since_id, before its until_id and older than itself)."""
    seen = dict.fromkeys(post_ids, 0)
    for request in fake_x.requests_to(SEARCH):
        since = int(request.query.get("since_id") or 0)
        until = int(request.query.get("until_id") or snowflake_at_time(request.at))
        for post_id in post_ids:
            if since < int(post_id) < until and QUERY.strip('"').split()[0] in request.query.get("query", ""):
                seen[post_id] += 1
    return seen


def gap_reads(fake_x: FakeX) -> list:
    """The searches of a stream's gap (bounded above by the moment the stream connected)."""
    return [r for r in fake_x.requests_to(SEARCH) if r.query.get("until_id")]


def snowflake_at_time(at: float) -> int:
    from datetime import UTC, datetime

    return snowflake_at(datetime.fromtimestamp(at, UTC))


def test_a_streamed_rule_is_at_x_within_seconds_and_its_posts_are_cards(app: AppProcess, fake_x: FakeX,
                                                                         slack_emulator, slack_proxy):
    ws = Workspace(app, slack_emulator, slack_proxy, slack_emulator.new_channel("x-stream"))
    added = app.cli("rules", "add", "--network", "x", "--query", QUERY, "--channel", ws.channel, "--stream").stdout
    assert added.strip().endswith("every 60 s, streamed")
    polled = app.cli("rules", "add", "--network", "x", "--query", "acme refund", "--channel", ws.channel).stdout
    assert "rule 2 added" in polled
    app.start()
    connected(app, fake_x)
    wait_for(lambda: ours(fake_x) == {"socialdesk:1": QUERY}, timeout=30, what="the streamed rule at X")
    # A new rule's newest page is read once by search, whenever the poller gets to it: not after this.
    wait_for(lambda: [r for r in fake_x.requests_to(SEARCH) if QUERY.strip('"') in r.query.get("query", "")],
             timeout=30, what="the streamed rule's first page")

    fake_x.post(username="sam", text="lovely weather for an acme picnic")  # no rule of ours matches it
    searches = len(fake_x.requests_to(SEARCH))
    posted = time.monotonic()
    post = fake_x.post(username="dana", text="my acme phone screen cracked, is it covered?")
    [card] = wait_for(ws.cards, timeout=20, what="the streamed post's card")
    print(f"X stream post → card: {time.monotonic() - posted:.2f} s")
    assert "acme phone screen cracked" in block_text(card, "post") and "@dana" in block_text(card, "author")
    assert [r for r in fake_x.requests_to(SEARCH)[searches:] if "acme phone" in r.query.get("query", "")] == []

    # A rule added while the app runs reaches X's rules within seconds; a paused one leaves them.
    started = time.monotonic()
    app.cli("rules", "add", "--network", "x", "--query", "acme battery", "--channel", ws.channel, "--stream")
    wait_for(lambda: ours(fake_x).get("socialdesk:3") == "acme battery", timeout=30, what="the new rule at X")
    print(f"X stream: rules add → at X's stream rules: {time.monotonic() - started:.2f} s")
    battery = fake_x.post(username="ola", text="acme battery died after a day")
    wait_for(lambda: len(ws.cards()) == 2, timeout=20, what="the new rule's card")
    started = time.monotonic()
    app.cli("rules", "pause", "1")
    wait_for(lambda: "socialdesk:1" not in ours(fake_x), timeout=30, what="the paused rule to leave X")
    print(f"X stream: rules pause → gone from X's stream rules: {time.monotonic() - started:.2f} s")
    fake_x.post(username="dana", text="another acme phone question, rule paused")
    app.cli("rules", "stream", "2", "on")
    wait_for(lambda: ours(fake_x).get("socialdesk:2") == "acme refund", timeout=30, what="the rule streamed now")
    refund = fake_x.post(username="kim", text="acme refund still missing")
    wait_for(lambda: len(ws.cards()) == 3, timeout=20, what="the refund card")
    time.sleep(2)  # nothing more may come: the paused rule's post opens nothing
    texts = sorted(block_text(c, "post") for c in ws.cards())
    assert len(texts) == 3 and [t for t in texts if "rule paused" in t] == []
    assert {case_id_of(c) for c in ws.cards()} == {1, 2, 3}
    assert post["id"] and battery["id"] and refund["id"]
    assert fake_x.stream_connections() == 1  # one connection throughout: rules change on the open stream


@pytest.mark.both_databases
def test_a_dropped_stream_loses_nothing_and_doubles_nothing(app: AppProcess, fake_x: FakeX, slack_emulator,
                                                                slack_proxy):
    ws = Workspace(app, slack_emulator, slack_proxy, slack_emulator.new_channel("x-drop"))
    app.cli("rules", "add", "--network", "x", "--query", QUERY, "--channel", ws.channel, "--stream")
    app.env["SOCIALDESK_SLACK_POST_INTERVAL"] = "0.05"
    app.start()
    connected(app, fake_x)
    wait_for(lambda: ours(fake_x), timeout=30, what="the streamed rule at X")
    # A new rule's first poll reads its newest page; the posts below come after it, so only the
    # gap's search may read any of them (a burst before that poll would be read by it, rightly).
    wait_for(lambda: [r for r in fake_x.requests_to(SEARCH) if not r.query.get("until_id")], timeout=30,
             what="the new rule's first poll")
    made: dict[str, list[str]] = {"before": [], "during": [], "after": []}

    def burst(label: str, n: int = 5) -> None:
        for i in range(n):
            made[label].append(fake_x.post(username=f"c{i}", text=f"acme phone {label} question {i}")["id"])
            fake_x.post(username=f"c{i}", text=f"unrelated chatter {label} {i}")

    burst("before")
    wait_for(lambda: len(ws.cards()) == 5, timeout=30, what="the cards before the drop")
    fake_x.refuse_stream_next(503)  # the first reconnect fails: X's policy waits 5 s, posts come meanwhile
    fake_x.drop_stream()
    wait_for(lambda: fake_x.stream_connections() == 0, timeout=10, what="the drop")
    burst("during")
    gap_searches = len(gap_reads(fake_x))
    wait_for(lambda: fake_x.stream_connections() == 1, timeout=60, what="the reconnect")
    # Posted once the gap (up to the moment of connecting) is read: a post made while the stream
    # was connecting is read by both, by design (the overlap loses nothing; its second copy is dropped).
    wait_for(lambda: len(gap_reads(fake_x)) > gap_searches, timeout=30, what="the gap's search")
    burst("after")
    wait_for(lambda: len(ws.cards()) == 15, timeout=60, what="15 cards after the drop")
    time.sleep(2)  # nothing more may arrive
    final = ws.cards()
    assert len(final) == 15 and len({case_id_of(c) for c in final}) == 15
    assert sorted(block_text(c, "post") for c in final) == sorted(
        f"acme phone {label} question {i}" for label in made for i in range(5))
    reads = searched(fake_x, [i for ids in made.values() for i in ids])
    assert {i: reads[i] for i in made["during"]} == dict.fromkeys(made["during"], 1)  # the gap: by search, once
    # The gap's search starts a minute before the newest post seen (networks/x/stream.py REWIND): the posts
    # just before the drop are read by it once more, and carded once (above).
    assert {i: reads[i] for i in made["before"]} == dict.fromkeys(made["before"], 1)
    assert {i: reads[i] for i in made["after"]} == dict.fromkeys(made["after"], 0)
