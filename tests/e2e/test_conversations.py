"""A customer writing again: the follow-up lands in the card's thread, through the real processes."""

from __future__ import annotations

from datetime import UTC, datetime

from socialdesk.slack.cards import FOLLOW_UP_METADATA_TYPE
from tests.e2e.helpers import case_id_of, cards, nothing_to_post, polled_since
from tests.support.waiting import wait_for


def follow_ups(slack_emulator, channel: str, card: dict) -> list[dict]:
    return [m for m in slack_emulator.replies(channel, card["ts"])[1:]
            if (m.get("metadata") or {}).get("event_type") == FOLLOW_UP_METADATA_TYPE]


def test_the_customers_next_post_goes_into_the_cards_thread(app, fake_x, slack_emulator, slack_proxy, db_url):
    channel = slack_emulator.new_channel("convo")
    app.cli("rules", "add", "--network", "x", "--query", "acme phone", "--channel", channel, "--every", "5")
    first = fake_x.post(username="dana_k", text="My acme phone screen cracked after one day")
    app.start()  # the rule's first poll opens the case
    [card] = wait_for(lambda: cards(slack_emulator, channel), timeout=20, what="the card")

    # We answer from X (our own account: never a case), and the customer answers us.
    ours = fake_x.post(username="acmephones", text="@dana_k sorry about your acme phone! DM us", in_reply_to=first["id"])
    again = fake_x.post(username="dana_k", text="@acmephones acme phone still <!channel> broken & no DM",
                        in_reply_to=ours["id"])
    assert again["conversation_id"] == first["id"]
    [message] = wait_for(lambda: follow_ups(slack_emulator, channel, card), timeout=20, what="the follow-up")
    assert message["metadata"]["event_payload"]["case_id"] == case_id_of(card)
    assert "still &lt;!channel&gt; broken &amp; no DM" in message["blocks"][0]["text"]["text"]
    assert f"/status/{again['id']}" in message["blocks"][1]["elements"][0]["text"]
    wait_for(lambda: [c for c in slack_proxy.calls_to("chat.update") if c.params.get("ts") == card["ts"]],
             timeout=10, what="the card refreshed after the follow-up")

    # One more poll (it reads the conversation again), and the publisher with nothing left to post:
    # no second card, no second follow-up can come after this.
    seen = datetime.now(UTC)
    wait_for(lambda: polled_since(db_url, seen) and nothing_to_post(db_url), timeout=15,
             what="a poll after the follow-up, and nothing left to post")
    assert [case_id_of(c) for c in cards(slack_emulator, channel)] == [case_id_of(card)]
    assert len(follow_ups(slack_emulator, channel, card)) == 1
