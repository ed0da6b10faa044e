"""Save as FAQ (listeners.faq), called in-process: the card's button, the modal, Edit… and Withdraw.

Who may curate is who may reply (by default the members of the case's channel; `emulator`
channels have every seeded user). The end-to-end tests cover the whole save/edit/withdraw
round, an empty answer, an unresolved case and someone not allowed; here are the other
refusals in the modal, stale and lost races, and the tags an entry keeps.
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from socialdesk.listeners import faq
from socialdesk.listeners.binding import run_now
from socialdesk.slack import ids
from socialdesk.slack.blocks import faq as faq_blocks
from socialdesk.slack.permissions import ReplyPermissions
from socialdesk.store import curated, lifecycle
from socialdesk.store.db import read_scope, session_scope
from tests.listeners.conftest import (
    Acks,
    AcksWatching,
    card_of,
    card_updates,
    click,
    opened_views,
    publish_cases,
    submission,
    text_input,
    told,
)

QUESTION, ANSWER = "Why won't my phone charge?", "Use the cable from the box."


@pytest.fixture
def resolved(desk, deps, channel) -> int:
    [case_id] = publish_cases(desk, channel, ["@acmephones my acme phone will not charge"])
    with session_scope(deps.engine) as session:
        lifecycle.add_note(session=session, case_id=case_id, user_id="UALICE", text="batch 7 cables", now=deps.clock())
        lifecycle.resolve(session=session, case_id=case_id, user_id="UALICE", now=deps.clock())
    return case_id


def values(question: str = QUESTION, answer: str = ANSWER, notes: str = "", tags: list[str] | None = None) -> dict:
    return (text_input(faq_blocks.QUESTION_INPUT, question) | text_input(faq_blocks.ANSWER_INPUT, answer)
            | text_input(faq_blocks.NOTES_INPUT, notes)
            | {faq_blocks.TAGS_INPUT: {faq_blocks.TAGS_INPUT: {
                "type": "multi_static_select", "selected_options": [{"value": t} for t in tags or []]}}})


def draft_modal(case_id: int) -> dict:
    return {"callback_id": ids.FAQ_MODAL, "private_metadata": json.dumps(
        {"case_id": case_id, "entry_id": None, "message_ts": None}), "blocks": []}


def submit(slack_emulator, desk, deps, modal: dict, submitted: dict, user: str = "bob") -> dict:
    ack = Acks()
    faq.modal_submitted(ack, submission(slack_emulator, user=user, view=modal, values=submitted), desk.slack,
                        deps=deps)
    return ack.only


def entries(deps) -> list:
    with read_scope(deps.engine) as session:
        return curated.list_entries(session=session)


def entry_lines(slack_emulator, channel: str, card: dict) -> list[dict]:
    return [m for m in slack_emulator.replies(channel, card["ts"])[1:]
            if (m.get("metadata") or {}).get("event_type") == faq_blocks.FAQ_METADATA_TYPE]


def faq_label(card: dict) -> str | None:
    actions = next(b for b in card["blocks"] if b["type"] == "actions")
    return next((e["text"]["text"] for e in actions["elements"] if e["action_id"] == ids.FAQ_SAVE), None)


def saved_entry(desk, deps, slack_emulator, slack_proxy, channel: str, case_id: int, tags: list[str]) -> tuple[int, dict]:
    """Save as FAQ from the card, as bob: the entry's id and its line in the thread."""
    card = card_of(slack_emulator, channel, case_id)
    faq.save_clicked(click(slack_emulator, user="bob", channel=channel, card=card, action_id=ids.FAQ_SAVE,
                           value=str(case_id)), desk.slack, deps=deps)
    modal = opened_views(slack_proxy, ids.FAQ_MODAL)[-1]
    assert submit(slack_emulator, desk, deps, modal, values(tags=tags)) == {}
    [line] = entry_lines(slack_emulator, channel, card)
    return line["metadata"]["event_payload"]["entry_id"], line


def test_the_modal_starts_from_the_case_and_a_save_posts_the_entry_and_redraws_the_card(
        desk, deps, slack_emulator, slack_proxy, channel, resolved):
    entry_id, line = saved_entry(desk, deps, slack_emulator, slack_proxy, channel, resolved, ["battery"])
    [modal] = opened_views(slack_proxy, ids.FAQ_MODAL)
    assert modal["title"]["text"] == "Save as FAQ"
    initial = {b["block_id"]: b["element"].get("initial_value") for b in modal["blocks"] if b.get("type") == "input"}
    assert initial[faq_blocks.QUESTION_INPUT] == "my acme phone will not charge"  # without the leading mention
    assert initial[faq_blocks.NOTES_INPUT] == "batch 7 cables"
    [entry] = entries(deps)
    bob = slack_emulator.users["bob"]
    assert (entry.id, entry.case_id, entry.question, entry.answer, entry.tags, entry.created_by) == (
        entry_id, resolved, QUESTION, ANSWER, ["battery"], bob)
    assert line["text"] == f"📖 Saved as FAQ entry #{entry_id} by <@{bob}>"
    card = card_of(slack_emulator, channel, resolved)
    assert faq_label(card) == "📖 Edit FAQ" and card_updates(slack_proxy, card)


