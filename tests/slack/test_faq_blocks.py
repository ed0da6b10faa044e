"""The Save as FAQ modal and the entry's thread line: pre-filled, cut to Slack's limits, escaped."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

from slack_sdk.models.blocks import ActionsBlock

from socialdesk.domain import Author, CaseStatus, CaseView, Post
from socialdesk.slack import ids
from socialdesk.slack.blocks import faq
from socialdesk.slack.blocks.card import case_card
from socialdesk.slack.blocks.faq import FaqForm

HOSTILE = "<!channel> <@U999> & <https://evil.example|click>"
WHEN = datetime(2026, 11, 27, 14, 5, tzinfo=UTC)


def form(**changes) -> FaqForm:
    base = FaqForm(case_id=7, question="Why won't my phone charge?", answer="Use the new cable.",
                   notes="batch 7 is faulty", tags=("bug",), customer="dana_k",
                   known_tags=("bug", "billing", "question"))
    return replace(base, **changes)


def blocks_of(view) -> dict[str, dict]:
    return {b["block_id"]: b for b in view.to_dict()["blocks"]}


def test_the_modal_is_pre_filled_and_carries_the_case_and_entry():
    view = faq.faq_modal(form())
    data = view.to_dict()
    assert data["callback_id"] == ids.FAQ_MODAL and data["title"]["text"] == "Save as FAQ"
    assert json.loads(data["private_metadata"]) == {"case_id": 7, "entry_id": None, "message_ts": None}
    blocks = blocks_of(view)
    for block_id, value in ((faq.QUESTION_INPUT, "Why won't my phone charge?"),
                            (faq.ANSWER_INPUT, "Use the new cable."), (faq.NOTES_INPUT, "batch 7 is faulty")):
        element = blocks[block_id]["element"]
        assert element["type"] == "plain_text_input" and element["multiline"] is True
        assert element["initial_value"] == value and element["max_length"] == 3000
        assert element["action_id"] == block_id
    assert blocks[faq.QUESTION_INPUT].get("optional", False) is False
    assert blocks[faq.NOTES_INPUT]["optional"] is True
    tags = blocks[faq.TAGS_INPUT]["element"]
    assert tags["type"] == "multi_static_select"
    assert [o["value"] for o in tags["options"]] == ["bug", "billing", "question"]
    assert [o["value"] for o in tags["initial_options"]] == ["bug"]
    assert "faq_cut" not in blocks
    assert "@dana_k's question and our answer from case #7" in blocks["faq_intro"]["elements"][0]["text"]


def test_editing_an_entry_names_it_and_keeps_a_tag_the_team_dropped():
    view = faq.faq_modal(form(entry_id=12, message_ts="1700000000.000200", tags=("legacy",), notes=""))
    data = view.to_dict()
    assert data["title"]["text"] == "Edit FAQ entry #12"
    assert json.loads(data["private_metadata"]) == {"case_id": 7, "entry_id": 12, "message_ts": "1700000000.000200"}
    blocks = blocks_of(view)
    assert [o["value"] for o in blocks[faq.TAGS_INPUT]["element"]["initial_options"]] == ["legacy"]
    assert "initial_value" not in blocks[faq.NOTES_INPUT]["element"]  # empty: the placeholder shows
    assert "FAQ entry #12, saved from case #7" in blocks["faq_intro"]["elements"][0]["text"]


def test_without_any_tags_there_is_no_tag_picker():
    assert faq.TAGS_INPUT not in blocks_of(faq.faq_modal(form(tags=(), known_tags=())))


def test_long_drafts_are_cut_to_the_text_box_limit_and_the_modal_says_so():
    long_question = "word " * 700  # 3,500 characters
    emoji_answer = "🙏" * 1600  # 1,600 characters, but 3,200 as Slack (JavaScript) counts them
    view = faq.faq_modal(form(question=long_question, answer=emoji_answer))
    blocks = blocks_of(view)
    question = blocks[faq.QUESTION_INPUT]["element"]["initial_value"]
    answer = blocks[faq.ANSWER_INPUT]["element"]["initial_value"]
    assert question.endswith("…") and long_question.startswith(question[:-1])
    assert faq.utf16_length(question) <= 3000 and faq.utf16_length(answer) <= 3000
    assert answer.endswith("…") and set(answer[:-1]) == {"🙏"}
    cut = blocks["faq_cut"]["elements"][0]["text"]
    assert "The question and the answer were longer than 3,000 characters" in cut
    assert blocks[faq.NOTES_INPUT]["element"]["initial_value"] == "batch 7 is faulty"  # short: untouched
    exactly = "x" * 3000
    assert faq.cut_for_input(exactly) == (exactly, False)


def test_hostile_text_stays_plain_in_inputs_and_is_escaped_where_slack_reads_mrkdwn():
    view = faq.faq_modal(form(question=HOSTILE, answer=HOSTILE, notes=HOSTILE, customer="<!here>",
                              tags=(HOSTILE,)))
    blocks = blocks_of(view)
    # Inputs are plain text: Slack shows them as written, nobody is pinged.
    assert blocks[faq.QUESTION_INPUT]["element"]["initial_value"] == HOSTILE
    intro = blocks["faq_intro"]["elements"][0]["text"]
    assert "<!here>" not in intro and "@&lt;!here&gt;'s question" in intro
    assert all(o["text"]["type"] == "plain_text" for o in blocks[faq.TAGS_INPUT]["element"]["options"])

    message = faq.entry_message(entry_id=3, case_id=7, question=HOSTILE, status="active", created_by="U0ALICE",
                                updated_by="U0ALICE", edited=False)
    section = message["blocks"][0]["text"]["text"]
    assert section.startswith("📖 Saved as FAQ entry #3 by <@U0ALICE>\n> ")
    assert "<!channel>" not in section and "<@U999>" not in section and "<https://evil" not in section
    assert "&lt;!channel&gt; &lt;@U999&gt; &amp; &lt;https://evil.example|click&gt;" in section
    # An actor that is not a Slack user (the CLI) is named, escaped, never turned into a mention.
    gone = faq.entry_message(entry_id=3, case_id=7, question="Q", status="withdrawn", created_by="U0ALICE",
                             updated_by="cli:<!channel>", edited=False)
    assert "<!channel>" not in gone["text"] and "`cli:&lt;!channel&gt;`" in gone["text"]


def test_the_thread_line_offers_edit_and_withdraw_until_withdrawn():
    long_question = "Why " * 200
    active = faq.entry_message(entry_id=3, case_id=7, question=long_question, status="active",
                               created_by="U0ALICE", updated_by="U0BOB", edited=True)
    assert active["text"] == "📖 Saved as FAQ entry #3 by <@U0ALICE> · edited by <@U0BOB>"
    preview = active["blocks"][0]["text"]["text"].split("\n> ", 1)[1]
    assert preview.endswith("…") and len(preview) <= faq.QUESTION_PREVIEW + 1
    buttons = active["blocks"][1]["elements"]
    assert [(b["action_id"], b["value"]) for b in buttons] == [(ids.FAQ_EDIT, "3"), (ids.FAQ_WITHDRAW, "3")]
    assert buttons[1]["style"] == "danger" and buttons[1]["confirm"]["confirm"]["text"] == "Withdraw"
    assert active["metadata"].event_type == faq.FAQ_METADATA_TYPE
    assert active["metadata"].event_payload == {"case_id": 7, "entry_id": 3}

    gone = faq.entry_message(entry_id=3, case_id=7, question="Q", status="withdrawn", created_by="U0ALICE",
                             updated_by="U0BOB", edited=True)
    assert gone["text"].startswith("🗄️ FAQ entry #3 was withdrawn by <@U0BOB> (saved by <@U0ALICE>)")
    assert len(gone["blocks"]) == 1 and gone["metadata"].event_payload == {"case_id": 7, "entry_id": 3}


def card_view(**changes) -> CaseView:
    author = Author("x", "42", "dana_k", "Dana K.", 1234)
    post = Post("x", "1578516068309794817", "https://x.com/dana_k/status/1578516068309794817", author, "hi", WHEN)
    return replace(CaseView(case_id=7, status=CaseStatus.RESOLVED, post=post, channel_id="C1", opened_at=WHEN), **changes)


def faq_button(view: CaseView) -> dict | None:
    actions = next(b for b in case_card(view).blocks if isinstance(b, ActionsBlock))
    return next((e.to_dict() for e in actions.elements if getattr(e, "action_id", None) == ids.FAQ_SAVE), None)


def test_resolved_cards_offer_save_as_faq_or_edit_faq():
    assert faq_button(card_view())["text"]["text"] == "📖 Save as FAQ"
    assert faq_button(card_view())["value"] == "7"
    assert faq_button(card_view(faq_entry_id=3))["text"]["text"] == "📖 Edit FAQ"
    for status in set(CaseStatus) - {CaseStatus.RESOLVED}:
        assert faq_button(card_view(status=status, faq_entry_id=3)) is None
