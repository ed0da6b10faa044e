"""The reply modal's live count (listeners.replies.reply_typed): the reply box dispatches each
keystroke as a block_actions payload; the listener acks, then redraws the count under the box
with views.update, as the network (or its server) counts the reply.

Payloads are built as Slack sends them from a modal (the view as the container, the text in
`view.state.values`); what the app sent and what the Slack emulator then held is read from the
proxy in front of it. A modal's redraws go one at a time, the newest keystroke last
(listeners.redraws); a test passes its own `Redraws`, or none for the hash alone. Kept apart
from test_replies.py, which holds sending and approvals.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from datetime import UTC, datetime
from urllib.parse import urlencode

import httpx
import pytest

from socialdesk.jobs.publish import Publisher
from socialdesk.listeners import replies
from socialdesk.listeners.redraws import Redraws
from socialdesk.networks import registry
from socialdesk.slack import ids
from socialdesk.store import ingest
from socialdesk.store.db import session_scope
from tests.listeners.conftest import (
    SECRET,
    Acks,
    card_of,
    click,
    in_modal,
    input_block,
    opened_views,
    payload,
    publish_cases,
    redrawn,
    submission,
    text_input,
    updates,
)
from tests.support.factories import x_post
from tests.support.in_process import post
from tests.support.slack_signing import sign
from tests.support.waiting import wait_for

HOSTILE = "*Refund* _now_ ~all~ `x` <!channel> <!here> @here <@U0BOSS> &lt; & >"  # 68 characters, for X too


@pytest.fixture
def case(desk, channel) -> int:
    [case_id] = publish_cases(desk, channel, ["@acmephones my acme phone will not charge"])
    return case_id


def open_reply(desk, deps, slack_emulator, slack_proxy, channel: str, case: int) -> dict:
    """Reply clicked on the card: the modal as the emulator holds it (with its id and hash)."""
    card = card_of(slack_emulator, channel, case)
    replies.reply_clicked(click(slack_emulator, user="alice", channel=channel, card=card, action_id=ids.REPLY,
                                value=str(case)), desk.slack, deps=deps)
    return opened_views(slack_proxy, ids.REPLY_MODAL)[-1]


def count_of(view: dict) -> dict:
    """The count line under the reply box (its one text element)."""
    [block] = [b for b in view["blocks"] if b.get("block_id") == ids.REPLY_COUNT]
    assert view["blocks"].index(block) == view["blocks"].index(input_block(view)) + 1  # right under the box
    [element] = block["elements"]
    return element


def typing(slack_emulator, view: dict, text: str, *, at: float | None = None) -> bytes:
    """What Slack sends when the agent types in the reply box: the text is the box's value now."""
    block = input_block(view)["block_id"]
    action = {"type": "plain_text_input", "block_id": block, "action_id": ids.REPLY_INPUT, "value": text,
              "action_ts": f"{time.time() if at is None else at:.6f}"}
    body = in_modal(slack_emulator, view, action, text_input(block, text, ids.REPLY_INPUT))
    return urlencode({"payload": json.dumps(body)}).encode()


def type_in(desk, deps, slack_emulator, view: dict, text: str, redraws: Redraws | None = None, **at: float) -> None:
    replies.reply_typed(payload(typing(slack_emulator, view, text, **at)), desk.slack, deps=deps, redraws=redraws)


def test_the_reply_box_dispatches_each_keystroke_and_shows_the_count_from_the_start(
        desk, deps, slack_emulator, slack_proxy, channel, case):
    view = open_reply(desk, deps, slack_emulator, slack_proxy, channel, case)
    box = input_block(view)
    assert box["dispatch_action"] is True
    assert box["element"]["dispatch_action_config"] == {"trigger_actions_on": ["on_character_entered"]}
    assert box["hint"]["text"] == registry.info("x").text_hint
    assert count_of(view) == {"type": "plain_text", "text": "0/280 characters, as X counts them", "emoji": False}