def test_the_modal_refuses_oversized_texts_empty_fields_and_unknown_tags_inline(desk, deps, slack_emulator, resolved):
    modal = draft_modal(resolved)
    too_long = submit(slack_emulator, desk, deps, modal, values("q" * 3001, "a" * 3001, "n" * 3001))
    assert set(too_long["errors"]) == {faq_blocks.QUESTION_INPUT, faq_blocks.ANSWER_INPUT, faq_blocks.NOTES_INPUT}
    assert too_long["errors"][faq_blocks.NOTES_INPUT] == (
        "That note is 3,001 characters; the most is 3,000. Shorten it, or split it in two.")
    empty = submit(slack_emulator, desk, deps, modal, values(" ", "\n"))
    assert empty["errors"] == {faq_blocks.QUESTION_INPUT: "Write the question customers ask, or press Cancel.",
                               faq_blocks.ANSWER_INPUT: "Write the answer that worked, or press Cancel."}
    unknown = submit(slack_emulator, desk, deps, modal, values(tags=["battery", "vip"]))
    assert list(unknown["errors"]) == [faq_blocks.TAGS_INPUT] and "“vip” is not one of the team's tags" in unknown[
        "errors"][faq_blocks.TAGS_INPUT]
    assert entries(deps) == []


def test_the_modal_refuses_a_case_gone_reopened_or_not_the_submitter_s_to_curate(desk, deps, slack_emulator,
                                                                                 resolved):
    def question_error(modal: dict, user: str = "bob", with_deps=deps) -> str:
        answer = submit(slack_emulator, desk, with_deps, modal, values(), user=user)
        assert answer["response_action"] == "errors", answer
        return answer["errors"][faq_blocks.QUESTION_INPUT]

    gone = "This case is no longer in socialdesk's database"
    assert question_error(draft_modal(424242)).startswith(gone)
    forged = {"private_metadata": json.dumps({"case_id": resolved, "entry_id": "1 OR 1=1"})}
    assert question_error(forged).startswith(gone)  # metadata we did not write names no case
    only_alice = dataclasses.replace(deps, permissions=ReplyPermissions(
        client=desk.slack, users=frozenset({slack_emulator.users["alice"]}), groups=frozenset()))
    assert question_error(draft_modal(resolved), with_deps=only_alice) == faq.not_allowed(resolved)
    with session_scope(deps.engine) as session:
        lifecycle.reopen(session=session, case_id=resolved, user_id="UCAROL", now=deps.clock())
    assert question_error(draft_modal(resolved)) == (
        f"Case #{resolved} was reopened while you wrote this. Resolve it again, then save; copy your text first.")
    assert entries(deps) == []


def test_a_save_acks_before_asking_slack_who_may_curate_and_a_refusal_then_keeps_the_text(
        desk, deps, slack_emulator, slack_proxy, channel, resolved):
    carol = slack_emulator.users["carol"]
    slack_emulator.call("conversations.kick", channel=channel, user=carol)
    ack = AcksWatching(slack_proxy, "conversations.members")  # nothing cached: the modal opened on another replica
    faq.modal_submitted(ack, submission(slack_emulator, user="carol", view=draft_modal(resolved),
                                        values=values(notes="only batch 7")), desk.slack, deps=deps)
    assert ack.only == {} and ack.calls_before == [0]
    assert len(slack_proxy.calls_to("conversations.members")) == 1  # asked after the ack
    assert entries(deps) == []
    [said] = told(slack_proxy, carol)
    assert said.startswith(faq.not_allowed(resolved))
    assert said.endswith(f"What you wrote, not sent:\n>{QUESTION}\n>\n>{ANSWER}\n>\n>only batch 7")
    # Known now: refused in the modal, Slack not asked again.
    assert submit(slack_emulator, desk, deps, draft_modal(resolved), values(), user="carol")["errors"] == {
        faq_blocks.QUESTION_INPUT: faq.not_allowed(resolved)}
    assert len(slack_proxy.calls_to("conversations.members")) == 1


