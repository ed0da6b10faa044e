"""Save as FAQ through the running app (issue #6): resolve a case, curate it, edit it, withdraw it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from socialdesk.drafting.fake import FakeChat
from tests.e2e.helpers import block_text, case_id_of, ids
from tests.e2e.workspace import Workspace, input_block_id, text_value
from tests.support.waiting import wait_for
from socialdesk.slack.blocks import faq

@pytest.fixture
def chat() -> Iterator[FakeChat]:
    with FakeChat() as server:
        yield server


REPLY = "Sorry about that! Please use the new cable from the box; the old one only charges slowly."


def faq_button(card: dict) -> str | None:
    """The label of the card's Save as FAQ button, if it has one."""
    actions = next(b for b in card["blocks"] if b["type"] == "actions")
    return next((e["text"]["text"] for e in actions["elements"] if e["action_id"] == ids.FAQ_SAVE), None)


def entry_lines(ws: Workspace, card: dict) -> list[dict]:
    return [m for m in ws.thread(card) if (m.get("metadata") or {}).get("event_type") == faq.FAQ_METADATA_TYPE]


def initial(view: dict, block_id: str) -> str | None:
    return next(b for b in view["blocks"] if b.get("block_id") == block_id)["element"].get("initial_value")


def faq_values(question: str, answer: str, notes: str, tags: list[str]) -> dict:
    values = text_value(faq.QUESTION_INPUT, faq.QUESTION_INPUT, question)
    values |= text_value(faq.ANSWER_INPUT, faq.ANSWER_INPUT, answer)
    values |= text_value(faq.NOTES_INPUT, faq.NOTES_INPUT, notes)
    values[faq.TAGS_INPUT] = {faq.TAGS_INPUT: {"type": "multi_static_select",
                                               "selected_options": [{"value": t} for t in tags]}}
    return values


