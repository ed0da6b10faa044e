"""Resolving with an outcome (listeners.resolutions), called in-process: the modal, the duplicate's
number checked in the ack, both cards linked, the owner told; and a reopen back in the queue (#15)."""

from __future__ import annotations

import dataclasses
import json
from concurrent.futures import Future

from socialdesk.domain import EventKind
from socialdesk.listeners import actions, resolutions
from socialdesk.listeners.binding import run_now
from socialdesk.listeners.common import load_view
from socialdesk.slack import ids
from socialdesk.slack.blocks.resolve import duplicate_modal, resolve_modal
from socialdesk.store import cases, lifecycle
from socialdesk.store.db import read_scope, session_scope
from tests.e2e.helpers import block_text, button_ids
from tests.listeners.conftest import (
    Acks,
    card_of,
    case_row,
    click,
    opened_views,
    publish_cases,
    sent_texts,
    submission,
    text_input,
)


def outcome_values(outcome: str) -> dict:
    return {ids.OUTCOME_INPUT: {ids.OUTCOME_INPUT: {"type": "static_select",
                                                   "selected_option": {"value": outcome}}}}


def submit(handler, slack_emulator, desk, deps, view: dict, values: dict, user: str = "carol") -> Acks:
    ack = Acks()
    handler(ack, submission(slack_emulator, user=user, view=view, values=values), desk.slack, deps=deps)
    return ack


def resolve_view(deps, case_id: int, user_id: str) -> dict:
    return resolve_modal(load_view(deps, case_id), user_id=user_id).to_dict()


def claim(desk, deps, slack_emulator, channel, case_id, user="alice") -> None:
    actions.claim_clicked(click(slack_emulator, user=user, channel=channel, card=card_of(slack_emulator, channel, case_id),
                                action_id=ids.CLAIM, value=str(case_id)), desk.slack, deps=deps)


def resolved_event(deps, case_id: int):
    with read_scope(deps.engine) as session:
        [event] = [e for e in cases.events(session=session, case_id=case_id) if e.kind == EventKind.RESOLVED.value]
    return event


def test_resolve_opens_the_modal_which_says_whose_case_it_is(desk, deps, slack_emulator, slack_proxy, channel):
    [case_id] = publish_cases(desk, channel, ["acme phone will not charge"])
    claim(desk, deps, slack_emulator, channel, case_id)
    resolutions.resolve_clicked(click(slack_emulator, user="carol", channel=channel,
                                      card=card_of(slack_emulator, channel, case_id), action_id=ids.RESOLVE,
                                      value=str(case_id)), desk.slack, deps=deps)
    [opened] = opened_views(slack_proxy, ids.RESOLVE_MODAL)
    assert json.loads(opened["private_metadata"])["case_id"] == case_id
    choice = next(b for b in opened["blocks"] if b.get("block_id") == ids.OUTCOME_INPUT)["element"]
    assert [o["value"] for o in choice["options"]] == ["answered", "fixed", "no_reply_needed", "duplicate"]
    assert "initial_option" not in choice  # nothing was replied yet: the agent chooses
    alice = slack_emulator.users["alice"]
    assert f"<@{alice}> owns this case" in json.dumps(opened["blocks"])
    assert case_row(deps, case_id).status == "claimed"  # opening the modal changes nothing


def test_resolving_someone_elses_case_records_the_outcome_and_dms_the_owner(desk, deps, slack_emulator, slack_proxy,
                                                                            channel):
    [case_id] = publish_cases(desk, channel, ["acme screen flickers"])
    claim(desk, deps, slack_emulator, channel, case_id)
    alice, carol = slack_emulator.users["alice"], slack_emulator.users["carol"]
    view = resolve_view(deps, case_id, carol)
    # No outcome chosen: refused inline, nothing written.
    assert submit(resolutions.resolve_submitted, slack_emulator, desk, deps, view, {}).only == {
        "response_action": "errors", "errors": {ids.OUTCOME_INPUT: resolutions.CHOOSE}}
    assert case_row(deps, case_id).status == "claimed"

    assert submit(resolutions.resolve_submitted, slack_emulator, desk, deps, view, outcome_values("fixed")).only == {}
    row = case_row(deps, case_id)
    assert (row.status, row.outcome, row.duplicate_of) == ("resolved", "fixed", None)
    assert resolved_event(deps, case_id).payload == {"outcome": "fixed"}
    card = card_of(slack_emulator, channel, case_id)
    assert "*Resolved* · fixed" in block_text(card, "status")
    assert f"✅ <@{carol}> resolved this case: fixed." in [m["text"] for m in slack_emulator.replies(channel, card["ts"])]
    [dm] = sent_texts(slack_proxy, "chat.postMessage", channel=alice)
    assert f"<@{carol}> resolved <" in dm and f"|case #{case_id}> (fixed), which you owned" in dm