def test_a_save_that_loses_to_a_reopen_after_the_ack_is_told_and_keeps_nothing(desk, deps, slack_emulator, channel,
                                                                               resolved):
    def reopen_first(work, *args, **kwargs):
        with session_scope(deps.engine) as session:
            lifecycle.reopen(session=session, case_id=resolved, user_id="UCAROL", now=deps.clock())
        return run_now(work, *args, **kwargs)

    racing = dataclasses.replace(deps, later=reopen_first)
    assert submit(slack_emulator, desk, racing, draft_modal(resolved), values()) == {}
    assert entries(deps) == []
    assert any(t.startswith(f"Your FAQ entry was not saved: case #{resolved} is reopened, not resolved")
               for t in slack_emulator.ephemeral_texts(channel))


def test_edit_from_the_thread_updates_the_same_line_and_keeps_the_entry_s_own_tags(desk, deps, slack_emulator,
                                                                                   slack_proxy, channel, resolved):
    entry_id, line = saved_entry(desk, deps, slack_emulator, slack_proxy, channel, resolved, ["battery"])
    card = card_of(slack_emulator, channel, resolved)
    faq.edit_clicked(click(slack_emulator, user="carol", channel=channel, card=line, action_id=ids.FAQ_EDIT,
                           value=str(entry_id)), desk.slack, deps=deps)
    edit = opened_views(slack_proxy, ids.FAQ_MODAL)[-1]
    assert edit["title"]["text"] == f"Edit FAQ entry #{entry_id}"
    assert json.loads(edit["private_metadata"]) == {"case_id": resolved, "entry_id": entry_id,
                                                    "message_ts": line["ts"]}

    # "battery" was dropped from SOCIALDESK_TAGS since: the entry keeps it, nothing else outside the list goes.
    no_tags = dataclasses.replace(deps, tags=[])
    refused = submit(slack_emulator, desk, no_tags, edit, values(tags=["battery", "screen"]), user="carol")
    assert "“screen” is not one of the team's tags" in refused["errors"][faq_blocks.TAGS_INPUT]
    assert submit(slack_emulator, desk, no_tags, edit, values("Why no charge after 4.2?", tags=["battery"]),
                  user="carol") == {}
    [entry] = entries(deps)
    carol = slack_emulator.users["carol"]
    assert (entry.id, entry.question, entry.tags, entry.updated_by) == (
        entry_id, "Why no charge after 4.2?", ["battery"], carol)
    [updated] = entry_lines(slack_emulator, channel, card)  # the same line, not a second one
    assert updated["ts"] == line["ts"] and updated["text"].endswith(f"· edited by <@{carol}>")


def test_withdraw_and_the_entry_buttons_answer_for_a_gone_withdrawn_or_forbidden_entry(
        desk, deps, slack_emulator, slack_proxy, channel, resolved):
    entry_id, line = saved_entry(desk, deps, slack_emulator, slack_proxy, channel, resolved, [])

    def press(work, value: str, user: str = "alice", with_deps=deps) -> None:
        work(click(slack_emulator, user=user, channel=channel, card=line, action_id=ids.FAQ_WITHDRAW, value=value),
             desk.slack, deps=with_deps)

    only_bob = dataclasses.replace(deps, permissions=ReplyPermissions(
        client=desk.slack, users=frozenset({slack_emulator.users["bob"]}), groups=frozenset()))
    press(faq.withdraw_clicked, str(entry_id), with_deps=only_bob)
    press(faq.withdraw_clicked, "4242")
    assert entries(deps)[0].status == "active"
    said = slack_emulator.ephemeral_texts(channel)
    assert faq.not_allowed(resolved) in said
    assert "FAQ entry 4242 is not in socialdesk's database any more. Ask an admin to check the server logs." in said

    press(faq.withdraw_clicked, str(entry_id))
    [entry] = entries(deps)
    assert (entry.status, entry.updated_by) == ("withdrawn", slack_emulator.users["alice"])
    [shown] = entry_lines(slack_emulator, channel, card_of(slack_emulator, channel, resolved))
    assert shown["text"].startswith(f"🗄️ FAQ entry #{entry_id} was withdrawn by") and len(shown["blocks"]) == 1
    assert faq_label(card_of(slack_emulator, channel, resolved)) == "📖 Save as FAQ"

    before = len(opened_views(slack_proxy))
    press(faq.edit_clicked, str(entry_id))  # Edit… on the line from before the withdrawal
    assert len(opened_views(slack_proxy)) == before
    assert faq.withdrawn(entry) in slack_emulator.ephemeral_texts(channel)
