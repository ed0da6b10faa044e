"""Modal submissions for notes, assignment, ignoring and tags (listeners.views), called in-process.

A refusal is the ack itself (`response_action: errors`, shown inline in the modal) and
nothing is written; a good submission is acked empty, applied, and the card redrawn.
The end-to-end loop covers an empty note and a good one; here are the other branches.
"""

from __future__ import annotations

import pytest

from socialdesk.listeners import views
from socialdesk.listeners.common import load_view
from socialdesk.slack import ids, messages
from socialdesk.slack.blocks import modals
from socialdesk.store import lifecycle
from socialdesk.store.db import session_scope
from socialdesk.store.models import CaseRow
from tests.e2e.helpers import block_text, button_ids
from tests.listeners.conftest import (
    Acks,
    card_of,
    card_updates,
    case_metadata,
    case_row,
    event_kinds,
    publish_cases,
    submission,
    text_input,
)


@pytest.fixture
def case(desk, channel) -> int:
    [case_id] = publish_cases(desk, channel, ["acme phone will not charge"])
    return case_id


def modal(deps, case_id: int, build) -> dict:
    """The modal as the card's button opens it (the builder the listener uses)."""
    return build(load_view(deps, case_id)).to_dict()


def submit(handler, slack_emulator, desk, deps, view: dict, values: dict, user: str = "alice") -> Acks:
    ack = Acks()
    handler(ack, submission(slack_emulator, user=user, view=view, values=values), desk.slack, deps=deps)
    return ack


def note_values(text: str) -> dict:
    return text_input(ids.NOTE_INPUT, text)


def test_an_oversized_note_is_refused_inline_before_anything_is_written(desk, deps, slack_emulator, slack_proxy,
                                                                      case):
    view = modal(deps, case, modals.note_modal)
    ack = submit(views.note_submitted, slack_emulator, desk, deps, view, note_values("x" * 3001))
    assert ack.only == {"response_action": "errors", "errors": {
        ids.NOTE_INPUT: "That note is 3,001 characters; the most is 3,000. Shorten it, or split it in two."}}
    # Exactly at the limit is kept.
    assert submit(views.note_submitted, slack_emulator, desk, deps, view, note_values("y" * 3000)).only == {}
    assert [k for k, _ in event_kinds(deps, case)].count("note") == 1


def test_a_note_whose_metadata_names_no_case_is_refused_inline(desk, deps, slack_emulator, case):
    for metadata in ["", "not json", "[1, 2]", case_metadata("abc"), case_metadata(2**31), case_metadata(True),
                     case_metadata(case) + " " * 3000, "[" * 2999]:  # the last: deeper than json can parse
        view = dict(modal(deps, case, modals.note_modal), private_metadata=metadata)
        ack = submit(views.note_submitted, slack_emulator, desk, deps, view, note_values("a good note"))
        assert ack.only == {"response_action": "errors", "errors": {ids.NOTE_INPUT: views.BAD_METADATA}}, metadata
    assert "note" not in [k for k, _ in event_kinds(deps, case)]


def test_a_note_is_stripped_recorded_and_shown_in_the_thread(desk, deps, slack_emulator, slack_proxy, channel, case):
    card = card_of(slack_emulator, channel, case)
    view = modal(deps, case, modals.note_modal)
    assert submit(views.note_submitted, slack_emulator, desk, deps, view, note_values("  call back at 5  ")).only == {}
    alice = slack_emulator.users["alice"]
    assert ("note", alice) in event_kinds(deps, case)
    assert [m["text"] for m in slack_emulator.replies(channel, card["ts"])[1:]] == [
        messages.note(alice, "call back at 5")]
    assert card_updates(slack_proxy, card), "the card was not redrawn"


def test_a_note_reaches_the_thread_when_slack_will_not_redraw_the_card(desk, deps, slack_emulator, slack_proxy,
                                                                        channel, case):
    card = card_of(slack_emulator, channel, case)
    slack_proxy.answer("chat.update", {"ok": False, "error": "cant_update_message"})
    view = modal(deps, case, modals.note_modal)
    assert submit(views.note_submitted, slack_emulator, desk, deps, view, note_values("VIP, call back")).only == {}
    assert [m["text"] for m in slack_emulator.replies(channel, card["ts"])[1:]] == [
        messages.note(slack_emulator.users["alice"], "VIP, call back")]


def assign_values(user_id: object) -> dict:
    return {ids.ASSIGNEE_INPUT: {ids.ASSIGNEE_INPUT: {"type": "users_select", "selected_user": user_id}}}


def test_assign_without_a_slack_user_is_refused_inline(desk, deps, slack_emulator, case):
    view = modal(deps, case, modals.assign_modal)
    for chosen in (None, "", "not-a-user", "<!channel>", "u123lower", "U" + "1" * 30, ["U123"]):
        ack = submit(views.assign_submitted, slack_emulator, desk, deps, view, assign_values(chosen))
        assert ack.only == {"response_action": "errors", "errors": {ids.ASSIGNEE_INPUT: "Choose someone."}}, chosen
    assert submit(views.assign_submitted, slack_emulator, desk, deps, view, {}).only["errors"] == {
        ids.ASSIGNEE_INPUT: "Choose someone."}
    # The user picker offers Slackbot: a case it held would leave the queue with nobody working it.
    assert submit(views.assign_submitted, slack_emulator, desk, deps, view, assign_values("USLACKBOT")).only == {
        "response_action": "errors", "errors": {ids.ASSIGNEE_INPUT: "Choose a person, not Slackbot."}}
    assert case_row(deps, case).assignee is None


