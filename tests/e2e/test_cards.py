"""From a post on X to a card in Slack, through the real processes."""

from __future__ import annotations

import time

from datetime import UTC, datetime

from tests.e2e.helpers import block_text, button_ids, case_id_of, cards, ids, nothing_to_post, polled_since
from tests.support.waiting import wait_for

HOSTILE = "<!channel> refund NOW & tell <@U0ADMIN> <https://evil.example|your bank>"


def test_one_card_per_new_original_post_and_none_for_reposts_or_own_posts(app, fake_x, slack_emulator, slack_proxy,
                                                                           db_url):
    channel = slack_emulator.new_channel("cards")
    fake_x.post(username="old_timer", text="acme phone from last week")  # before the rule: taken as the newest page
    app.cli("rules", "add", "--network", "x", "--query", "acme phone", "--channel", channel, "--every", "5")
    app.start()
    wait_for(lambda: len(cards(slack_emulator, channel)) == 1, timeout=20, what="the card of the existing post")

    posted_at = {}
    original = fake_x.post(username="dana_k", text="My acme phone screen cracked after one day")
    posted_at[original["id"]] = time.monotonic()
    fake_x.post(username="eli", text="", retweet_of=original["id"])  # a repost: no card
    fake_x.post(username="acmephones", text="We're sorry to hear about your acme phone, DM us")  # our own post
    hostile = fake_x.post(username="troll", text=f"acme phone {HOSTILE}")
    posted_at[hostile["id"]] = time.monotonic()
    long_post = fake_x.post(username="verbose", text="", long_text="acme phone review: " + "so much to say. " * 1500)

    found = wait_for(lambda: (c := cards(slack_emulator, channel)) and len(c) >= 4 and c, timeout=30,
                     what="three new cards")
    arrival = time.monotonic()
    # One more poll, and the publisher with nothing left to post: nothing more may arrive after this.
    seen = datetime.now(UTC)
    wait_for(lambda: polled_since(db_url, seen) and nothing_to_post(db_url), timeout=15,
             what="a poll after the cards, and nothing left to post")
    final = cards(slack_emulator, channel)
    assert len(final) == 4, [block_text(c, "post")[:60] for c in final]
    assert len({case_id_of(c) for c in final}) == 4
    texts = [block_text(c, "post") for c in final]
    assert texts[1] == "My acme phone screen cracked after one day"
    assert texts[2] == ("acme phone &lt;!channel&gt; refund NOW &amp; tell &lt;@U0ADMIN&gt; "
                        "&lt;https://evil.example|your bank&gt;")
    assert texts[3].endswith("|read the whole post on X>") and len(texts[3]) <= 3000
    assert all(button_ids(c) == [ids.CLAIM, ids.REPLY, ids.NOTE, ids.RESOLVE, ids.MENU] for c in final)
    assert "@dana_k" in block_text(final[1], "author")
    assert f"/status/{original['id']}" in block_text(final[1], "author")
    assert "<!channel>" not in final[2]["text"] and "<@U0ADMIN>" not in final[2]["text"]
    print(f"latency post→card (upper bound, 5 s poll): {arrival - min(posted_at.values()):.1f} s for {len(found)} cards")
    assert long_post  # posted; its card is texts[3]


def test_sigint_stops_the_app_cleanly(app):
    app.start()
    assert app.stop() == 0
    assert "stopped" in app.log()


def test_health_and_unsigned_requests(app):
    import httpx

    app.start()
    health = httpx.get(app.url + "/healthz")
    assert health.status_code == 200 and health.json() == {"ok": True}
    forged = httpx.post(app.events_url, content=b"payload=%7B%7D", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert forged.status_code == 401
    assert httpx.get(app.url + "/nope").status_code == 404
