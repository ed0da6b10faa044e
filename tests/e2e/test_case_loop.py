"""The agent's whole loop on the card, through the running app (issue #3's "done when")."""

from __future__ import annotations

import pytest

from tests.e2e.helpers import block_text, button_ids, case_id_of, ids
from tests.e2e.workspace import Workspace, input_block_id, text_value
from tests.support.waiting import wait_for


def status(ws: Workspace, case_id: int) -> str:
    return block_text(ws.card(case_id), "status")


@pytest.mark.both_databases
def test_claim_note_reply_refused_mark_resolve_and_the_customer_writes_again(app, fake_x, slack_emulator, slack_proxy):
    ws = Workspace(app, slack_emulator, slack_proxy, slack_emulator.new_channel("loop"))
    app.cli("rules", "add", "--network", "x", "--query", "acme", "--channel", ws.channel, "--every", "5")
    first = fake_x.post(username="dana_k", text="@acmephones my acme phone will not charge since the update")
    app.start()  # the rule's first poll opens the case
    [card] = wait_for(ws.cards, timeout=20, what="the card")
    case_id = case_id_of(card)

    # Claim.
    ws.click("alice", card, ids.CLAIM)
    wait_for(lambda: status(ws, case_id).startswith("🙋 <@"), timeout=10, what="claimed")

    # Note: internal, in the thread and the history.
    before = ws.views_opened()
    ws.click("alice", card, ids.NOTE)
    note_view = ws.opened_view(before, ids.NOTE_MODAL)
    empty = ws.submit("alice", note_view, text_value(ids.NOTE_INPUT, ids.NOTE_INPUT, "   "))
    assert empty.json() == {"response_action": "errors", "errors": {ids.NOTE_INPUT: "Write something, or press Cancel."}}
    assert ws.submit("alice", note_view, text_value(ids.NOTE_INPUT, ids.NOTE_INPUT, "VIP <!channel> & on plan B")).status_code == 200
    wait_for(lambda: any("Internal note" in t for t in ws.thread_texts(card)), timeout=10, what="the note in the thread")
    note_line = next(t for t in ws.thread_texts(card) if "Internal note" in t)
    assert "VIP &lt;!channel&gt; &amp; on plan B" in note_line

    # Reply: the modal marks the card, a too-long text is refused inline, then it is sent.
    before = ws.views_opened()
    ws.click("alice", card, ids.REPLY)
    reply_view = ws.opened_view(before, ids.REPLY_MODAL)
    assert reply_view["notify_on_close"] is True
    assert "Sending *publicly* as *@acmephones*" in str(reply_view["blocks"])
    wait_for(lambda: "is replying" in status(ws, case_id), timeout=10, what="the collision marker")
    block = input_block_id(reply_view, ids.REPLY_INPUT)
    too_long = ws.submit("alice", reply_view, text_value(block, ids.REPLY_INPUT, "x" * 281))
    assert too_long.json()["response_action"] == "errors"
    assert "281 characters as X counts them" in too_long.json()["errors"][block]
    text = "Sorry about that! Please try the fix at https://acme.example/help/charging-after-update-2026 🙏"
    assert ws.submit("alice", reply_view, text_value(block, ids.REPLY_INPUT, text)).status_code == 200
    sent = wait_for(lambda: fake_x.requests_to("/2/tweets", method="POST"), timeout=10, what="the reply on X")
    assert len(sent) == 1 and sent[0].json() == {"text": text, "reply": {"in_reply_to_tweet_id": first["id"]}}
    assert sent[0].headers["authorization"].startswith("OAuth ")
    wait_for(lambda: "*Replied*" in status(ws, case_id), timeout=10, what="the card to show replied")
    assert "is replying" not in status(ws, case_id)
    reply_line = wait_for(lambda: [t for t in ws.thread_texts(card) if "replied publicly" in t], timeout=10, what="thread")
    assert "https://x.com/acmephones/status/" in reply_line[0]
    # A retried submission (Slack retries, double clicks) sends nothing more.
    ws.submit("alice", reply_view, text_value(block, ids.REPLY_INPUT, text))

    # Resolve, saying how.
    assert ws.resolve("alice", ws.card(case_id), "answered").status_code == 200
    wait_for(lambda: "*Resolved* · answered" in status(ws, case_id), timeout=10, what="resolved")
    assert button_ids(ws.card(case_id))[:2] == [ids.REOPEN, ids.NOTE]

    # The customer writes again in the same conversation: same card, reopened, follow-up in the thread.
    fake_x.post(username="dana_k", text="@acmephones my acme phone is still broken after the fix :(", in_reply_to=first["id"])
    wait_for(lambda: "Reopened" in status(ws, case_id), timeout=30, what="the case to reopen")
    assert "New reply from the customer" in status(ws, case_id)
    assert "reply due" in block_text(ws.card(case_id), "status")  # a first reply is due again
    wait_for(lambda: any("still broken" in t for t in ws.thread_texts(card)), timeout=10, what="the follow-up in the thread")
    assert len(ws.cards()) == 1
    assert len(fake_x.requests_to("/2/tweets", method="POST")) == 1

    history = app.cli("case", "show", str(case_id)).stdout
    for kind in ("opened", "card_posted", "claimed", "note", "reply_requested", "reply_sent", "resolved",
                 "follow_up", "reopened"):
        assert f" {kind} " in history, (kind, history)
    assert "still broken after the fix" in history
    assert "outcome='answered'" in history
    # Who did what, by name (issue #15): users.info through the app's Slack settings.
    assert " claimed          @alice\n" in history and " note             @alice " in history, history
    assert ws.uid("alice") not in history, history