def test_assign_sets_the_owner_redraws_the_card_and_a_forged_case_id_is_refused(desk, deps, slack_emulator,
                                                                                slack_proxy, channel, case):
    bob, alice = slack_emulator.users["bob"], slack_emulator.users["alice"]
    view = modal(deps, case, modals.assign_modal)
    forged = dict(view, private_metadata=case_metadata(str(case) + "x"))
    assert submit(views.assign_submitted, slack_emulator, desk, deps, forged, assign_values(bob)).only == {
        "response_action": "errors", "errors": {ids.ASSIGNEE_INPUT: views.BAD_METADATA}}
    assert case_row(deps, case).assignee is None

    assert submit(views.assign_submitted, slack_emulator, desk, deps, view, assign_values(bob)).only == {}
    row = case_row(deps, case)
    assert (row.status, row.assignee) == ("claimed", bob)
    card = card_of(slack_emulator, channel, case)
    assert f"<@{bob}>" in block_text(card, "status")
    assert messages.assigned(alice, bob, told_as="@bob") in [m["text"] for m in slack_emulator.replies(channel, card["ts"])[1:]]


def test_assigning_a_resolved_case_is_refused_with_what_it_is_now(desk, deps, slack_emulator, channel, case):
    with session_scope(deps.engine) as session:
        lifecycle.resolve(session=session, case_id=case, user_id="UCAROL", now=deps.clock())
    view = modal(deps, case, modals.assign_modal)
    assert submit(views.assign_submitted, slack_emulator, desk, deps, view,
                  assign_values(slack_emulator.users["bob"])).only == {}
    assert case_row(deps, case).assignee is None
    assert f"Case #{case} is now resolved, so it can't be assigned." in " ".join(
        slack_emulator.ephemeral_texts(channel))


def reason_values(reason: str | None) -> dict:
    chosen = {"value": reason} if reason is not None else None
    return {ids.IGNORE_REASON_INPUT: {ids.IGNORE_REASON_INPUT: {"type": "static_select", "selected_option": chosen}}}


def test_ignore_needs_a_known_reason_then_ignores_the_case(desk, deps, slack_emulator, slack_proxy, channel, case):
    view = modal(deps, case, modals.ignore_modal)
    for reason in (None, "because", "SPAM"):
        ack = submit(views.ignore_submitted, slack_emulator, desk, deps, view, reason_values(reason))
        assert ack.only == {"response_action": "errors", "errors": {ids.IGNORE_REASON_INPUT: "Choose a reason."}}
    assert case_row(deps, case).status == "new"

    assert submit(views.ignore_submitted, slack_emulator, desk, deps, view, reason_values("not_relevant")).only == {}
    row = case_row(deps, case)
    assert (row.status, row.ignored_reason) == ("ignored", "not_relevant")
    card = card_of(slack_emulator, channel, case)
    assert card_updates(slack_proxy, card)
    assert ids.REOPEN in button_ids(card)


def tag_values(tags: object, priority: str | None = "normal") -> dict:
    options = [{"value": t} for t in tags] if isinstance(tags, list) else tags
    chosen = {"value": priority} if priority is not None else None
    return {ids.TAGS_INPUT: {ids.TAGS_INPUT: {"type": "multi_static_select", "selected_options": options}},
            ids.PRIORITY_INPUT: {ids.PRIORITY_INPUT: {"type": "static_select", "selected_option": chosen}}}


def test_an_ignore_window_opened_before_a_teammate_claimed_and_replied_ignores_nothing(desk, deps, slack_emulator,
                                                                                      channel, case):
    view = modal(deps, case, modals.ignore_modal)  # alice reads it as spam
    bob = slack_emulator.users["bob"]
    with session_scope(deps.engine) as session:  # meanwhile bob claims it and answers the customer
        assert lifecycle.claim(session=session, case_id=case, user_id=bob, now=deps.clock()).ok
    reason = {ids.IGNORE_REASON_INPUT: {ids.IGNORE_REASON_INPUT: {"type": "static_select",
                                                                  "selected_option": {"value": "spam"}}}}
    assert submit(views.ignore_submitted, slack_emulator, desk, deps, view, reason).only == {}
    assert case_row(deps, case).status == "claimed" and "ignored" not in [k for k, _ in event_kinds(deps, case)]
    assert any(t.startswith(f"Case #{case} changed while your window was open: it is claimed now and <@{bob}> owns it.")
               for t in slack_emulator.ephemeral_texts(channel))
    fresh = modal(deps, case, modals.ignore_modal)  # opened as it is now: applied
    assert submit(views.ignore_submitted, slack_emulator, desk, deps, fresh, reason).only == {}
    assert case_row(deps, case).status == "ignored"