def test_save_a_resolved_case_as_faq_edit_it_and_withdraw_it(app, fake_x, slack_emulator, slack_proxy, chat):
    ws = Workspace(app, slack_emulator, slack_proxy, slack_emulator.new_channel("faq"))
    app.env |= {"SOCIALDESK_LLM_URL": chat.url, "SOCIALDESK_LLM_MODEL": "fakechat"}  # drafted replies (#14)
    app.cli("rules", "add", "--network", "x", "--query", "acme", "--channel", ws.channel, "--every", "5")
    fake_x.post(username="dana_k", text="@acmephones my acme phone will not charge since the update")
    app.start()  # the rule's first poll opens the case
    [card] = wait_for(ws.cards, timeout=20, what="the card")
    case_id = case_id_of(card)

    def status() -> str:
        return block_text(ws.card(case_id), "status")

    # The case as agents work it: claim, an internal note, a public reply (FakeX), resolve.
    ws.click("alice", card, ids.CLAIM)
    wait_for(lambda: status().startswith("🙋 <@"), timeout=10, what="claimed")
    assert faq_button(ws.card(case_id)) is None  # only resolved cases are curated
    before = ws.views_opened()
    ws.click("alice", card, ids.NOTE)
    ws.submit("alice", ws.opened_view(before, ids.NOTE_MODAL),
              text_value(ids.NOTE_INPUT, ids.NOTE_INPUT, "cable batch 7 is faulty"))
    wait_for(lambda: any("Internal note" in t for t in ws.thread_texts(card)), timeout=10, what="the note")
    before = ws.views_opened()
    ws.click("alice", card, ids.REPLY)
    reply_view = ws.opened_view(before, ids.REPLY_MODAL)
    ws.submit("alice", reply_view, text_value(input_block_id(reply_view, ids.REPLY_INPUT), ids.REPLY_INPUT, REPLY))
    wait_for(lambda: "*Replied*" in status(), timeout=15, what="the reply sent on X")
    ws.resolve("alice", ws.card(case_id))
    wait_for(lambda: "*Resolved*" in status(), timeout=10, what="resolved")
    assert faq_button(ws.card(case_id)) == "📖 Save as FAQ"

    # Save as FAQ: the modal starts from the case as it happened.
    before = ws.views_opened()
    ws.click("bob", ws.card(case_id), ids.FAQ_SAVE)
    modal = ws.opened_view(before, ids.FAQ_MODAL)
    assert modal["title"]["text"] == "Save as FAQ"
    assert initial(modal, faq.QUESTION_INPUT) == "my acme phone will not charge since the update"
    assert initial(modal, faq.ANSWER_INPUT) == REPLY
    assert initial(modal, faq.NOTES_INPUT) == "cable batch 7 is faulty"

    # An empty answer is refused inline; nothing is saved.
    refused = ws.submit("bob", modal, faq_values("Why won't my phone charge?", "  ", "", []))
    assert refused.json()["response_action"] == "errors"
    assert faq.ANSWER_INPUT in refused.json()["errors"]

    question = "Why won't my Acme phone charge after the update? <!channel>"
    answer = "Use the cable that came in the box: older cables only trickle-charge after update 4.2."
    assert ws.submit("bob", modal, faq_values(question, answer, "batch 7", ["bug", "question"])).status_code == 200
    [line] = wait_for(lambda: entry_lines(ws, card), timeout=10, what="the entry's line in the thread")
    entry_id = line["metadata"]["event_payload"]["entry_id"]
    assert line["text"] == f"📖 Saved as FAQ entry #{entry_id} by <@{ws.uid('bob')}>"
    shown = line["blocks"][0]["text"]["text"]
    assert "&lt;!channel&gt;" in shown and "<!channel>" not in shown
    assert [e["action_id"] for e in line["blocks"][1]["elements"]] == [ids.FAQ_EDIT, ids.FAQ_WITHDRAW]
    wait_for(lambda: faq_button(ws.card(case_id)) == "📖 Edit FAQ", timeout=10, what="the card's Edit FAQ")
    before = ws.views_opened()
    ws.click("alice", ws.card(case_id), ids.FAQ_SAVE)  # "Edit FAQ" on the card: the entry, not a new draft
    from_card = ws.opened_view(before, ids.FAQ_MODAL)
    assert from_card["title"]["text"] == f"Edit FAQ entry #{entry_id}" and initial(from_card, faq.QUESTION_INPUT) == question

    listed = app.cli("faq", "list").stdout
    assert f"{case_id:>5}  active" in listed and "Why won't my Acme phone charge after the update?" in listed
    assert "bug,question" in listed
    assert "  @bob  " in listed and ws.uid("bob") not in listed  # who saved it, by name (issue #15)

    # Answers at hand (#14): a like question is offered the entry, Use this fills the box, and a draft
    # from the language model (FakeChat) is grounded on it, kept in the history, never sent.
    fake_x.post(username="sam_p", text="@acmephones my acme phone won't charge after the update, which cable?")
    [asking] = wait_for(lambda: [c for c in ws.cards() if case_id_of(c) != case_id], timeout=20, what="a 2nd card")
    asking_id = case_id_of(asking)
    before, drawn = ws.views_opened(), len(ws.proxy.calls_to("views.update"))
    ws.click("alice", asking, ids.REPLY)
    reply_view = ws.opened_view(before, ids.REPLY_MODAL)
    assert ids.USE_ANSWER not in str(reply_view["blocks"])  # opened at once; the answers come after

    def modal_now(count: int) -> dict:
        done = wait_for(lambda: [c for c in ws.proxy.calls_to("views.update")[drawn:] if c.response.get("ok")][count - 1:],
                        timeout=15, what=f"views.update #{count}")
        return done[-1].response["view"]

    offered = modal_now(1)
    [first, *_] = [b for b in offered["blocks"] if b.get("block_id", "").startswith(ids.ANSWERS_BLOCK + "-")]
    assert first["text"]["text"].startswith("*📖 FAQ: Why won't my Acme phone charge after the update? &lt;!channel&gt;*")
    assert first["accessory"]["value"] == f"faq:{entry_id}"
    ws.click_in_modal("alice", offered, ids.USE_ANSWER, f"faq:{entry_id}", block_id=first["block_id"])
    filled = modal_now(2)
    box = next(b for b in filled["blocks"] if b.get("block_id", "").startswith(ids.REPLY_INPUT))
    assert box["element"]["initial_value"] == answer
    ws.click_in_modal("alice", filled, ids.DRAFT_REPLY, str(asking_id), block_id=ids.DRAFT_BLOCK)
    drafted = modal_now(4)  # "drafting…", then the draft
    box = next(b for b in drafted["blocks"] if b.get("block_id", "").startswith(ids.REPLY_INPUT))
    assert box["element"]["initial_value"] == f"Sorry about that! {answer}"
    [asked] = chat.requests
    assert "which cable?" in asked.json()["messages"][1]["content"]
    history = app.cli("case", "show", str(asking_id)).stdout
    assert "reply_drafted" in history and "model='fakechat'" in history and "prompt='2 messages, " in history
    assert "which cable?" in app.cli("case", "show", str(asking_id), "--prompts").stdout.split("reply_drafted")[1]
    assert len(fake_x.requests_to("/2/tweets", method="POST")) == 1  # only the first case's reply went out

    # Edit… from the thread: pre-filled from the entry; the same thread line is updated.
    before = ws.views_opened()
    ws.click("carol", card, ids.FAQ_EDIT, value=str(entry_id), message=line)
    edit = ws.opened_view(before, ids.FAQ_MODAL)
    assert edit["title"]["text"] == f"Edit FAQ entry #{entry_id}"
    assert initial(edit, faq.QUESTION_INPUT) == question and initial(edit, faq.ANSWER_INPUT) == answer
    chosen = next(b for b in edit["blocks"] if b.get("block_id") == faq.TAGS_INPUT)["element"]["initial_options"]
    assert [o["value"] for o in chosen] == ["bug", "question"]
    ws.submit("carol", edit, faq_values("Why won't my Acme phone charge after update 4.2?", answer, "batch 7", ["bug"]))
    wait_for(lambda: "edited by" in entry_lines(ws, card)[0]["text"], timeout=10, what="the edited line")
    assert len(entry_lines(ws, card)) == 1
    assert "after update 4.2?" in app.cli("faq", "list").stdout

    # Withdraw: the line says so (no more buttons), the card offers Save as FAQ again.
    ws.click("alice", card, ids.FAQ_WITHDRAW, value=str(entry_id), message=entry_lines(ws, card)[0])
    wait_for(lambda: "was withdrawn by" in entry_lines(ws, card)[0]["text"], timeout=10, what="the withdrawn line")
    assert len(entry_lines(ws, card)[0]["blocks"]) == 1
    wait_for(lambda: faq_button(ws.card(case_id)) == "📖 Save as FAQ", timeout=10, what="the card's Save as FAQ")
    assert "no FAQ entries active" in app.cli("faq", "list").stdout
    assert f"{entry_id:>4}  {case_id:>5}  withdrawn" in app.cli("faq", "list", "--all").stdout
    again = app.cli("faq", "withdraw", str(entry_id), check=False)
    assert again.returncode == 2 and "was withdrawn by" in again.stderr

    # A stale Withdraw click is answered, not acted on.
    ws.click("bob", card, ids.FAQ_WITHDRAW, value=str(entry_id), message=line)
    wait_for(lambda: any(f"FAQ entry #{entry_id} was already withdrawn" in t for t in ws.ephemerals()),
             timeout=10, what="the refusal")

    # Saved again: a new entry. Withdrawn from the CLI: Slack shows it as a click there would.
    before = ws.views_opened()
    ws.click("bob", ws.card(case_id), ids.FAQ_SAVE)
    fresh = ws.opened_view(before, ids.FAQ_MODAL)
    assert fresh["title"]["text"] == "Save as FAQ"
    ws.submit("bob", fresh, faq_values("Does the x2 charge with old cables?", answer, "", []))
    lines = wait_for(lambda: [m for m in entry_lines(ws, card) if "Saved as FAQ" in m["text"]], timeout=10,
                     what="the new entry's line")
    second = lines[0]["metadata"]["event_payload"]["entry_id"]
    assert second != entry_id
    wait_for(lambda: faq_button(ws.card(case_id)) == "📖 Edit FAQ", timeout=10, what="the card's Edit FAQ")
    withdrawn = app.cli("faq", "withdraw", str(second))
    assert f"FAQ entry #{second} withdrawn (case #{case_id})" in withdrawn.stdout and "note:" not in withdrawn.stderr
    line_of = {m["metadata"]["event_payload"]["entry_id"]: m["text"] for m in entry_lines(ws, card)}
    assert line_of[second].startswith(f"🗄️ FAQ entry #{second} was withdrawn by `cli:")
    assert f"withdrawn by <@{ws.uid('alice')}>" in line_of[entry_id]
    assert faq_button(ws.card(case_id)) == "📖 Save as FAQ"

    history = app.cli("case", "show", str(case_id)).stdout
    curated = [row for row in history.splitlines() if " curated " in row]
    assert [next(a for a in ("saved", "edited", "withdrawn") if f"action='{a}'" in r) for r in curated] == [
        "saved", "edited", "withdrawn", "saved", "withdrawn"]
    assert "cli:" in curated[-1]