def test_a_refused_reply_offers_open_in_x_and_mark_as_replied(app, fake_x, slack_emulator, slack_proxy):
    ws = Workspace(app, slack_emulator, slack_proxy, slack_emulator.new_channel("refused"))
    fake_x.restrict_replies = True  # self-serve apps may only answer posts that mention the brand
    app.cli("rules", "add", "--network", "x", "--query", "acme", "--channel", ws.channel, "--every", "5")
    fake_x.post(username="eli", text="is the acme x2 worth it?")
    app.start()  # the rule's first poll opens the case
    [card] = wait_for(ws.cards, timeout=20, what="the card")
    case_id = case_id_of(card)
    before = ws.views_opened()
    ws.click("bob", card, ids.REPLY)
    view = ws.opened_view(before, ids.REPLY_MODAL)
    ws.submit("bob", view, text_value(input_block_id(view, ids.REPLY_INPUT), ids.REPLY_INPUT, "It is! DM us for a deal."))
    refusal = wait_for(lambda: [t for t in ws.ephemerals() if "not* sent" in t or "not sent" in t], timeout=10,
                       what="the refusal")
    assert "mention" in refusal[0].lower()
    offer = next(c for c in slack_proxy.calls_to("chat.postEphemeral") if "Mark as replied" in str(c.params.get("blocks")))
    buttons = offer.params["blocks"][1]["elements"]
    assert buttons[0]["url"].startswith("https://x.com/intent/") and "in_reply_to=" in buttons[0]["url"]
    assert buttons[1]["action_id"] == ids.MARK_REPLIED
    assert "Replied" not in status(ws, case_id)

    before = ws.views_opened()
    ws.click("bob", card, ids.MARK_REPLIED, value=buttons[1]["value"])
    mark_view = ws.opened_view(before, ids.MARK_REPLIED_MODAL)
    bad = ws.submit("bob", mark_view, text_value(ids.REPLY_URL_INPUT, ids.REPLY_URL_INPUT, "https://evil.example/x"))
    assert bad.json()["response_action"] == "errors"
    url = "https://x.com/acmephones/status/2000000000000000001"
    ws.submit("bob", mark_view, text_value(ids.REPLY_URL_INPUT, ids.REPLY_URL_INPUT, url))
    wait_for(lambda: "*Replied*" in status(ws, case_id), timeout=10, what="marked as replied")
    wait_for(lambda: any("from X's own composer" in t for t in ws.thread_texts(card)), timeout=10, what="the thread line")
    history = app.cli("case", "show", str(case_id)).stdout
    assert "reply_failed" in history and "kind='not_allowed'" in history
    assert "marked_replied" in history and "via='intent'" in history
