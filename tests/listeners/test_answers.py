"""Answers at hand in the reply modal (listeners.answers), called in-process against the Slack emulator.

The modal opens first, then one views.update draws the suggestions in; "Use this" puts an
answer in a new reply box (Slack shows a new initial value only in a block it has not seen).
What the app sent and what the emulator then held is read from the proxy in front of it.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest

from socialdesk.listeners import answers, replies
from socialdesk.slack import ids
from socialdesk.store import curated, lifecycle, retention
from socialdesk.store.db import session_scope
from socialdesk.store.models import CaseRow, PostRow, ReplyRow
from tests.listeners.conftest import (
    SECRET,
    Acks,
    card_of,
    click,
    in_modal,
    input_block,
    opened_views,
    publish_cases,
    redrawn,
    sent_texts,
    submission,
    text_input,
    updates,
)
from tests.support.in_process import post
from tests.support.slack_signing import sign
from tests.support.waiting import wait_for

CHARGE_ANSWER = "Hold the power button for 30 s, then charge it with the cable from the box."
SCREEN_ANSWER = "A cracked screen is covered for a year: book a repair at acme.example/repair."
ASKING = "@acmephones my phone will not charge after the update"


def resolve_with_reply(desk, case_id: int, text: str) -> None:
    now = datetime.now(UTC)
    with session_scope(desk.engine) as session:
        session.add(ReplyRow(case_id=case_id, key=f"answered-{case_id}", agent="UALICE", text=text, status="sent",
                             created_at=now - timedelta(hours=1), sent_at=now - timedelta(hours=1)))
        assert lifecycle.resolve(session=session, case_id=case_id, user_id="UALICE", now=now).ok


def save_faq(desk, case_id: int, question: str, answer: str) -> int:
    with session_scope(desk.engine) as session:
        return curated.save_entry(session=session, case_id=case_id, question=question, answer=answer, notes="",
                                  tags=[], actor="UALICE", now=datetime.now(UTC)).id


@pytest.fixture
def known(desk, channel) -> dict[str, int]:
    """Cases answered before: the charging one by a reply, the screen one as a FAQ entry."""
    charge, screen, camera = publish_cases(desk, channel, [
        "@acmephones acme phone will not charge since the update", "@acmephones screen cracked, warranty?",
        "@acmephones love the camera"])
    resolve_with_reply(desk, charge, "@cust0 " + CHARGE_ANSWER)
    resolve_with_reply(desk, screen, "@cust1 DM us please.")
    resolve_with_reply(desk, camera, "@cust2 Thank you!")
    entry = save_faq(desk, screen, "Is a cracked screen covered by the warranty?", SCREEN_ANSWER)
    return {"charge": charge, "screen": screen, "entry": entry}


def open_reply(desk, deps, slack_emulator, channel: str, case: int) -> None:
    card = card_of(slack_emulator, channel, case)
    replies.reply_clicked(click(slack_emulator, user="alice", channel=channel, card=card, action_id=ids.REPLY,
                                value=str(case)), desk.slack, deps=deps)


def shown_answers(view: dict) -> list[dict]:
    return [b for b in view["blocks"] if b.get("block_id", "").startswith(ids.ANSWERS_BLOCK + "-")]


def use(desk, deps, slack_emulator, view: dict, key: str, values: dict | None = None) -> None:
    action = {"type": "button", "block_id": f"{ids.ANSWERS_BLOCK}-0", "action_id": ids.USE_ANSWER, "value": key,
              "action_ts": f"{time.time():.6f}"}
    answers.use_clicked(in_modal(slack_emulator, view, action, values or {}), desk.slack, deps=deps)


def test_the_modal_opens_first_then_shows_the_answers_at_hand(desk, deps, slack_emulator, slack_proxy, channel,
                                                             known):
    [asking] = publish_cases(desk, channel, [ASKING])
    open_reply(desk, deps, slack_emulator, channel, asking)
    [opened] = opened_views(slack_proxy, ids.REPLY_MODAL)
    assert shown_answers(opened) == []  # views.open did not wait for them
    [call] = updates(slack_proxy)
    assert slack_proxy.calls.index(call) > slack_proxy.calls.index(slack_proxy.calls_to("views.open")[0])
    assert (call.params["view_id"], call.params["hash"]) == (opened["id"], opened["hash"])
    shown = redrawn(slack_proxy)
    [first, *_] = shown_answers(shown)
    assert first["text"]["text"] == f"*✅ answered case #{known['charge']}*\n{CHARGE_ANSWER}"
    assert first["accessory"] == {"type": "button", "action_id": ids.USE_ANSWER, "value": f"case:{known['charge']}",
                                  "text": {"type": "plain_text", "text": "Use this", "emoji": True}}
    # Everything else as it was: the same box (what the agent typed stays), count, metadata.
    assert input_block(shown) == input_block(opened)
    assert shown["private_metadata"] == opened["private_metadata"]
    heading = next(b for b in shown["blocks"] if b.get("block_id") == ids.ANSWERS_BLOCK)
    assert shown["blocks"].index(heading) < shown["blocks"].index(first) < shown["blocks"].index(input_block(shown))


def test_a_faq_entry_is_offered_with_its_question(desk, deps, slack_emulator, slack_proxy, channel, known):
    [asking] = publish_cases(desk, channel, ["@acmephones my screen cracked, is it covered by the warranty?"])
    open_reply(desk, deps, slack_emulator, channel, asking)
    [first, *_] = shown_answers(redrawn(slack_proxy))
    assert first["text"]["text"] == f"*📖 FAQ: Is a cracked screen covered by the warranty?*\n{SCREEN_ANSWER}"
    assert first["accessory"]["value"] == f"faq:{known['entry']}"


def test_nothing_is_redrawn_when_nothing_matches(desk, deps, slack_emulator, slack_proxy, channel, known):
    [asking] = publish_cases(desk, channel, ["@acmephones what a lovely sunset"])
    open_reply(desk, deps, slack_emulator, channel, asking)
    assert len(opened_views(slack_proxy, ids.REPLY_MODAL)) == 1 and updates(slack_proxy) == []


def test_use_this_puts_the_answer_in_a_new_box_and_keeps_the_rest(desk, deps, slack_emulator, slack_proxy, channel,
                                                                  known):
    [asking] = publish_cases(desk, channel, [ASKING])
    open_reply(desk, deps, slack_emulator, channel, asking)
    shown = redrawn(slack_proxy)
    use(desk, deps, slack_emulator, shown, f"case:{known['charge']}")  # the box untouched
    filled = redrawn(slack_proxy)
    box = input_block(filled)
    assert box["block_id"] == f"{ids.REPLY_INPUT}-1" and box["element"]["initial_value"] == CHARGE_ANSWER
    assert box["element"]["action_id"] == ids.REPLY_INPUT and box["dispatch_action"] is True
    count = next(b for b in filled["blocks"] if b.get("block_id") == ids.REPLY_COUNT)
    assert count["elements"][0]["text"] == f"{len(CHARGE_ANSWER)}/280 characters, as X counts them"
    assert json.loads(filled["private_metadata"])["revision"] == 1
    assert shown_answers(filled) == shown_answers(shown)  # the other answers are still at hand
    assert updates(slack_proxy)[-1].params["hash"] == shown["hash"]

    # Sent as it is, from the new box: its block id is the one the submission's errors name.
    ack = replies_ack(desk, deps, slack_emulator, filled, "x" * 300)
    assert list(ack["errors"]) == [f"{ids.REPLY_INPUT}-1"]


def test_use_this_keeps_what_the_agent_typed_and_puts_the_answer_after_it(desk, deps, slack_emulator, slack_proxy,
                                                                         channel, known):
    [asking] = publish_cases(desk, channel, [ASKING])
    open_reply(desk, deps, slack_emulator, channel, asking)
    shown = redrawn(slack_proxy)
    typed = "Hi, so sorry about this! "
    use(desk, deps, slack_emulator, shown, f"case:{known['charge']}",
        {input_block(shown)["block_id"]: {ids.REPLY_INPUT: {"type": "plain_text_input", "value": typed}}})
    box = input_block(redrawn(slack_proxy))
    assert box["block_id"] == f"{ids.REPLY_INPUT}-1"
    assert box["element"]["initial_value"] == f"{typed.rstrip()}\n\n{CHARGE_ANSWER}"


def replies_ack(desk, deps, slack_emulator, view: dict, text: str) -> dict:
    acks = Acks()
    replies.reply_submitted(acks, submission(slack_emulator, user="alice", view=view, values=text_input(
        input_block(view)["block_id"], text, ids.REPLY_INPUT)), desk.slack, deps=deps)
    return acks.only


def test_a_saved_reply_keeps_the_answers_at_hand(desk, deps, slack_emulator, slack_proxy, channel, known):
    [asking] = publish_cases(desk, channel, [ASKING])
    open_reply(desk, deps, slack_emulator, channel, asking)
    shown = redrawn(slack_proxy)
    chosen = {"type": "static_select", "block_id": "saved", "action_id": ids.SAVED_REPLY,
              "selected_option": {"value": "0"}, "action_ts": f"{time.time():.6f}"}
    replies.saved_reply_chosen(in_modal(slack_emulator, shown, chosen, {}), desk.slack, deps=deps)
    saved = redrawn(slack_proxy)
    assert input_block(saved)["block_id"] == f"{ids.REPLY_INPUT}-1"
    assert input_block(saved)["element"]["initial_value"] != input_block(shown)["element"].get("initial_value")
    assert shown_answers(saved) == shown_answers(shown)
    use(desk, deps, slack_emulator, saved, f"case:{known['charge']}")  # then an answer: the next box again
    assert input_block(redrawn(slack_proxy))["block_id"] == f"{ids.REPLY_INPUT}-2"


def test_use_this_puts_an_untrusted_answer_in_the_box_as_plain_text(desk, deps, slack_emulator, slack_proxy, channel,
                                                                    known):
    """How a hostile answer is shown (escaped, cut): tests/slack/test_answer_blocks.py."""
    hostile = "<!channel> *Refund* <@U0BOSS> & " + "long words " * 60
    with session_scope(desk.engine) as session:
        curated.update_entry(session=session, entry_id=known["entry"], question="<!here> screen cracked?",
                             answer=hostile, notes="", tags=[], actor="UBOB", now=datetime.now(UTC))
    [asking] = publish_cases(desk, channel, ["@acmephones screen cracked, warranty?"])
    open_reply(desk, deps, slack_emulator, channel, asking)
    [opened] = opened_views(slack_proxy, ids.REPLY_MODAL)
    # The modal as it is now (its suggestions drawn in, if any): "Use this" works by the answer's key.
    now_shown = [c.response["view"] for c in updates(slack_proxy) if c.response.get("ok")] or [opened]
    use(desk, deps, slack_emulator, now_shown[-1], f"faq:{known['entry']}")
    assert input_block(redrawn(slack_proxy))["element"]["initial_value"] == hostile.strip()  # plain text in the box


def test_an_answer_gone_meanwhile_is_told_and_a_stale_click_loses_cleanly(desk, deps, slack_emulator, slack_proxy,
                                                                         channel, known):
    [asking] = publish_cases(desk, channel, ["@acmephones screen cracked, warranty?"])
    open_reply(desk, deps, slack_emulator, channel, asking)
    shown = redrawn(slack_proxy)
    with session_scope(desk.engine) as session:
        curated.withdraw_entry(session=session, entry_id=known["entry"], actor="UBOB", now=datetime.now(UTC))
    use(desk, deps, slack_emulator, shown, f"faq:{known['entry']}")
    assert sent_texts(slack_proxy, "chat.postMessage", channel=slack_emulator.users["alice"]) == [answers.GONE]
    for forged in ("faq:1 OR 1=1", "case:424242", ""):
        use(desk, deps, slack_emulator, shown, forged)
    assert len(updates(slack_proxy)) == 1  # only the suggestions' own

    use(desk, deps, slack_emulator, shown, f"case:{known['charge']}")  # fresh: drawn
    first = input_block(redrawn(slack_proxy))
    use(desk, deps, slack_emulator, shown, f"case:{known['charge']}")  # a double click: its hash is gone now
    assert [c.response.get("error") for c in updates(slack_proxy)] == [None, None, "hash_conflict", None]
    assert input_block(redrawn(slack_proxy)) == first  # drawn again without the hash: the same box


def test_use_this_clicked_as_a_keystroke_s_count_redraw_lands_still_puts_the_answer_in(
        desk, deps, slack_emulator, slack_proxy, channel, known):
    [asking] = publish_cases(desk, channel, [ASKING])
    open_reply(desk, deps, slack_emulator, channel, asking)
    shown = redrawn(slack_proxy)
    block = input_block(shown)["block_id"]
    typed = text_input(block, "Hi, so sorry!", ids.REPLY_INPUT)
    keystroke = {"type": "plain_text_input", "block_id": block, "action_id": ids.REPLY_INPUT, "value": "Hi, so sorry!",
                 "action_ts": f"{time.time():.6f}"}
    replies.reply_typed(in_modal(slack_emulator, shown, keystroke, typed), desk.slack, deps=deps)  # changes the hash
    use(desk, deps, slack_emulator, shown, f"case:{known['charge']}", typed)  # the click carried the older hash
    assert [c.response.get("error") for c in updates(slack_proxy)][-2:] == ["hash_conflict", None]
    box = input_block(redrawn(slack_proxy))["element"]["initial_value"]
    assert box.startswith("Hi, so sorry!") and CHARGE_ANSWER in box


def test_a_removed_post_gets_no_suggestions(desk, deps, slack_emulator, slack_proxy, channel, known):
    [asking] = publish_cases(desk, channel, [ASKING])
    with session_scope(desk.engine) as session:
        external_id = session.get(PostRow, session.get(CaseRow, asking).first_post_id).external_id
        retention.mark_removed_at_source(session=session, network="x", external_ids=[external_id],
                                         reason="deleted", now=datetime.now(UTC))
    open_reply(desk, deps, slack_emulator, channel, asking)
    assert updates(slack_proxy) == []


def test_use_this_through_bolt_is_acked_then_drawn(desk, deps, slack_emulator, slack_proxy, channel, known):
    [asking] = publish_cases(desk, channel, [ASKING])
    open_reply(desk, deps, slack_emulator, channel, asking)
    shown = redrawn(slack_proxy)
    action = {"type": "button", "block_id": f"{ids.ANSWERS_BLOCK}-0", "action_id": ids.USE_ANSWER,
              "value": f"case:{known['charge']}", "action_ts": f"{time.time():.6f}"}
    body = urlencode({"payload": json.dumps(in_modal(slack_emulator, shown, action, {}))}).encode()
    answer = post(desk, body, sign(body, SECRET))
    assert (answer.status, answer.body) == (200, b"")
    wait_for(lambda: len([c for c in updates(slack_proxy) if c.response.get("ok")]) == 2, timeout=10,
             what="the answer in the box")
    assert input_block(redrawn(slack_proxy))["element"]["initial_value"] == CHARGE_ANSWER


def test_without_a_language_model_there_is_no_draft_button(desk, deps, slack_emulator, slack_proxy, channel, known):
    assert deps.drafter is None  # SOCIALDESK_LLM_URL unset
    [asking] = publish_cases(desk, channel, [ASKING])
    open_reply(desk, deps, slack_emulator, channel, asking)
    for view in (*opened_views(slack_proxy, ids.REPLY_MODAL), redrawn(slack_proxy)):
        assert ids.DRAFT_REPLY not in json.dumps(view["blocks"])
        assert all(b.get("block_id") != ids.DRAFT_BLOCK for b in view["blocks"])
