"""Card buttons and the ⋯ menu (listeners.actions), called in-process."""

from __future__ import annotations

import pytest

import json

from sqlmodel import select

from socialdesk.listeners import actions, resolutions
from socialdesk.listeners.common import TRIGGER_EXPIRED, WINDOW_REFUSED, other_card
from socialdesk.slack import ids
from socialdesk.store.db import read_scope
from socialdesk.store.models import CaseEventRow, CaseRow
from tests.e2e.helpers import block_text, button_ids
from tests.listeners.conftest import card_of, click, publish_cases


def case_row(deps, case_id: int) -> CaseRow:
    with read_scope(deps.engine) as session:
        return session.get(CaseRow, case_id)


def events(deps, case_id: int) -> list[tuple[str, str | None]]:
    with read_scope(deps.engine) as session:
        rows = session.exec(select(CaseEventRow).where(CaseEventRow.case_id == case_id).order_by(CaseEventRow.id))
        return [(r.kind, r.actor) for r in rows]


def test_claim_takes_the_case_redraws_its_card_and_notes_it_in_the_thread(desk, deps, slack_emulator, channel):
    [case_id] = publish_cases(desk, channel, ["acme phone will not charge"])
    card = card_of(slack_emulator, channel, case_id)
    alice = slack_emulator.users["alice"]

    actions.claim_clicked(click(slack_emulator, user="alice", channel=channel, card=card, action_id=ids.CLAIM,
                                value=str(case_id)), desk.slack, deps=deps)

    assert case_row(deps, case_id).assignee == alice
    assert ("claimed", alice) in events(deps, case_id)
    redrawn = card_of(slack_emulator, channel, case_id)
    assert block_text(redrawn, "status").startswith(f"🙋 <@{alice}> · claimed <!date^")
    assert button_ids(redrawn) == [ids.REPLY, ids.NOTE, ids.RESOLVE, ids.MENU]
    thread = slack_emulator.replies(channel, card["ts"])[1:]
    assert [m["text"] for m in thread] == [f"🙋 <@{alice}> claimed this case."]


def test_a_second_claim_is_told_who_holds_it_and_changes_nothing(desk, deps, slack_emulator, channel):
    [case_id] = publish_cases(desk, channel, ["acme screen cracked"])
    card = card_of(slack_emulator, channel, case_id)
    for user in ("alice", "bob"):
        actions.claim_clicked(click(slack_emulator, user=user, channel=channel, card=card, action_id=ids.CLAIM,
                                    value=str(case_id)), desk.slack, deps=deps)
    alice = slack_emulator.users["alice"]
    assert case_row(deps, case_id).assignee == alice
    assert [e for e in events(deps, case_id) if e[0] == "claimed"] == [("claimed", alice)]
    assert f"Case #{case_id} is already claimed by <@{alice}>." in slack_emulator.ephemeral_texts(channel)


def test_a_button_naming_another_card_s_case_acts_on_nothing(desk, deps, slack_emulator, channel):
    first, second = publish_cases(desk, channel, ["acme battery", "acme billing"])
    on_first = card_of(slack_emulator, channel, first)
    # The first card's message, a button value naming the second case (a forged or stale payload).
    resolutions.resolve_clicked(click(slack_emulator, user="carol", channel=channel, card=on_first,
                                      action_id=ids.RESOLVE, value=str(second)), desk.slack, deps=deps)
    assert case_row(deps, second).status == "new" and case_row(deps, first).status == "new"
    assert other_card(second) in slack_emulator.ephemeral_texts(channel)


def test_resolve_then_reopen_round_trips_and_a_stale_resolve_is_refused(desk, deps, slack_emulator, channel):
    [case_id] = publish_cases(desk, channel, ["acme repair status?"])
    card = card_of(slack_emulator, channel, case_id)
    body = click(slack_emulator, user="alice", channel=channel, card=card, action_id=ids.RESOLVE, value=str(case_id))
    resolutions.resolve_case(desk.slack, deps, body["user"]["id"], case_id, "answered", None)  # the modal's submit
    assert case_row(deps, case_id).status == "resolved"
    resolutions.resolve_clicked(body, desk.slack, deps=deps)  # Resolve again, on the stale card
    assert f"Case #{case_id} is now" in " ".join(slack_emulator.ephemeral_texts(channel))
    actions.reopen_clicked(click(slack_emulator, user="alice", channel=channel, card=card_of(slack_emulator, channel, case_id),
                                 action_id=ids.REOPEN, value=str(case_id)), desk.slack, deps=deps)
    assert case_row(deps, case_id).status == "reopened"


def test_note_opens_the_note_modal_for_the_case(desk, deps, slack_emulator, slack_proxy, channel):
    [case_id] = publish_cases(desk, channel, ["acme phone hot"])
    card = card_of(slack_emulator, channel, case_id)
    actions.note_clicked(click(slack_emulator, user="bob", channel=channel, card=card, action_id=ids.NOTE,
                               value=str(case_id)), desk.slack, deps=deps)
    [opened] = [c.response["view"] for c in slack_proxy.calls_to("views.open") if c.response.get("ok")]
    assert opened["callback_id"] == ids.NOTE_MODAL
    assert json.loads(opened["private_metadata"])["case_id"] == case_id


def test_a_modal_whose_trigger_expired_while_busy_tells_the_clicker(desk, deps, slack_emulator, slack_proxy, channel):
    [case_id] = publish_cases(desk, channel, ["acme tags please"])
    card = card_of(slack_emulator, channel, case_id)
    slack_proxy.answer("views.open", {"ok": False, "error": "expired_trigger_id"})
    actions.menu_chosen(click(slack_emulator, user="bob", channel=channel, card=card, action_id=ids.MENU,
                              value=f"{ids.MENU_TAGS}:{case_id}", action_type="overflow"), desk.slack, deps=deps)
    assert TRIGGER_EXPIRED in slack_emulator.ephemeral_texts(channel)


@pytest.mark.parametrize("error", ["service_unavailable", "exchanged_trigger_id"])
def test_a_modal_slack_would_not_open_tells_the_clicker_why(desk, deps, slack_emulator, slack_proxy, channel, error):
    [case_id] = publish_cases(desk, channel, ["acme note please"])
    card = card_of(slack_emulator, channel, case_id)
    slack_proxy.answer("views.open", {"ok": False, "error": error})
    actions.note_clicked(click(slack_emulator, user="bob", channel=channel, card=card, action_id=ids.NOTE,
                               value=str(case_id)), desk.slack, deps=deps)
    assert WINDOW_REFUSED.format(error=error) in slack_emulator.ephemeral_texts(channel)


def test_an_unknown_menu_choice_is_told_and_does_nothing(desk, deps, slack_emulator, channel):
    [case_id] = publish_cases(desk, channel, ["acme menu"])
    card = card_of(slack_emulator, channel, case_id)
    actions.menu_chosen(click(slack_emulator, user="bob", channel=channel, card=card, action_id=ids.MENU,
                              value=f"explode:{case_id}", action_type="overflow"), desk.slack, deps=deps)
    assert any("not one socialdesk knows" in t for t in slack_emulator.ephemeral_texts(channel))
    assert case_row(deps, case_id).status == "new"
