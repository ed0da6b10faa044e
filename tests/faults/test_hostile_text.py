"""Hostile text in posts, through the running app: every post becomes one card, shown as text.

Slack mrkdwn control sequences (`<!channel>`, `<@U…>`, links with a forged label), control
characters, a right-to-left override and a 25,000-character note post: none pings anyone,
none breaks the card (Slack refuses a section over 3,000 characters), nothing is lost.
"""

from __future__ import annotations

from tests.e2e.helpers import block_text, cards
from tests.support.waiting import wait_for

HOSTILE = [
    "acme <!channel> <!here> refund me NOW",
    "acme <@U0SOCIALDK> <#C0GENERAL|general> *bold* _it_ ~st~ `code`",
    "acme <https://evil.example|https://acme.com/support> click",
    "acme \u202eevil\u202c \u200b\u200bzero width \x07\x1b[31m escape",
    "acme & &amp; &lt;script&gt; <script>alert(1)</script>",
]


def test_hostile_posts_become_escaped_cards_and_none_is_lost(app, fake_x, slack_emulator):
    channel = slack_emulator.new_channel("hostile")
    app.cli("rules", "add", "--network", "x", "--query", "acme", "--channel", channel, "--every", "5")
    posts = [fake_x.post(username=f"h{i}", text=text) for i, text in enumerate(HOSTILE)]
    posts.append(fake_x.post(username="longread", text="", long_text="acme " + "ünïcödé <!channel> " * 1250))
    app.start()
    found = wait_for(lambda: (c := cards(slack_emulator, channel)) and len(c) >= len(posts) and c,
                     timeout=30, what="a card per hostile post")
    assert len(found) == len(posts)
    shown = [block_text(card, "post") if any(b.get("block_id") == "post" for b in card["blocks"])
             else card["blocks"][1]["text"]["text"] for card in found]
    everything = " ".join(shown)
    for control in ("<!channel>", "<!here>", "<@U0SOCIALDK>", "<#C0GENERAL", "<https://evil.example", "<script>"):
        assert control not in everything, control  # shown escaped, so Slack treats it as text
    assert "&lt;!channel&gt;" in everything and "&lt;script&gt;" in everything
    assert all(len(text) <= 3000 for card in found for b in card["blocks"]
               for text in [((b.get("text") or {}).get("text") or "")])  # Slack's limit for a section
    assert "\x1b" not in everything and "\x07" not in everything  # control characters dropped
    log = app.log()
    assert "Traceback" not in log and "invalid_blocks" not in log