def test_typing_is_acked_before_the_redraw_and_the_box_keeps_its_ids(desk, deps, slack_emulator, slack_proxy,
                                                                     channel, case):
    view = open_reply(desk, deps, slack_emulator, slack_proxy, channel, case)
    gate = threading.Event()

    def held(params: dict, authorization: str) -> dict:  # Slack slow to take the update: the ack must not wait
        gate.wait(10)
        return httpx.post(slack_proxy.upstream + "views.update", json=params,
                          headers={"Authorization": authorization}, timeout=10).json()

    slack_proxy.answer("views.update", held)
    try:
        body = typing(slack_emulator, view, "  Sorry to hear that! DM us.\n")
        answer = post(desk, body, sign(body, SECRET))  # through Bolt, signed, as Slack sends it
        assert (answer.status, answer.body) == (200, b"") and updates(slack_proxy) == []
    finally:
        gate.set()
    wait_for(lambda: [c for c in updates(slack_proxy) if c.response.get("ok")], timeout=10, what="the redraw")
    [call] = updates(slack_proxy)
    assert call.params["view_id"] == view["id"] and call.params["hash"] == view["hash"]
    held_now = redrawn(slack_proxy)
    assert count_of(held_now)["text"] == "26/280 characters, as X counts them"  # as sent: stripped
    # Only the count changed: the same box (block and action ids) is what makes Slack keep the typed text.
    assert input_block(held_now) == input_block(view)
    others = [b for b in held_now["blocks"] if b.get("block_id") != ids.REPLY_COUNT]
    assert others == [b for b in view["blocks"] if b.get("block_id") != ids.REPLY_COUNT]
    assert {k: held_now[k] for k in ("callback_id", "private_metadata", "title", "submit", "notify_on_close")} == {
        k: view[k] for k in ("callback_id", "private_metadata", "title", "submit", "notify_on_close")}


def test_over_the_limit_and_hostile_text_are_counted_in_plain_text(desk, deps, slack_emulator, slack_proxy,
                                                                    channel, case):
    view = open_reply(desk, deps, slack_emulator, slack_proxy, channel, case)
    type_in(desk, deps, slack_emulator, view, "充" * 141)  # 141 by len(), 282 as X counts them
    view = redrawn(slack_proxy)
    assert count_of(view)["text"] == "⚠️ 282/280 characters, as X counts them: 2 too many. Shorten it to send."

    type_in(desk, deps, slack_emulator, view, HOSTILE)
    view = redrawn(slack_proxy)
    assert count_of(view) == {"type": "plain_text", "text": "68/280 characters, as X counts them", "emoji": False}
    shown = json.dumps(view["blocks"])  # the reply is Slack's to show, in the box; never copied into markup
    assert all(bit not in shown for bit in ("<!channel>", "<!here>", "@here", "<@U0BOSS>", "~all~"))


def test_a_stale_redraw_or_a_closed_modal_is_dropped_quietly(desk, deps, slack_emulator, slack_proxy, channel, case,
                                                             caplog):
    opened = open_reply(desk, deps, slack_emulator, slack_proxy, channel, case)
    with caplog.at_level(logging.DEBUG, logger="socialdesk"):
        type_in(desk, deps, slack_emulator, opened, "Hi")
        type_in(desk, deps, slack_emulator, opened, "Hi!")  # sent before the first redraw landed: its hash is old
        type_in(desk, deps, slack_emulator, dict(opened, id="VCLOSED000"), "Hi!!")  # closed (or never ours)
    assert [c.response.get("error") for c in updates(slack_proxy)] == [None, "hash_conflict", "not_found"]
    assert count_of(redrawn(slack_proxy))["text"] == "2/280 characters, as X counts them"
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []

    type_in(desk, deps, slack_emulator, redrawn(slack_proxy), "Hi!")  # the next keystroke carries the new hash
    assert count_of(redrawn(slack_proxy))["text"] == "3/280 characters, as X counts them"


def test_nothing_is_redrawn_for_what_slack_would_not_send(desk, deps, slack_emulator, slack_proxy, channel, case):
    view = open_reply(desk, deps, slack_emulator, slack_proxy, channel, case)
    meta = json.loads(view["private_metadata"])
    for forged in (dict(view, private_metadata=json.dumps(meta | {"network": "myspace"})),
                   dict(view, blocks=[b for b in view["blocks"] if b.get("block_id") != ids.REPLY_COUNT])):
        type_in(desk, deps, slack_emulator, forged, "Hi")
    type_in(desk, deps, slack_emulator, view, "a" * 3001)  # more than the box holds
    replies.reply_typed({"type": "block_actions", "view": "VNOPE"}, desk.slack, deps=deps)
    assert updates(slack_proxy) == []


