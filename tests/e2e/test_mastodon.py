"""Mastodon end to end: a local instance (REST and streaming), the Slack emulator and `socialdesk run` (issue #12)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from socialdesk.networks.mastodon.fake.rest import FakeMastodon
from tests.e2e.helpers import block_text, case_id_of, ids
from tests.e2e.workspace import Workspace, input_block_id, text_value
from tests.support.app_process import AppProcess
from tests.support.waiting import wait_for

LIMIT = 120  # the instance's own limit, not Mastodon's default 500: the modal must use it


@pytest.fixture
def instance() -> Iterator[FakeMastodon]:
    with FakeMastodon(max_characters=LIMIT) as server:
        yield server


@pytest.fixture
def masto_app(app: AppProcess, instance: FakeMastodon) -> AppProcess:
    app.env.update(SOCIALDESK_MASTODON_URL=instance.url, SOCIALDESK_MASTODON_TOKEN=instance.world.brand_token)
    return app


def live(instance: FakeMastodon, *streams: tuple[str, str | None]) -> None:
    for stream, tag in streams:
        assert instance.streaming.wait_for_subscription(stream, tag, timeout=30), f"the app did not subscribe to {stream}"


def test_a_hashtag_post_and_a_mention_are_cards_within_a_second_and_a_reply_reaches_the_instance(
        masto_app, instance, slack_emulator, slack_proxy):
    ws = Workspace(masto_app, slack_emulator, slack_proxy, slack_emulator.new_channel("masto"))
    world = instance.world
    added = masto_app.cli("rules", "add", "--network", "mastodon", "--query", "#acmephones", "--channel", ws.channel,
                          "--every", "60").stdout
    assert "rule 1 added: mastodon" in added
    mentions = masto_app.cli("rules", "add", "--network", "mastodon", "--kind", "mentions", "--account",
                             f"acmecare@{world.domain}", "--channel", ws.channel, "--every", "60").stdout
    assert "rule 2 added: mastodon" in mentions
    masto_app.start()
    live(instance, ("hashtag", "acmephones"), ("user:notification", None))

    dana = world.add_account("dana", "Dana K.", domain="other.example", followers=4321)
    world.add_status(dana, "off topic, no tag")
    posted = time.monotonic()
    first = world.add_status(dana, "My #AcmePhones X3 screen cracked 😢 is that covered?")
    [card] = wait_for(ws.cards, timeout=20, what="the hashtag card")
    print(f"Mastodon hashtag post → card: {time.monotonic() - posted:.2f} s")
    case_id = case_id_of(card)
    author = block_text(card, "author")
    assert "🐘 Mastodon" in author and "Dana K." in author and "@dana@other.example" in author
    assert "4,321 followers" in author
    assert "#AcmePhones X3 screen cracked" in block_text(card, "post") and "<p>" not in str(card["blocks"])

    ola = world.add_account("ola", "Ola")
    posted = time.monotonic()
    asked = world.add_status(ola, f"@acmecare@{world.domain} my order is late, help?", visibility="direct")
    wait_for(lambda: len(ws.cards()) == 2, timeout=20, what="the mention's card")
    print(f"Mastodon mention → card: {time.monotonic() - posted:.2f} s")
    [mention_card] = [c for c in ws.cards() if case_id_of(c) != case_id]
    assert "my order is late" in block_text(mention_card, "post")
    assert f"@ola@{world.domain}" in block_text(mention_card, "author")

    # An edit rewrites the card; the card says it was edited.
    world.edit_status(first["id"], "My #AcmePhones X3 screen cracked 😢 is that covered? It was in its case!")
    wait_for(lambda: "It was in its case!" in block_text(ws.card(case_id), "post"), timeout=20,
             what="the card to show the edit")
    assert "edited" in block_text(ws.card(case_id), "author")

    # Reply from the card: over the instance's limit is refused in the modal; the reply keeps the visibility.
    ws.click("alice", card, ids.CLAIM)
    before = ws.views_opened()
    ws.click("alice", ws.card(case_id), ids.REPLY)
    view = ws.opened_view(before, ids.REPLY_MODAL)
    assert f"{LIMIT}" in str(view["blocks"])
    block = input_block_id(view, ids.REPLY_INPUT)
    [box] = [b["element"] for b in view["blocks"] if b.get("block_id") == block]
    assert box["initial_value"] == "@dana@other.example "  # the reply addresses her, counted from the start
    too_long = ws.submit("alice", view, text_value(block, ids.REPLY_INPUT, "x" * (LIMIT + 1)))
    assert too_long.json()["response_action"] == "errors"
    assert f"{LIMIT + 1 - LIMIT} too many" in too_long.json()["errors"][block]
    text = "So sorry! Acme Care covers it: https://acme.example/care/claims/screen-repair-program"
    assert ws.submit("alice", view, text_value(block, ids.REPLY_INPUT, text)).status_code == 200
    [create] = wait_for(lambda: instance.requests("/api/v1/statuses", method="POST"), timeout=15,
                        what="the reply at the instance")
    sent = create.form or create.json
    assert sent["in_reply_to_id"] == first["id"]
    assert sent["visibility"] == "public"  # as the customer's post (the direct mention below gets a direct one)
    assert sent["status"] == f"@dana@other.example {text}"
    assert create.headers.get("idempotency-key")
    wait_for(lambda: "*Replied*" in block_text(ws.card(case_id), "status"), timeout=10,
             what="the card to show replied")
    replied = wait_for(lambda: [t for t in ws.thread_texts(card) if "replied publicly" in t], timeout=10,
                       what="the reply in the thread")
    assert "View the reply on Mastodon" in replied[0]

    # The customer answers the reply (no tag: it comes as a mention of us): it joins the case.
    [ours] = [s for s in world.statuses.values() if s["in_reply_to_id"] == first["id"]]
    world.add_status(dana, f"@acmecare@{world.domain} thanks, booking it now", reply_to=ours["id"])
    wait_for(lambda: any("booking it now" in t for t in ws.thread_texts(card)), timeout=20, what="the follow-up")

    # The direct mention gets a direct reply.
    before = ws.views_opened()
    ws.click("alice", mention_card, ids.REPLY)
    view = ws.opened_view(before, ids.REPLY_MODAL)
    block = input_block_id(view, ids.REPLY_INPUT)
    assert ws.submit("alice", view, text_value(block, ids.REPLY_INPUT, "Checking your order now.")).status_code == 200
    wait_for(lambda: len(instance.requests("/api/v1/statuses", method="POST")) == 2, timeout=15,
             what="the second reply")
    direct = instance.requests("/api/v1/statuses", method="POST")[-1]
    assert (direct.form or direct.json)["visibility"] == "direct"
    assert (direct.form or direct.json)["in_reply_to_id"] == asked["id"]

    # A delete marks the card.
    world.delete_status(first["id"])
    wait_for(lambda: "deleted" in block_text(ws.card(case_id), "post").lower(), timeout=20,
             what="the card to say the post was deleted")
    assert "screen cracked" not in str(ws.card(case_id)["blocks"])
    assert len(ws.cards()) == 2
    keys = [r.headers.get("idempotency-key") for r in instance.requests("/api/v1/statuses", method="POST")]
    assert len(keys) == len(set(keys)) == 2


@pytest.mark.both_databases
def test_a_dropped_stream_and_a_kill_9_lose_and_duplicate_nothing(masto_app, instance, slack_emulator, slack_proxy):
    ws = Workspace(masto_app, slack_emulator, slack_proxy, slack_emulator.new_channel("masto-faults"))
    masto_app.cli("rules", "add", "--network", "mastodon", "--query", "#acmephones", "--channel", ws.channel)
    masto_app.env["SOCIALDESK_SLACK_POST_INTERVAL"] = "0.05"
    # The killed process's stream lease (30 s in production) holds the stream from the restarted one.
    masto_app.env["SOCIALDESK_STREAM_LEASE_SECONDS"] = "4"
    masto_app.start()
    live(instance, ("hashtag", "acmephones"))
    world = instance.world
    people = [world.add_account(f"c{i}", f"Customer {i}", domain="other.example") for i in range(6)]
    made: list[str] = []

    def burst(n: int, label: str) -> None:
        for i in range(n):
            made.append(world.add_status(people[i % 6], f"#acmephones {label} question {i}")["id"])
            world.add_status(people[i % 6], f"unrelated chatter {label} {i}")
            time.sleep(0.01)

    burst(10, "before")
    instance.streaming.drop_connections()  # mid-burst: the app reconnects and reads the gap from REST
    burst(10, "across-drop")
    wait_for(lambda: len(ws.cards()) == 20, timeout=60, what="20 cards after the drop")
    time.sleep(2.5)  # the cursor of what was carded is stored
    masto_app.kill9()
    burst(10, "while-down")  # read from the tag timeline when the app is back
    masto_app.start()
    wait_for(lambda: len(ws.cards()) == 30, timeout=60, what="30 cards after the restart")
    time.sleep(3)  # nothing more may arrive
    final = ws.cards()
    assert len(final) == 30 and len({case_id_of(c) for c in final}) == 30
    texts = sorted(block_text(c, "post") for c in final)
    assert texts == sorted(f"#acmephones {label} question {i}" for label in ("before", "across-drop", "while-down")
                           for i in range(10))
    assert len(instance.streaming.connections) >= 3
