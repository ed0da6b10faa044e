"""The reply modal as the agent meets it (listeners.replies): which post it quotes (the one the
reply goes to) and who else has the case.

Called in-process against the Slack emulator, with the customer's posts on FakeX so that a
reply really goes out (the fixtures are test_replies.py's). The count under the box is in
test_reply_count.py.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from socialdesk.listeners import replies
from socialdesk.slack import ids
from socialdesk.store import ingest, lifecycle
from socialdesk.store.db import session_scope
from tests.listeners.conftest import card_of, click, opened_views
from tests.listeners.test_replies import (  # noqa: F401  (fixtures: FakeX, its settings, the customer's case)
    approvers,
    case,
    customer_post,
    desk_settings,
    fake_x,
    reply_users,
    submit,
    x_replies,
)
from tests.support.factories import x_post


def open_reply(desk, deps, slack_emulator, slack_proxy, channel: str, case: int, user: str = "alice") -> dict:
    """`user` clicks Reply on the card: the modal as the emulator holds it."""
    card = card_of(slack_emulator, channel, case)
    replies.reply_clicked(click(slack_emulator, user=user, channel=channel, card=card, action_id=ids.REPLY,
                                value=str(case)), desk.slack, deps=deps)
    return opened_views(slack_proxy, ids.REPLY_MODAL)[-1]


def block(view: dict, block_id: str) -> dict | None:
    return next((b for b in view["blocks"] if b.get("block_id") == block_id), None)


def quote_of(view: dict) -> str:
    return block(view, ids.QUOTED_POST)["text"]["text"]  # type: ignore[index]


def owner_line(view: dict) -> str | None:
    found = block(view, ids.REPLY_OWNER)
    return found["elements"][0]["text"] if found else None


def follow_up(desk, fake_x, customer_post: dict, text: str) -> dict:
    """The customer writes again in the conversation (on X, and stored into the case as the poller would)."""
    posted = fake_x.post(username="dana_k", text=text, in_reply_to=customer_post["id"])
    post = dataclasses.replace(x_post(text, handle="dana_k", post_id=posted["id"], when=datetime.now(UTC)),
                               conversation_id=customer_post["id"], in_reply_to_id=customer_post["id"], is_reply=True)
    with session_scope(desk.engine) as session:
        assert ingest.store_page(session=session, posts=[post], rule_id=None, channel_id="C-unused",
                                 now=datetime.now(UTC)).new_case_ids == []
    return posted


def test_the_modal_quotes_the_customer_s_latest_post_which_is_the_one_answered(
        desk, deps, slack_emulator, slack_proxy, fake_x, channel, case, customer_post):
    first = open_reply(desk, deps, slack_emulator, slack_proxy, channel, case)
    assert quote_of(first) == "*@dana_k* wrote:\n>@acmephones my acme phone will not charge"
    assert block(first, ids.REPLY_FIRST_POST) is None

    later = follow_up(desk, fake_x, customer_post, "@acmephones still nothing & it is at 0% <!channel>")
    view = open_reply(desk, deps, slack_emulator, slack_proxy, channel, case)
    assert quote_of(view) == ("*@dana_k* wrote again; this reply answers that latest post:\n"
                              ">@acmephones still nothing &amp; it is at 0% &lt;!channel&gt;")
    assert block(view, ids.REPLY_FIRST_POST)["elements"][0]["text"] == (  # type: ignore[index]
        "Their first post in this case: “@acmephones my acme phone will not charge”")
    # What the modal quotes is what the reply goes to.
    assert submit(replies.reply_submitted, slack_emulator, desk, deps, view, "So sorry! Please DM us.").only == {}
    [sent] = x_replies(fake_x)
    assert sent == {"text": "So sorry! Please DM us.", "reply": {"in_reply_to_tweet_id": later["id"]}}


def test_reply_on_a_case_a_teammate_owns_or_is_answering_says_so(desk, deps, slack_emulator, slack_proxy, channel,
                                                                 case):
    alice, bob = slack_emulator.users["alice"], slack_emulator.users["bob"]
    with session_scope(deps.engine) as session:
        assert lifecycle.claim(session=session, case_id=case, user_id=bob, now=deps.clock()).ok
    seen_by_alice = open_reply(desk, deps, slack_emulator, slack_proxy, channel, case)
    assert owner_line(seen_by_alice) == (
        f"🙋 *<@{bob}> owns this case.* Your reply goes out all the same: say so in the card's thread, so the "
        "customer is not answered twice.")
    # Bob, the owner, is not told he owns it; he is told alice is writing (her modal is open).
    assert owner_line(open_reply(desk, deps, slack_emulator, slack_proxy, channel, case, user="bob")) == (
        f"✍️ *<@{alice}> is writing a reply to this case right now.* If theirs goes out first, Send stops yours "
        "and says so.")
    # Now bob's modal is the open one: carol hears both at once.
    assert owner_line(open_reply(desk, deps, slack_emulator, slack_proxy, channel, case, user="carol")) == (
        f"🙋 *<@{bob}> owns this case and is writing a reply to it right now.* Your reply goes out all the same: "
        "say so in the card's thread, so the customer is not answered twice.")
    with session_scope(deps.engine) as session:
        lifecycle.set_replying(session=session, case_id=case, user_id=None, now=deps.clock())
        assert lifecycle.resolve(session=session, case_id=case, user_id=bob, now=deps.clock()).ok
    assert owner_line(open_reply(desk, deps, slack_emulator, slack_proxy, channel, case)) is None  # nobody works it

