"""Who may reply, the two-person rule, and two agents answering at once."""

from __future__ import annotations

import threading

import pytest

from tests.e2e.helpers import block_text, case_id_of, ids
from tests.e2e.workspace import Workspace, input_block_id, text_value
from tests.support.waiting import wait_for


@pytest.fixture
def ws(app, slack_emulator, slack_proxy) -> Workspace:
    return Workspace(app, slack_emulator, slack_proxy, slack_emulator.new_channel("rr"))


def start_with_card(app, fake_x, ws: Workspace, **env: str) -> dict:
    app.env.update(env)
    app.cli("rules", "add", "--network", "x", "--query", "acme", "--channel", ws.channel, "--every", "5")
    fake_x.post(username="dana_k", text="@acmephones where is my acme order?")
    app.start()  # the rule's first poll opens the case
    return wait_for(ws.cards, timeout=20, what="the card")[0]


def open_reply(ws: Workspace, user: str, card: dict) -> dict:
    before = ws.views_opened()
    ws.click(user, card, ids.REPLY)
    return ws.opened_view(before, ids.REPLY_MODAL)


def send(ws: Workspace, user: str, view: dict, text: str):
    return ws.submit(user, view, text_value(input_block_id(view, ids.REPLY_INPUT), ids.REPLY_INPUT, text))


def x_replies(fake_x) -> list:
    return fake_x.requests_to("/2/tweets", method="POST")


def test_only_allowed_users_may_reply_and_refusals_are_audited(app, fake_x, ws, slack_emulator):
    card = start_with_card(app, fake_x, ws, SOCIALDESK_REPLY_USERS=slack_emulator.users["alice"])
    before = ws.views_opened()
    ws.click("bob", card, ids.REPLY)
    wait_for(lambda: any("can't send public replies" in t for t in ws.ephemerals()), timeout=10, what="the refusal")
    assert ws.views_opened() == before  # no modal for bob
    history = app.cli("case", "show", str(case_id_of(card))).stdout
    assert "reply_refused" in history and " @bob " in history  # by name (issue #15), not by Slack id
    view = open_reply(ws, "alice", card)
    send(ws, "alice", view, "On its way, tracking in your DMs!")
    wait_for(lambda: x_replies(fake_x), timeout=10, what="alice's reply")


def test_by_default_the_case_channels_members_may_reply(app, fake_x, ws, slack_emulator):
    slack_emulator.call("conversations.kick", channel=ws.channel, user=slack_emulator.users["carol"])
    card = start_with_card(app, fake_x, ws)
    ws.click("carol", card, ids.REPLY)
    wait_for(lambda: any("can't send public replies" in t for t in slack_emulator.ephemeral_texts(ws.channel))
             or any(c.params.get("user") == slack_emulator.users["carol"] for c in ws.proxy.calls_to("chat.postEphemeral")),
             timeout=10, what="carol's refusal")
    assert x_replies(fake_x) == []


def test_replies_by_non_approvers_wait_for_an_approver(app, fake_x, ws, slack_emulator):
    card = start_with_card(app, fake_x, ws, SOCIALDESK_APPROVERS=slack_emulator.users["alice"])
    view = open_reply(ws, "bob", card)
    send(ws, "bob", view, "We'll refund you today.")
    request = wait_for(lambda: [m for m in ws.thread(card) if "needs approval" in m.get("text", "")], timeout=10,
                       what="the approval request")[0]
    assert x_replies(fake_x) == []
    approve = next(e for b in request["blocks"] if b["type"] == "actions" for e in b["elements"]
                   if e["action_id"] == ids.APPROVE_REPLY)
    ws.click("bob", card, ids.APPROVE_REPLY, value=approve["value"], message=request)  # not an approver
    wait_for(lambda: any("Only the approvers" in t for t in ws.ephemerals()), timeout=10, what="bob's refusal")
    assert x_replies(fake_x) == []
    ws.click("alice", card, ids.APPROVE_REPLY, value=approve["value"], message=request)
    [sent] = wait_for(lambda: x_replies(fake_x), timeout=10, what="the approved reply")
    assert sent.json()["text"] == "We'll refund you today."
    wait_for(lambda: any("approved by" in t for t in ws.thread_texts(card)), timeout=10, what="the sent line")
    ws.click("alice", card, ids.APPROVE_REPLY, value=approve["value"], message=request)  # a second click
    wait_for(lambda: any("Nothing done" in t for t in ws.ephemerals()), timeout=10, what="the stale answer")
    assert len(x_replies(fake_x)) == 1
    history = app.cli("case", "show", str(case_id_of(card))).stdout
    assert "reply_approved" in history and "reply_sent" in history


@pytest.mark.both_databases
def test_two_agents_replying_at_once_send_one_reply(app, fake_x, ws):
    card = start_with_card(app, fake_x, ws)
    alice_view, bob_view = open_reply(ws, "alice", card), open_reply(ws, "bob", card)
    barrier = threading.Barrier(2)
    answers = {}

    def submit(user, view):
        barrier.wait()
        answers[user] = send(ws, user, view, f"Hi from {user}, we're on it!")

    threads = [threading.Thread(target=submit, args=a) for a in (("alice", alice_view), ("bob", bob_view))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wait_for(lambda: "*Replied*" in block_text(ws.card(case_id_of(card)), "status"), timeout=15, what="replied")
    # The loser hears it in the modal (the other reply was already out) or right after (both in flight).
    in_modal = [u for u, r in answers.items() if r.content and "replied to this customer while you were writing" in r.text]
    wait_for(lambda: in_modal or any("at the same moment" in t for t in ws.ephemerals()), timeout=10,
             what="the loser told")
    assert len(x_replies(fake_x)) == 1


def test_an_approver_can_edit_before_sending(app, fake_x, ws, slack_emulator):
    card = start_with_card(app, fake_x, ws, SOCIALDESK_APPROVERS=slack_emulator.users["alice"])
    view = open_reply(ws, "bob", card)
    send(ws, "bob", view, "We'll refund you today!!!")
    request = wait_for(lambda: [m for m in ws.thread(card) if "needs approval" in m.get("text", "")], timeout=10,
                       what="the approval request")[0]
    edit = next(e for b in request["blocks"] if b["type"] == "actions" for e in b["elements"]
                if e["action_id"] == ids.EDIT_REPLY)
    before = ws.views_opened()
    ws.click("alice", card, ids.EDIT_REPLY, value=edit["value"], message=request)
    modal = ws.opened_view(before, ids.APPROVE_EDIT_MODAL)
    assert "We'll refund you today!!!" in str(modal["blocks"])
    block = input_block_id(modal, ids.REPLY_INPUT)
    too_long = ws.submit("alice", modal, text_value(block, ids.REPLY_INPUT, "y" * 300))
    assert too_long.json()["response_action"] == "errors"
    ws.submit("alice", modal, text_value(block, ids.REPLY_INPUT, "We'll refund you today."))
    [sent] = wait_for(lambda: x_replies(fake_x), timeout=10, what="the edited reply")
    assert sent.json()["text"] == "We'll refund you today."
    wait_for(lambda: any("approved <@" in t for t in ws.thread_texts(card)), timeout=10, what="the decision line")
