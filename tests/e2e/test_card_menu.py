"""The overflow menu's modals and saved replies, through the running app."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlencode

from tests.e2e.helpers import block_text, case_id_of, ids
from tests.e2e.workspace import Workspace, input_block_id
from tests.support.slack_signing import FORM, block_actions_body, post_signed
from tests.support.waiting import wait_for


def select_value(block_id: str, action_id: str, value: str) -> dict:
    return {block_id: {action_id: {"type": "static_select", "selected_option": {"value": value}}}}


def test_ignore_tags_reopen_and_saved_replies(app, fake_x, slack_emulator, slack_proxy):
    ws = Workspace(app, slack_emulator, slack_proxy, slack_emulator.new_channel("menu"))
    app.cli("rules", "add", "--network", "x", "--query", "acme", "--channel", ws.channel, "--every", "5")
    fake_x.post(username="dana_k", text="@acmephones is the acme x2 waterproof?")
    app.start()  # the rule's first poll opens the case
    [card] = wait_for(ws.cards, timeout=20, what="the card")
    case_id = case_id_of(card)

    # Tags & priority.
    before = ws.views_opened()
    ws.click("alice", card, ids.MENU, value=f"{ids.MENU_TAGS}:{case_id}", action_type="overflow")
    tags = ws.opened_view(before, ids.TAGS_MODAL)
    values = {ids.TAGS_INPUT: {ids.TAGS_INPUT: {"type": "multi_static_select",
                                                "selected_options": [{"value": "question"}, {"value": "bug"}]}}}
    values |= select_value(ids.PRIORITY_INPUT, ids.PRIORITY_INPUT, "high")
    ws.submit("alice", tags, values)
    wait_for(lambda: "High priority" in block_text(ws.card(case_id), "status"), timeout=10, what="the tags")
    assert "`#bug` `#question`" in block_text(ws.card(case_id), "status")

    # Ignore as spam, then reopen.
    before = ws.views_opened()
    ws.click("bob", ws.card(case_id), ids.MENU, value=f"{ids.MENU_IGNORE}:{case_id}", action_type="overflow")
    ignore = ws.opened_view(before, ids.IGNORE_MODAL)
    refused = ws.submit("bob", ignore, {})
    assert refused.json()["response_action"] == "errors"
    ws.submit("bob", ignore, select_value(ids.IGNORE_REASON_INPUT, ids.IGNORE_REASON_INPUT, "spam"))
    wait_for(lambda: "Ignored* as spam" in block_text(ws.card(case_id), "status"), timeout=10, what="ignored")
    ws.click("bob", ws.card(case_id), ids.REOPEN)
    wait_for(lambda: "Reopened" in block_text(ws.card(case_id), "status"), timeout=10, what="reopened")

    # A saved reply fills the reply modal (views.update), keeping what Slack shows in sync.
    before = ws.views_opened()
    ws.click("alice", ws.card(case_id), ids.REPLY)
    reply = ws.opened_view(before, ids.REPLY_MODAL)
    body = block_actions_body(
        user_id=ws.uid("alice"), user_name="alice", team_id=slack_emulator.team_id, channel_id=ws.channel,
        message_ts=card["ts"], action_id=ids.SAVED_REPLY, value="0", trigger_id=slack_emulator.trigger_id("alice"),
        action_type="static_select")
    payload = json.loads(parse_qs(body.decode())["payload"][0])
    payload.pop("message", None)
    payload.pop("channel", None)
    payload["container"] = {"type": "view", "view_id": reply["id"]}
    payload["view"] = reply
    response = post_signed(app.events_url, urlencode({"payload": json.dumps(payload)}).encode(),
                           app.signing_secret, FORM)
    assert response.status_code == 200
    updated = wait_for(lambda: [c.response["view"] for c in slack_proxy.calls_to("views.update") if c.response.get("ok")],
                       timeout=10, what="the modal filled in")[-1]
    block = input_block_id(updated, ids.REPLY_INPUT)
    assert block == f"{ids.REPLY_INPUT}-1"
    filled = next(b for b in updated["blocks"] if b.get("block_id") == block)["element"]["initial_value"]
    assert filled.startswith("Hi @dana_k, we're sorry to hear that.") and "{agent}" not in filled

    history = app.cli("case", "show", str(case_id)).stdout
    for kind in ("tagged", "ignored", "reopened"):
        assert f" {kind} " in history
