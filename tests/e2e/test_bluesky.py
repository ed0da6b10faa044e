"""Bluesky end to end: a local Jetstream and PDS, the Slack emulator and `socialdesk run` (issue #10's "done when")."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from socialdesk.networks.bluesky.fake.jetstream import FakeJetstream
from socialdesk.networks.bluesky.fake.pds import FakeBluesky
from tests.support.bluesky import local_jetstream
from tests.e2e.helpers import block_text, case_id_of, ids
from tests.e2e.workspace import Workspace, input_block_id, text_value
from tests.support.app_process import AppProcess
from tests.support.waiting import wait_for

BRAND, PASSWORD = "acmephones.bsky.social", "e2e-app-password"


@pytest.fixture
def pds() -> Iterator[FakeBluesky]:
    with FakeBluesky(brand_handle=BRAND, brand_password=PASSWORD) as server:
        yield server


@pytest.fixture
def jetstream(pds: FakeBluesky) -> Iterator[FakeJetstream]:
    with local_jetstream(pds) as server:
        yield server


@pytest.fixture
def bsky_app(app: AppProcess, pds: FakeBluesky, jetstream: FakeJetstream) -> AppProcess:
    app.env.update(SOCIALDESK_BLUESKY_HANDLE=BRAND, SOCIALDESK_BLUESKY_APP_PASSWORD=PASSWORD,
                   SOCIALDESK_BLUESKY_SERVICE_URL=pds.url, SOCIALDESK_BLUESKY_JETSTREAM_URL=jetstream.url)
    return app


def status(ws: Workspace, case_id: int) -> str:
    return block_text(ws.card(case_id), "status")


def live(jetstream: FakeJetstream) -> None:
    wait_for(lambda: jetstream.live_connections >= 1, timeout=30, what="the app's Jetstream connection")


def test_a_post_is_a_card_in_about_a_second_and_a_reply_reaches_the_pds(bsky_app, pds, jetstream, slack_emulator,
                                                                        slack_proxy):
    ws = Workspace(bsky_app, slack_emulator, slack_proxy, slack_emulator.new_channel("bsky"))
    added = bsky_app.cli("rules", "add", "--network", "bluesky", "--query", "acme -giveaway", "--channel", ws.channel,
                         "--every", "60").stdout
    assert "rule 1 added: bluesky" in added
    bsky_app.start()
    live(jetstream)
    dana = pds.world.add_account("dana.bsky.social", "Dana K.", followers=4321)
    pds.world.add_post(dana, "acme giveaway!!! click here")  # excluded by the rule
    posted = time.monotonic()
    first = pds.world.add_post(dana, "My acme phone fell and the screen cracked 😢 is that covered?")
    [card] = wait_for(ws.cards, timeout=20, what="the card")
    latency = time.monotonic() - posted
    print(f"Jetstream post → card: {latency:.2f} s")
    case_id = case_id_of(card)
    author = block_text(card, "author")
    assert "🦋 Bluesky" in author and "Dana K." in author and "@dana.bsky.social" in author
    assert "4,321 followers" in author
    rkey = first["uri"].rsplit("/", 1)[1]
    assert f"https://bsky.app/profile/dana.bsky.social/post/{rkey}" in str(card["blocks"])

    # Reply from the card: 301 graphemes are refused in the modal; the reply carries root, parent and facets.
    ws.click("alice", card, ids.CLAIM)
    before = ws.views_opened()
    ws.click("alice", ws.card(case_id), ids.REPLY)
    view = ws.opened_view(before, ids.REPLY_MODAL)
    assert "Bluesky allows 300 characters" in str(view["blocks"])
    block = input_block_id(view, ids.REPLY_INPUT)
    too_long = ws.submit("alice", view, text_value(block, ids.REPLY_INPUT, "👍🏽" * 301))
    assert too_long.json()["response_action"] == "errors"
    assert "301 characters as Bluesky counts them" in too_long.json()["errors"][block]
    text = "@dana.bsky.social so sorry! Acme Care covers it: https://acme.example/care #acmecare"
    assert ws.submit("alice", view, text_value(block, ids.REPLY_INPUT, text)).status_code == 200
    [create] = wait_for(lambda: pds.requests("/xrpc/com.atproto.repo.createRecord", method="POST"), timeout=15,
                        what="the reply at the PDS")
    record = create.json["record"]
    assert record["text"] == text
    assert record["reply"]["parent"] == {"uri": first["uri"], "cid": first["cid"]}
    assert record["reply"]["root"] == {"uri": first["uri"], "cid": first["cid"]}
    encoded = text.encode()
    spans = {f["features"][0]["$type"].rsplit("#", 1)[1]: encoded[f["index"]["byteStart"]:f["index"]["byteEnd"]]
             for f in record["facets"]}
    assert spans == {"mention": b"@dana.bsky.social", "link": b"https://acme.example/care", "tag": b"#acmecare"}
    wait_for(lambda: "*Replied*" in status(ws, case_id), timeout=10, what="the card to show replied")
    replied = wait_for(lambda: [t for t in ws.thread_texts(card) if "replied publicly" in t], timeout=10,
                       what="the reply in the thread")
    assert f"https://bsky.app/profile/{BRAND}/post/" in replied[0] and "View the reply on Bluesky" in replied[0]

    # The customer answers in the thread (no keyword): it joins the case. Then deletes her first post.
    pds.world.add_post(dana, "thanks, booking it now", reply_to=first["uri"])
    wait_for(lambda: any("booking it now" in t for t in ws.thread_texts(card)), timeout=20, what="the follow-up")
    pds.world.delete_post(first["uri"])
    wait_for(lambda: "deleted" in block_text(ws.card(case_id), "post").lower(), timeout=20,
             what="the card to say the post was deleted")
    assert "screen cracked" not in str(ws.card(case_id)["blocks"])
    assert len(ws.cards()) == 1
    assert len(pds.requests("/xrpc/com.atproto.repo.createRecord", method="POST")) == 1


@pytest.mark.both_databases
def test_a_dropped_stream_and_a_kill_9_lose_and_duplicate_nothing(bsky_app, pds, jetstream, slack_emulator,
                                                                   slack_proxy):
    ws = Workspace(bsky_app, slack_emulator, slack_proxy, slack_emulator.new_channel("bsky-faults"))
    bsky_app.cli("rules", "add", "--network", "bluesky", "--query", "acme", "--channel", ws.channel)
    bsky_app.env["SOCIALDESK_SLACK_POST_INTERVAL"] = "0.05"
    # The killed process's stream lease (30 s in production) holds the stream from the restarted one.
    bsky_app.env["SOCIALDESK_STREAM_LEASE_SECONDS"] = "4"
    bsky_app.start()
    live(jetstream)
    people = [pds.world.add_account(f"c{i}.bsky.social", f"Customer {i}") for i in range(6)]
    made: list[str] = []

    def burst(n: int, label: str) -> None:
        for i in range(n):
            made.append(pds.world.add_post(people[i % 6], f"acme {label} question {i}")["uri"])
            pds.world.add_post(people[i % 6], f"unrelated chatter {label} {i}")
            time.sleep(0.01)

    burst(10, "before")
    jetstream.drop_connections()  # mid-burst: the app reconnects from its cursor
    burst(10, "across-drop")
    wait_for(lambda: len(ws.cards()) == 20, timeout=60, what="20 cards after the drop")
    time.sleep(2.5)  # the cursor of what was carded is stored
    bsky_app.kill9()
    burst(10, "while-down")  # replayed from the stored cursor when the app is back
    bsky_app.start()
    wait_for(lambda: len(ws.cards()) == 30, timeout=60, what="30 cards after the restart")
    time.sleep(3)  # nothing more may arrive
    final = ws.cards()
    assert len(final) == 30 and len({case_id_of(c) for c in final}) == 30
    texts = sorted(block_text(c, "post") for c in final)
    assert texts == sorted(f"acme {label} question {i}" for label in ("before", "across-drop", "while-down")
                           for i in range(10))
    assert len(jetstream.connections) >= 3
