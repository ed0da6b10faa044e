"""A customer writing again: the follow-up lands in the card's thread, through the real processes."""

from __future__ import annotations

import time

from socialdesk.slack.cards import FOLLOW_UP_METADATA_TYPE
from tests.e2e.helpers import case_id_of, cards
from tests.support.waiting import wait_for


def follow_ups(slack_emulator, channel: str, card: dict) -> list[dict]:
    return [m for m in slack_emulator.replies(channel, card["ts"])[1:]
            if (m.get("metadata") or {}).get("event_type") == FOLLOW_UP_METADATA_TYPE]


def test_the_customers_next_post_goes_into_the_cards_thread(app, fake_x, slack_emulator, slack_proxy):
    channel = slack_emulator.new_channel("convo")
    app.cli("rules", "add", "--network", "x", "--query", "acme phone", "--channel", channel, "--every", "5")
    app.start()
    first = fake_x.post(username="dana_k", text="My acme phone screen cracked after one day")
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

    time.sleep(6)  # one more poll interval: no second card, no second follow-up
    assert [case_id_of(c) for c in cards(slack_emulator, channel)] == [case_id_of(card)]
    assert len(follow_ups(slack_emulator, channel, card)) == 1