def test_tags_outside_the_team_s_list_and_malformed_choices_are_refused_inline(desk, deps, slack_emulator, case):
    view = modal(deps, case, lambda v: modals.tags_modal(v, deps.tags))

    def errors(values: dict) -> dict:
        ack = submit(views.tags_submitted, slack_emulator, desk, deps, view, values)
        assert ack.only["response_action"] == "errors"
        return ack.only["errors"]

    unknown = errors(tag_values(["battery", "vip", "<!here>", "refund"]))  # refund: a care topic triage tags with
    assert unknown == {ids.TAGS_INPUT: "“vip”, “<!here>” are not one of the team's tags (SOCIALDESK_TAGS: battery, "
                                       "screen, billing) or the care topics (refund, repair, connectivity, update, "
                                       "delivery, account). Choose from the list; an admin adds new tags."}
    assert errors(tag_values({"value": "battery"})) == {ids.TAGS_INPUT: "Choose tags from the list."}
    assert errors(tag_values([1, 2])) == {ids.TAGS_INPUT: "Choose tags from the list."}
    assert errors(tag_values(["battery"] * 101)) == {ids.TAGS_INPUT: "Choose tags from the list."}
    assert errors(tag_values(["battery"], priority="urgent")) == {ids.PRIORITY_INPUT: "Choose a priority."}
    assert errors(tag_values(["battery"], priority=None)) == {ids.PRIORITY_INPUT: "Choose a priority."}
    # Good tags, but the window names no case.
    forged = dict(view, private_metadata="{}")
    ack = submit(views.tags_submitted, slack_emulator, desk, deps, forged, tag_values(["battery"]))
    assert ack.only == {"response_action": "errors", "errors": {ids.PRIORITY_INPUT: views.BAD_METADATA}}
    row = case_row(deps, case)
    assert (row.tags, row.priority) == (None, "normal")


def test_tags_and_priority_are_saved_once_each_and_the_card_redrawn(desk, deps, slack_emulator, slack_proxy, channel,
                                                                    case):
    view = modal(deps, case, lambda v: modals.tags_modal(v, deps.tags))
    values = tag_values(["screen", "battery", "screen"], priority="high")
    assert submit(views.tags_submitted, slack_emulator, desk, deps, view, values).only == {}
    row = case_row(deps, case)
    assert (row.tags, row.priority) == (["battery", "screen"], "high")
    card = card_of(slack_emulator, channel, case)
    alice = slack_emulator.users["alice"]
    assert messages.tagged(alice, ["battery", "screen"], "high") in [
        m["text"] for m in slack_emulator.replies(channel, card["ts"])[1:]]
    assert card_updates(slack_proxy, card)
    # No tags at all is a choice too (the multi-select is optional).
    again = modal(deps, case, lambda v: modals.tags_modal(v, deps.tags))
    assert submit(views.tags_submitted, slack_emulator, desk, deps, again, tag_values([], "low")).only == {}
    assert (case_row(deps, case).tags, case_row(deps, case).priority) == ([], "low")


def test_two_agents_editing_tags_at_once_each_keep_the_other_s_change(desk, deps, slack_emulator, case):
    """Each window sends its whole list: saved as such, the second undid the first's tags and escalation."""
    bobs = modal(deps, case, lambda v: modals.tags_modal(v, deps.tags))
    alices = modal(deps, case, lambda v: modals.tags_modal(v, deps.tags))  # opened before bob saved
    assert submit(views.tags_submitted, slack_emulator, desk, deps, bobs, tag_values(["screen"], "high"),
                  user="bob").only == {}
    assert submit(views.tags_submitted, slack_emulator, desk, deps, alices, tag_values(["battery"], "normal")).only == {}
    assert (case_row(deps, case).tags, case_row(deps, case).priority) == (["battery", "screen"], "high")
    # Removing is a change too: a window that showed "screen" and unticks it removes it, and only it.
    mine = modal(deps, case, lambda v: modals.tags_modal(v, deps.tags))
    assert submit(views.tags_submitted, slack_emulator, desk, deps, mine, tag_values(["battery"], "low")).only == {}
    assert (case_row(deps, case).tags, case_row(deps, case).priority) == (["battery"], "low")


def test_the_care_tags_triage_found_are_offered_kept_and_saved_beside_the_teams(desk, deps, slack_emulator, case):
    with session_scope(deps.engine) as session:  # as triage stored them at ingest
        session.get(CaseRow, case).tags = ["battery", "repair"]
    view = modal(deps, case, lambda v: modals.tags_modal(v, deps.case_tags))
    assert "tags_dropped" not in [b.get("block_id") for b in view["blocks"]]
    [tags] = [b for b in view["blocks"] if b.get("block_id") == ids.TAGS_INPUT]
    assert [o["value"] for o in tags["element"]["initial_options"]] == ["battery", "repair"]
    assert submit(views.tags_submitted, slack_emulator, desk, deps, view,
                  tag_values(["repair", "refund", "screen"])).only == {}
    with session_scope(deps.engine) as session:
        assert lifecycle.get_case(session=session, case_id=case).tags == ["refund", "repair", "screen"]