def test_the_server_s_own_limit_sets_the_count_and_the_refusal(desk, deps, slack_emulator, slack_proxy, channel,
                                                               case):
    # An instance that allows 50 characters (as Network.reply_rules reports a server's own limit).
    server = dataclasses.replace(deps.networks["x"], reply_rules=lambda: dataclasses.replace(
        registry.info("x"), text_limit=50, text_hint="This server allows 50 characters."))
    ours = dataclasses.replace(deps, networks={**deps.networks, "x": server})
    text = "We are sorry about the charging trouble, please DM us."  # 54 characters
    view = open_reply(desk, ours, slack_emulator, slack_proxy, channel, case)
    assert count_of(view)["text"] == "0/50 characters, as X counts them"
    assert input_block(view)["hint"]["text"] == "This server allows 50 characters."
    type_in(desk, ours, slack_emulator, view, text)
    assert count_of(redrawn(slack_proxy))["text"] == "⚠️ 54/50 characters, as X counts them: 4 too many. Shorten it to send."
    type_in(desk, deps, slack_emulator, redrawn(slack_proxy), text)  # X's own 280
    assert count_of(redrawn(slack_proxy))["text"] == "54/280 characters, as X counts them"
    unconfigured = dataclasses.replace(deps, networks={})  # not configured here: the network's static rules
    type_in(desk, unconfigured, slack_emulator, redrawn(slack_proxy), text)
    assert count_of(redrawn(slack_proxy))["text"] == "54/280 characters, as X counts them"

    block = input_block(view)["block_id"]
    refused = ("That is 54 characters as X counts them (This server allows 50 characters): 4 too many (54/50). "
               "Shorten it, then send.")
    for handler, modal in ((replies.reply_submitted, view),
                           (replies.edited_approval, dict(view, callback_id=ids.APPROVE_EDIT_MODAL))):
        ack = Acks()
        handler(ack, submission(slack_emulator, user="alice", view=modal, values=text_input(block, text, ids.REPLY_INPUT)),
                desk.slack, deps=ours)
        assert ack.only == {"response_action": "errors", "errors": {block: refused}}, handler.__name__
    assert replies.length_error(text, replies.reply_rules(deps, "x")) is None


def test_keystrokes_racing_a_redraw_wait_and_the_newest_goes_with_its_hash(desk, deps, slack_emulator, slack_proxy,
                                                                            channel, case):
    view = open_reply(desk, deps, slack_emulator, slack_proxy, channel, case)
    redraws, arrived, gate = Redraws(), threading.Event(), threading.Event()

    def held(params: dict, authorization: str) -> dict:  # the first redraw is slow to land
        arrived.set()
        gate.wait(10)
        return httpx.post(slack_proxy.upstream + "views.update", json=params,
                          headers={"Authorization": authorization}, timeout=10).json()

    slack_proxy.answer("views.update", held)
    first = threading.Thread(target=type_in, args=(desk, deps, slack_emulator, view, "H", redraws))
    first.start()
    try:
        assert arrived.wait(10)
        # Typed while it is on its way: each carries the hash it will replace; only the newest is kept.
        type_in(desk, deps, slack_emulator, view, "Hi", redraws)
        type_in(desk, deps, slack_emulator, view, "Hi!", redraws)
        type_in(desk, deps, slack_emulator, view, "Hi?", redraws, at=time.time() - 60)  # older than one waiting
    finally:
        gate.set()
        first.join(10)
    calls = updates(slack_proxy)
    assert [c.response.get("ok") for c in calls] == [True, True]
    assert calls[0].params["hash"] == view["hash"] and calls[1].params["hash"] == calls[0].response["view"]["hash"]
    assert count_of(redrawn(slack_proxy))["text"] == "3/280 characters, as X counts them"
    type_in(desk, deps, slack_emulator, view, "Hi", redraws, at=time.time() - 30)  # older than the one drawn
    assert len(updates(slack_proxy)) == 2


def test_a_keystroke_from_before_a_saved_reply_does_not_undo_it(desk, deps, slack_emulator, slack_proxy, channel,
                                                                case):
    opened = open_reply(desk, deps, slack_emulator, slack_proxy, channel, case)
    redraws = Redraws()
    type_in(desk, deps, slack_emulator, opened, "Hel", redraws)
    chosen = {"type": "static_select", "block_id": "saved", "action_id": ids.SAVED_REPLY,
              "selected_option": {"value": "0"}, "action_ts": f"{time.time():.6f}"}
    replies.saved_reply_chosen(in_modal(slack_emulator, redrawn(slack_proxy), chosen, {}), desk.slack, deps=deps)
    saved = redrawn(slack_proxy)
    assert input_block(saved)["block_id"] == f"{ids.REPLY_INPUT}-1"  # a new box, filled with the saved reply
    # Sent before the saved reply landed: its hash is one of ours, but the view is not ours any more.
    type_in(desk, deps, slack_emulator, opened, "Hell", redraws)
    assert updates(slack_proxy)[-1].response.get("error") == "hash_conflict" and redrawn(slack_proxy) == saved
    text = input_block(saved)["element"]["initial_value"] + " Thanks!"
    type_in(desk, deps, slack_emulator, saved, text, redraws)
    assert input_block(redrawn(slack_proxy)) == input_block(saved)
    assert count_of(redrawn(slack_proxy))["text"] == f"{registry.info('x').text_length(text)}/280 characters, " \
                                                     "as X counts them"


