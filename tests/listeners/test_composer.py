"""The reply modal as the agent meets it (listeners.replies): which post it quotes (the one the
reply goes to, also when the customer writes again meanwhile), who else has the case, and what
a saved reply does to a typed draft.

Called in-process against the Slack emulator, with the customer's posts on FakeX so that a
reply really goes out (fixtures as in test_replies.py). The count under the box is in
test_reply_count.py.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from socialdesk.jobs.publish import Publisher
from socialdesk.listeners import replies
from socialdesk.networks.x.fake.server import FakeX
from socialdesk.slack import ids
from socialdesk.store import ingest, lifecycle
from socialdesk.store.db import session_scope
from tests.listeners.conftest import (
    Acks,
    card_of,
    click,
    in_modal,
    input_block,
    opened_views,
    redrawn,
    submission,
    text_input,
)
from tests.support.factories import x_post

X_TOKEN = "composer-bearer"


@pytest.fixture
def fake_x() -> Iterator[FakeX]:
    with FakeX(bearer_token=X_TOKEN, own_username="acmephones", require_user_context=True) as server:
        yield server


@pytest.fixture
def desk_settings(fake_x) -> dict[str, str]:
    keys = fake_x.oauth1_keys
    return {"SOCIALDESK_X_API_URL": fake_x.url, "SOCIALDESK_X_BEARER_TOKEN": X_TOKEN,
            "SOCIALDESK_X_API_KEY": keys.consumer_key, "SOCIALDESK_X_API_SECRET": keys.consumer_secret,
            "SOCIALDESK_X_ACCESS_TOKEN": keys.token, "SOCIALDESK_X_ACCESS_SECRET": keys.token_secret}


@pytest.fixture
def customer_post(fake_x) -> dict:
    return fake_x.post(username="dana_k", text="@acmephones my acme phone will not charge")


@pytest.fixture
def case(desk, customer_post, channel) -> int:
    """The customer's post on FakeX, stored as a case whose card is in `channel`."""
    with session_scope(desk.engine) as session:
        [case_id] = ingest.store_posts(session=session, posts=[x_post(customer_post["text"], handle="dana_k",
                                                                      post_id=customer_post["id"])],
                                       rule_id=None, channel_id=channel, now=datetime.now(UTC))
    Publisher(engine=desk.engine, slack=desk.slack, clock=lambda: datetime.now(UTC), post_interval=0).run_once()
    return case_id


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
    assert send(desk, deps, slack_emulator, view, "So sorry! Please DM us.") == {}
    [sent] = [r.json() for r in fake_x.requests_to("/2/tweets", method="POST")]
    assert sent == {"text": "So sorry! Please DM us.", "reply": {"in_reply_to_tweet_id": later["id"]}}



def send(desk, deps, slack_emulator, view: dict, text: str) -> dict:
    """Alice presses Send with `text` in the box: the submission's answer (the ack)."""
    ack = Acks()
    replies.reply_submitted(ack, submission(slack_emulator, user="alice", view=view, values=text_input(
        input_block(view)["block_id"], text, ids.REPLY_INPUT)), desk.slack, deps=deps)
    return ack.only


def test_a_post_from_the_customer_while_the_reply_is_written_is_shown_before_anything_is_sent(
        desk, deps, slack_emulator, slack_proxy, fake_x, channel, case, customer_post):
    view = open_reply(desk, deps, slack_emulator, slack_proxy, channel, case)
    assert json.loads(view["private_metadata"])["answering"] == customer_post["id"]
    later = follow_up(desk, fake_x, customer_post, "@acmephones hello?? it is still dead")
    answer = send(desk, deps, slack_emulator, view, "Sorry! Please DM us your order number.")
    assert answer["response_action"] == "update" and fake_x.requests_to("/2/tweets", method="POST") == []
    updated = answer["view"]
    assert block(updated, ids.REPLY_NEWER)["elements"][0]["text"].startswith(  # type: ignore[index]
        "🔔 *@dana_k wrote again while you were writing*, so nothing was sent.")
    assert quote_of(updated) == ("*@dana_k* wrote again; this reply answers that latest post:\n"
                                 ">@acmephones hello?? it is still dead")
    box = input_block(updated)  # the agent's text kept, in a new box (Slack shows a new initial value only there)
    assert (box["block_id"], box["element"]["initial_value"]) == (f"{ids.REPLY_INPUT}-1",
                                                                 "Sorry! Please DM us your order number.")
    assert json.loads(updated["private_metadata"])["answering"] == later["id"]

    # Slack takes the view as the answer says (here through views.update); sent from it, the reply goes out.
    held = desk.slack.views_update(view_id=view["id"], view=updated)["view"]
    assert send(desk, deps, slack_emulator, held, "Sorry! Please DM us your order number.") == {}
    [sent] = [r.json() for r in fake_x.requests_to("/2/tweets", method="POST")]
    assert sent["reply"] == {"in_reply_to_tweet_id": later["id"]}


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


def choose_saved(desk, deps, slack_emulator, view: dict, typed: str | None, index: int = 0) -> None:
    """The agent picks saved reply `index` with `typed` in the box (None: the box as the modal opened)."""
    chosen = {"type": "static_select", "block_id": "saved", "action_id": ids.SAVED_REPLY,
              "selected_option": {"value": str(index)}, "action_ts": f"{time.time():.6f}"}
    values = {} if typed is None else text_input(input_block(view)["block_id"], typed, ids.REPLY_INPUT)
    replies.saved_reply_chosen(in_modal(slack_emulator, view, chosen, values), desk.slack, deps=deps)


def test_a_saved_reply_follows_a_typed_draft_instead_of_replacing_it(desk, deps, slack_emulator, slack_proxy,
                                                                     channel, case):
    untouched = open_reply(desk, deps, slack_emulator, slack_proxy, channel, case)
    choose_saved(desk, deps, slack_emulator, untouched, None)
    saved = input_block(redrawn(slack_proxy))["element"]["initial_value"]
    assert saved.startswith("Hi @dana_k, we're sorry to hear that.")  # an empty box takes the saved reply

    typed = "Hi Dana, thanks for the photo of the charger.  \n"
    view = open_reply(desk, deps, slack_emulator, slack_proxy, channel, case)
    choose_saved(desk, deps, slack_emulator, view, typed)
    shown = redrawn(slack_proxy)
    box = input_block(shown)
    assert box["block_id"] == f"{ids.REPLY_INPUT}-1"  # a new box: Slack shows a new initial value only there
    assert box["element"]["initial_value"] == "Hi Dana, thanks for the photo of the charger.\n\n" + saved
    count = block(shown, ids.REPLY_COUNT)["elements"][0]["text"]  # type: ignore[index]
    assert count.startswith(f"{len(box['element']['initial_value'])}/280 characters")  # counted as it now stands
    assert json.loads(shown["private_metadata"])["revision"] == 1

    # The next saved reply goes after both, read from the new box.
    choose_saved(desk, deps, slack_emulator, shown, box["element"]["initial_value"], index=2)
    again = input_block(redrawn(slack_proxy))
    assert again["block_id"] == f"{ids.REPLY_INPUT}-2"
    assert again["element"]["initial_value"].startswith(box["element"]["initial_value"] + "\n\nHi @dana_k, thanks")
