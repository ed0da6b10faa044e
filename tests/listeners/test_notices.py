"""People get told: assigning a case DMs the assignee (the card's link, an Open button that does not
claim), once per assignment, through the app built as in production (listeners.views, jobs.notices)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from sqlmodel import select

from socialdesk.jobs.notices import Notifier
from socialdesk.listeners import views
from socialdesk.listeners.common import load_view
from socialdesk.sla import DAYS, BusinessHours, Policy
from socialdesk.slack import ids
from socialdesk.slack.blocks import modals
from socialdesk.store import lifecycle, notices
from socialdesk.store.db import read_scope, session_scope
from socialdesk.store.models import NoticeRow
from tests.listeners.conftest import SECRET, Acks, card_of, case_row, publish_cases, submission
from tests.support.in_process import post
from tests.support.slack_signing import block_actions_body, sign


def assign_values(user_id: str) -> dict:
    return {ids.ASSIGNEE_INPUT: {ids.ASSIGNEE_INPUT: {"type": "users_select", "selected_user": user_id}}}


def assign(slack_emulator, desk, deps, case_id: int, *, by: str, to: str) -> None:
    view = modals.assign_modal(load_view(deps, case_id)).to_dict()
    ack = Acks()
    views.assign_submitted(ack, submission(slack_emulator, user=by, view=view,
                                           values=assign_values(slack_emulator.users[to])), desk.slack, deps=deps)
    assert ack.only == {}


def dms(slack_proxy, user_id: str) -> list[dict]:
    """What the app posted to `user_id` directly (a DM), as sent."""
    return [c.params for c in slack_proxy.calls_to("chat.postMessage")
            if c.params.get("channel") == user_id and c.response.get("ok")]


def test_assigning_a_case_dms_the_assignee_the_cards_link_with_an_open_button(desk, deps, slack_emulator,
                                                                              slack_proxy, channel):
    [case_id] = publish_cases(desk, channel, ["acme phone <!channel> will not charge"])
    card = card_of(slack_emulator, channel, case_id)
    carol, bob = slack_emulator.users["carol"], slack_emulator.users["bob"]
    assign(slack_emulator, desk, deps, case_id, by="carol", to="bob")

    [dm] = dms(slack_proxy, bob)
    assert dm["text"] == f"<@{carol}> assigned you case #{case_id} (@cust0 on X)"
    blocks = dm["blocks"]
    assert blocks[0]["text"]["text"].startswith(f"👉 <@{carol}> assigned you *case #{case_id}*: @cust0 on X\n>acme phone")
    assert "&lt;!channel&gt;" in blocks[0]["text"]["text"]
    [button] = [e for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert (button["text"]["text"], button["action_id"]) == ("Open", ids.NOTICE_OPEN)
    assert f"/archives/{channel}/p{card['ts'].replace('.', '')}" in button["url"]
    # Slack took it as a DM: a direct-message channel, where the message is.
    [sent] = [c.response for c in slack_proxy.calls_to("chat.postMessage") if c.params.get("channel") == bob]
    im = sent["channel"]
    assert im.startswith("D") and sent["message"]["text"] == dm["text"]
    assert dm["text"] in [m["text"] for m in slack_emulator.history(im)]
    # The card's thread names bob without a mention: the DM is his one notification.
    said = [m["text"] for m in slack_emulator.replies(channel, card["ts"]) if "assigned this case" in m["text"]]
    assert said == [f"👉 <@{carol}> assigned this case to *@bob* (a DM tells them)."]

    # Open is a link: the click is acked and changes nothing (no claim, no message).
    before = (case_row(deps, case_id).version, len(slack_proxy.calls))
    body = block_actions_body(user_id=bob, user_name="bob", team_id=slack_emulator.team_id, channel_id=im,
                              message_ts="1700000000.000100", action_id=ids.NOTICE_OPEN, value=button["value"],
                              trigger_id=slack_emulator.trigger_id("bob"))
    answer = post(desk, body, sign(body, SECRET))
    assert (answer.status, answer.body) == (200, b"")
    desk.later.close(5)
    assert (case_row(deps, case_id).version, len(slack_proxy.calls)) == before
    assert case_row(deps, case_id).assignee == bob


def test_one_dm_per_assignment_none_for_oneself_or_for_whom_it_already_was(desk, deps, slack_emulator, slack_proxy,
                                                                           channel):
    [case_id] = publish_cases(desk, channel, ["acme screen flickers"])
    alice, bob = slack_emulator.users["alice"], slack_emulator.users["bob"]
    assign(slack_emulator, desk, deps, case_id, by="alice", to="alice")  # takes it herself: no DM
    assign(slack_emulator, desk, deps, case_id, by="carol", to="bob")  # bob hears, and alice that it is not hers
    assign(slack_emulator, desk, deps, case_id, by="carol", to="bob")  # already his: nothing new to tell
    assert desk.notifier.run_once() == 0  # a later sweep (a restart) sends nothing again
    assert len(dms(slack_proxy, bob)) == 1 and len(dms(slack_proxy, alice)) == 1
    assign(slack_emulator, desk, deps, case_id, by="bob", to="alice")  # handed over by its owner: only alice hears
    assert len(dms(slack_proxy, alice)) == 2 and len(dms(slack_proxy, bob)) == 1
    # The thread names whom a DM tells (no mention: told once), and mentions whom none tells.
    carol = slack_emulator.users["carol"]
    card = card_of(slack_emulator, channel, case_id)
    assert [m["text"] for m in slack_emulator.replies(channel, card["ts"]) if "assigned this case" in m["text"]] == [
        f"👉 <@{alice}> assigned this case to <@{alice}>.",
        f"👉 <@{carol}> assigned this case to *@bob* (a DM tells them).",
        f"👉 <@{carol}> assigned this case to <@{bob}>.",
        f"👉 <@{bob}> assigned this case to *@alice* (a DM tells them)."]
    with read_scope(deps.engine) as session:
        assert [(r.kind, r.channel_id, r.status) for r in session.exec(select(NoticeRow).order_by(NoticeRow.id))] == [
            ("assigned", bob, "sent"), ("reassigned", alice, "sent"), ("assigned", alice, "sent")]


def test_a_case_is_not_assigned_to_a_bot_and_the_assigner_is_told(desk, deps, slack_emulator, slack_proxy, channel):
    [case_id] = publish_cases(desk, channel, ["acme screen went dark"])
    bot = slack_emulator.bot_user_id  # the picker offers the app itself too
    view = modals.assign_modal(load_view(deps, case_id)).to_dict()
    ack = Acks()
    views.assign_submitted(ack, submission(slack_emulator, user="carol", view=view, values=assign_values(bot)),
                           desk.slack, deps=deps)
    assert ack.only == {}  # who it is is asked of Slack after the ack
    assert case_row(deps, case_id).assignee is None
    said = [t for t in slack_emulator.ephemeral_texts(channel) if "was not assigned" in t]
    assert len(said) == 1 and said[0].endswith(f"is a bot, an app or a deactivated account, so case #{case_id} was "
                                               "not assigned. Assign it to a person."), said
    assign(slack_emulator, desk, deps, case_id, by="carol", to="bob")  # a person: assigned
    assert case_row(deps, case_id).assignee == slack_emulator.users["bob"]


def test_the_owner_a_case_is_taken_from_hears_who_has_it_now_unless_it_came_back(desk, deps, slack_emulator,
                                                                               slack_proxy, channel):
    [case_id] = publish_cases(desk, channel, ["acme battery swells"])
    alice, bob, carol = (slack_emulator.users[n] for n in ("alice", "bob", "carol"))
    with session_scope(deps.engine) as session:
        lifecycle.claim(session=session, case_id=case_id, user_id=carol, now=datetime.now(UTC))
    assign(slack_emulator, desk, deps, case_id, by="bob", to="alice")
    [dm] = dms(slack_proxy, carol)
    card = card_of(slack_emulator, channel, case_id)
    assert dm["text"].startswith(f"↪️ <@{bob}> gave <http")
    assert f"/archives/{channel}/p{card['ts'].replace('.', '')}|case #{case_id}> (@cust0 on X), which you owned, " \
           f"to <@{alice}>. It is theirs now" in dm["text"]
    # Given away and back before the notifier ran: alice is not told (it is hers again), nor carol (she never heard).
    with session_scope(deps.engine) as session:
        lifecycle.assign(session=session, case_id=case_id, user_id=bob, assignee=carol, now=datetime.now(UTC))
        lifecycle.assign(session=session, case_id=case_id, user_id=carol, assignee=alice, now=datetime.now(UTC))
    desk.notifier.run_once()
    with read_scope(deps.engine) as session:
        rows = [(r.kind, r.channel_id, r.status, r.error) for r in session.exec(select(NoticeRow).order_by(NoticeRow.id))]
    assert rows[-3:] == [("assigned", carol, "skipped", "the case was given to someone else since"),
                         ("reassigned", alice, "skipped", "the case is theirs again since"),
                         ("assigned", alice, "sent", None)], rows
    assert len(dms(slack_proxy, carol)) == 1


def test_a_dm_held_through_quiet_hours_is_skipped_when_the_case_went_to_someone_else(desk, deps, slack_emulator,
                                                                                       slack_proxy, channel):
    [case_id] = publish_cases(desk, channel, ["acme charger sparks"])
    bob, agent = slack_emulator.users["bob"], slack_emulator.users["agent01"]
    now = datetime.now(UTC)
    opens = now + timedelta(seconds=1)
    with session_scope(deps.engine) as session:  # two assignments in the night, both held as quiet hours hold them
        lifecycle.assign(session=session, case_id=case_id, user_id="U0CAROL", assignee=bob, now=now)
        lifecycle.assign(session=session, case_id=case_id, user_id="U0CAROL", assignee=agent, now=now)
        assert notices.hold_until(session=session, now=now, until=opens) == 2
    assert desk.notifier.run_once() == 0
    assert Notifier(engine=deps.engine, slack=desk.slack, clock=lambda: opens).run_once() == 1
    assert dms(slack_proxy, bob) == [] and len(dms(slack_proxy, agent)) == 1  # only the one it is now
    with read_scope(deps.engine) as session:
        skipped = session.exec(select(NoticeRow).where(NoticeRow.channel_id == bob)).one()
    assert (skipped.status, skipped.error) == ("skipped", "the case was given to someone else since")


def test_an_assignment_in_quiet_hours_is_told_when_business_hours_open(desk, deps, slack_emulator, slack_proxy,
                                                                       channel):
    [case_id] = publish_cases(desk, channel, ["acme case cracked"])
    bob = slack_emulator.users["bob"]
    today = datetime.now(UTC).weekday()
    hours = BusinessHours.parse(f"{DAYS[(today + 3) % 7]} 09:00-17:00 UTC")  # not today: it is quiet now
    policy = Policy({"normal": timedelta(hours=2)}, business_hours=hours)
    notifier = Notifier(engine=deps.engine, slack=desk.slack, clock=deps.clock, policy=policy)
    assign(slack_emulator, desk, dataclasses.replace(deps, notify=notifier.run_once), case_id, by="carol", to="bob")
    assert dms(slack_proxy, bob) == []  # not at night
    with read_scope(deps.engine) as session:
        held = session.exec(select(NoticeRow)).one()
    assert held.status == "queued" and held.due_at == hours.next_open(held.created_at) > held.created_at
    assert Notifier(engine=deps.engine, slack=desk.slack, clock=lambda: held.due_at, policy=policy).run_once() == 1
    assert len(dms(slack_proxy, bob)) == 1