def test_a_saved_reply_chosen_as_a_count_redraw_lands_still_goes_in(desk, deps, slack_emulator, slack_proxy,
                                                                    channel, case):
    opened = open_reply(desk, deps, slack_emulator, slack_proxy, channel, case)
    type_in(desk, deps, slack_emulator, opened, "Hel")  # its redraw landed after the click: the click's hash is stale
    chosen = {"type": "static_select", "block_id": "saved", "action_id": ids.SAVED_REPLY,
              "selected_option": {"value": "0"}, "action_ts": f"{time.time():.6f}"}
    typed = text_input(input_block(opened)["block_id"], "Hel", ids.REPLY_INPUT)
    replies.saved_reply_chosen(in_modal(slack_emulator, opened, chosen, typed), desk.slack, deps=deps)
    stale, landed = updates(slack_proxy)[-2:]
    assert stale.response.get("error") == "hash_conflict" and stale.params["hash"] == opened["hash"]
    assert landed.response.get("ok") and "hash" not in landed.params  # a count redraw changes no text: overwritten
    box = input_block(redrawn(slack_proxy))
    assert box["block_id"] == f"{ids.REPLY_INPUT}-1"
    assert box["element"]["initial_value"].startswith("Hel") and len(box["element"]["initial_value"]) > 3


def test_one_over_the_limit_reads_281_of_280_before_send_and_send_is_refused(desk, deps, slack_emulator, slack_proxy,
                                                                           channel, case):
    view = open_reply(desk, deps, slack_emulator, slack_proxy, channel, case)
    type_in(desk, deps, slack_emulator, view, "a" * 280)
    assert count_of(redrawn(slack_proxy))["text"] == "280/280 characters, as X counts them"  # at the limit: fine
    type_in(desk, deps, slack_emulator, redrawn(slack_proxy), "a" * 281)
    shown = redrawn(slack_proxy)
    assert count_of(shown)["text"] == "⚠️ 281/280 characters, as X counts them: 1 too many. Shorten it to send."
    block = input_block(shown)["block_id"]
    ack = Acks()
    replies.reply_submitted(ack, submission(slack_emulator, user="alice", view=shown,
                                            values=text_input(block, "a" * 281, ids.REPLY_INPUT)), desk.slack, deps=deps)
    assert ack.only == {"response_action": "errors", "errors": {block: (
        "That is 281 characters as X counts them (X allows 280 characters; links count 23, emoji and CJK characters "
        "count 2): 1 too many (281/280). Shorten it, then send.")}}


@pytest.mark.parametrize(("network", "shown"), [
    ("x", "⚠️ 282/280 characters, as X counts them: 2 too many. Shorten it to send."),  # an emoji weighs 2
    ("bluesky", "141/300 characters, as Bluesky counts them"),  # one grapheme each
    ("mastodon", "141/500 characters, as Mastodon counts them"),  # the instance's limit (500 unless it says)
])
def test_each_network_counts_the_reply_its_own_way(desk, deps, slack_emulator, slack_proxy, channel, network, shown):
    post = x_post("@acmephones my acme phone will not charge", handle="dana")
    post = dataclasses.replace(post, network=network, author=dataclasses.replace(post.author, network=network))
    with session_scope(desk.engine) as session:
        [case_id] = ingest.store_posts(session=session, posts=[post], rule_id=None, channel_id=channel,
                                       now=datetime.now(UTC))
    Publisher(engine=desk.engine, slack=desk.slack, clock=lambda: datetime.now(UTC), post_interval=0).run_once()
    view = open_reply(desk, deps, slack_emulator, slack_proxy, channel, case_id)
    opening = input_block(view)["element"].get("initial_value") or ""  # Mastodon's "@dana " is in the box
    type_in(desk, deps, slack_emulator, view, opening + "🙏" * (141 - len(opening)))
    assert count_of(redrawn(slack_proxy))["text"] == shown