def test_resolving_your_own_case_tells_nobody(desk, deps, slack_emulator, slack_proxy, channel):
    [case_id] = publish_cases(desk, channel, ["acme thanks, all good now"])
    claim(desk, deps, slack_emulator, channel, case_id)
    alice = slack_emulator.users["alice"]
    view = resolve_view(deps, case_id, alice)
    assert "owns this case" not in json.dumps(view["blocks"])
    submit(resolutions.resolve_submitted, slack_emulator, desk, deps, view, outcome_values("no_reply_needed"),
           user="alice")
    assert case_row(deps, case_id).outcome == "no_reply_needed"
    assert sent_texts(slack_proxy, "chat.postMessage", channel=alice) == []


def test_duplicate_asks_of_which_case_checks_it_and_links_both_cards(desk, deps, slack_emulator, slack_proxy, channel):
    original, duplicate = publish_cases(desk, channel, ["acme battery dies at 50%", "acme battery dies at half"])
    carol = slack_emulator.users["carol"]
    ack = submit(resolutions.resolve_submitted, slack_emulator, desk, deps, resolve_view(deps, duplicate, carol),
                 outcome_values("duplicate"))
    shown = {"status": "new", "assignee": None}  # the case as the resolve modal showed it, carried on
    assert ack.only == {"response_action": "push", "view": duplicate_modal(duplicate, shown=shown).to_dict()}
    asked = ack.only["view"]
    for typed, says in (("twelve", resolutions.NOT_A_NUMBER), (f"#{duplicate}", "can't be a duplicate of itself"),
                        ("424242", "There is no case #424242")):
        refused = submit(resolutions.duplicate_submitted, slack_emulator, desk, deps, asked,
                         text_input(ids.DUPLICATE_OF_INPUT, typed)).only
        assert refused["response_action"] == "errors" and says in refused["errors"][ids.DUPLICATE_OF_INPUT], typed
    assert case_row(deps, duplicate).status == "new"

    done = submit(resolutions.duplicate_submitted, slack_emulator, desk, deps, asked,
                  text_input(ids.DUPLICATE_OF_INPUT, f" #{original} "))
    assert done.only == {"response_action": "clear"}  # both modals close
    row = case_row(deps, duplicate)
    assert (row.status, row.outcome, row.duplicate_of) == ("resolved", "duplicate", original)
    assert resolved_event(deps, duplicate).payload == {"outcome": "duplicate", "duplicate_of": original}
    assert f"*Resolved* · duplicate of case #{original}" in block_text(card_of(slack_emulator, channel, duplicate),
                                                                       "status")
    first_card = card_of(slack_emulator, channel, original)
    assert f"Duplicate: case #{duplicate}" in block_text(first_card, "status")
    assert f"🔗 <@{carol}> resolved case #{duplicate} as a duplicate of this case." in [
        m["text"] for m in slack_emulator.replies(channel, first_card["ts"])]
    # Nobody owned it: no DM.
    assert not [c for c in slack_proxy.calls_to("chat.postMessage") if str(c.params.get("channel", "")).startswith("U")]

    # Reopened, the duplicate is back in the queue and the original's card lists it no more.
    actions.reopen_clicked(click(slack_emulator, user="bob", channel=channel,
                                 card=card_of(slack_emulator, channel, duplicate), action_id=ids.REOPEN,
                                 value=str(duplicate)), desk.slack, deps=deps)
    assert case_row(deps, duplicate).duplicate_of is None
    assert "Duplicate" not in block_text(card_of(slack_emulator, channel, original), "status")


def test_a_duplicate_that_changed_after_the_check_is_not_resolved_and_the_agent_is_told(desk, deps, slack_emulator,
                                                                                      channel):
    first, second = publish_cases(desk, channel, ["acme wifi drops", "acme wifi drops again"])
    with session_scope(deps.engine) as session:  # meanwhile someone resolved the first as the second's duplicate
        lifecycle.resolve(session=session, case_id=first, user_id="UBOB", now=deps.clock(), outcome="duplicate",
                          duplicate_of=second)
    resolutions.resolve_case(desk.slack, deps, slack_emulator.users["carol"], second, "duplicate", first)
    assert case_row(deps, second).status == "new"
    assert any(f"Case #{second} was *not* resolved: Case #{first} is already resolved as a duplicate" in t
               for t in slack_emulator.ephemeral_texts(channel))