def test_only_resolved_cases_and_allowed_people_can_curate(app, fake_x, slack_emulator, slack_proxy):
    ws = Workspace(app, slack_emulator, slack_proxy, slack_emulator.new_channel("faqno"))
    app.env["SOCIALDESK_REPLY_USERS"] = slack_emulator.users["alice"]  # only alice may reply, so curate
    app.cli("rules", "add", "--network", "x", "--query", "acme", "--channel", ws.channel, "--every", "5")
    fake_x.post(username="eli", text="is the acme x2 waterproof?")
    app.start()  # the rule's first poll opens the case
    [card] = wait_for(ws.cards, timeout=20, what="the card")
    case_id = case_id_of(card)

    # A stale card (the button of a resolved case, clicked after it was reopened): a refusal, no modal.
    before = ws.views_opened()
    ws.click("alice", card, ids.FAQ_SAVE)
    wait_for(lambda: any(f"Case #{case_id} is new, not resolved" in t for t in ws.ephemerals()),
             timeout=10, what="the refusal of an unresolved case")

    ws.resolve("alice", card)
    wait_for(lambda: "*Resolved*" in block_text(ws.card(case_id), "status"), timeout=10, what="resolved")
    before = ws.views_opened()  # the resolve modal opened meanwhile
    ws.click("bob", ws.card(case_id), ids.FAQ_SAVE)
    wait_for(lambda: any(f"You can't save case #{case_id} as a FAQ entry" in t for t in ws.ephemerals()),
             timeout=10, what="the refusal of someone who may not reply")
    assert ws.views_opened() == before