def test_a_resolve_window_opened_before_a_teammate_reopened_the_case_resolves_nothing(desk, deps, slack_emulator,
                                                                                      channel):
    [case] = publish_cases(desk, channel, ["acme screen flickers"])
    carol, bob = slack_emulator.users["carol"], slack_emulator.users["bob"]
    view = resolve_view(deps, case, carol)  # carol opens Resolve…
    with session_scope(deps.engine) as session:  # meanwhile bob resolves it, and it is reopened and claimed
        assert lifecycle.resolve(session=session, case_id=case, user_id=bob, now=deps.clock(), outcome="fixed").ok
        assert lifecycle.reopen(session=session, case_id=case, user_id=bob, now=deps.clock()).ok
        assert lifecycle.claim(session=session, case_id=case, user_id=bob, now=deps.clock()).ok
    assert submit(resolutions.resolve_submitted, slack_emulator, desk, deps, view, outcome_values("answered")).only == {}
    assert (case_row(deps, case).status, case_row(deps, case).assignee) == ("claimed", bob)  # not undone
    assert f"Case #{case} changed while your window was open: it is claimed now and <@{bob}> owns it. Nothing was " \
           "done; look at its card, then try again if it still needs it." in slack_emulator.ephemeral_texts(channel)
    # The window's duplicate step carries what it showed: the same refusal.
    pushed = submit(resolutions.resolve_submitted, slack_emulator, desk, deps, view, outcome_values("duplicate"))
    [other] = publish_cases(desk, channel, ["acme screen flickers too"])
    assert submit(resolutions.duplicate_submitted, slack_emulator, desk, deps, pushed.only["view"],
                  text_input(ids.DUPLICATE_OF_INPUT, str(other))).only == {"response_action": "clear"}
    assert case_row(deps, case).status == "claimed"


def test_resolve_on_a_card_resolved_meanwhile_says_so_and_opens_nothing(desk, deps, slack_emulator, slack_proxy,
                                                                         channel):
    [case_id] = publish_cases(desk, channel, ["acme where is my order"])
    stale = card_of(slack_emulator, channel, case_id)
    with session_scope(deps.engine) as session:
        lifecycle.resolve(session=session, case_id=case_id, user_id="UBOB", now=deps.clock(), outcome="answered")
    resolutions.resolve_clicked(click(slack_emulator, user="carol", channel=channel, card=stale, action_id=ids.RESOLVE,
                                      value=str(case_id)), desk.slack, deps=deps)
    assert opened_views(slack_proxy, ids.RESOLVE_MODAL) == []
    assert any(f"Case #{case_id} is now resolved, so it can't be resolved." in t
               for t in slack_emulator.ephemeral_texts(channel))


def test_reopen_puts_the_case_back_in_the_queue_with_its_reply_due_again(desk, deps, slack_emulator, channel):
    [case_id] = publish_cases(desk, channel, ["acme refund please"])
    claim(desk, deps, slack_emulator, channel, case_id)
    alice = slack_emulator.users["alice"]
    with session_scope(deps.engine) as session:
        lifecycle.replied(session=session, case_id=case_id, user_id=alice, now=deps.clock(),
                          kind=EventKind.MARKED_REPLIED, payload={})
        lifecycle.resolve(session=session, case_id=case_id, user_id=alice, now=deps.clock(), outcome="answered")
    actions.reopen_clicked(click(slack_emulator, user="bob", channel=channel, card=card_of(slack_emulator, channel, case_id),
                                 action_id=ids.REOPEN, value=str(case_id)), desk.slack, deps=deps)
    card = card_of(slack_emulator, channel, case_id)
    assert case_row(deps, case_id).assignee is None
    assert "*Reopened*" in block_text(card, "status") and "owner" not in block_text(card, "status")
    assert "reply due" in block_text(card, "status")  # the SLA clock runs again
    assert button_ids(card)[0] == ids.CLAIM


def test_a_check_too_slow_for_the_ack_closes_the_modal_and_the_resolve_checks_again(desk, deps, slack_emulator,
                                                                                   channel, monkeypatch):
    """The database did not answer the duplicate's check within the budget: the ack does not wait,
    and the resolve (after the ack) refuses the number and says why."""
    [case_id] = publish_cases(desk, channel, ["acme order never came"])
    monkeypatch.setattr(resolutions, "CHECK_BUDGET", 0.05)
    stuck: Future = Future()  # the check, still waiting for the database

    def later(work, *args, **kwargs):
        return stuck if work is resolutions.duplicate_problem else run_now(work, *args, **kwargs)

    slow = dataclasses.replace(deps, later=later)
    ack = submit(resolutions.duplicate_submitted, slack_emulator, desk, slow, duplicate_modal(case_id).to_dict(),
                 text_input(ids.DUPLICATE_OF_INPUT, "424242"))
    assert ack.only == {"response_action": "clear"}
    assert case_row(deps, case_id).status == "new"
    assert any(f"Case #{case_id} was *not* resolved: There is no case #424242" in t
               for t in slack_emulator.ephemeral_texts(channel))
