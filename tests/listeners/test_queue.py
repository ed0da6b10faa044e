"""The queue worked in order (listeners.queue, `/social queue`, App Home's saved view), called in-process.

Cards are posted by the real publisher into the emulator; a row's Claim is the card's claim
(the card and its thread follow), then the list it came from is shown as it is now.
"""

from __future__ import annotations

import json
from datetime import timedelta

from socialdesk.listeners import commands, home, views
from socialdesk.listeners import queue as queue_listeners
from socialdesk.slack import ids, messages
from socialdesk.slack.blocks.queue import parse_row_value, row_value
from socialdesk.store import saved_views
from socialdesk.store.db import session_scope
from socialdesk.store.models import CaseRow
from tests.listeners.conftest import (
    SECRET,
    Acks,
    Responses,
    card_of,
    card_updates,
    case_row,
    click,
    opened_views,
    publish_cases,
    published_homes,
    submission,
    text_input,
)
from tests.listeners.test_home import home_click, notice, opened
from tests.support.home_view import listed, texts
from tests.support.in_process import make_desk, url_of


def social(deps, slack_emulator, desk, text: str, user: str = "alice") -> dict:
    ack, respond = Acks(), Responses()
    commands.social(ack, {"command": "/social", "text": text, "user_id": slack_emulator.users[user]}, desk.slack,
                    respond, deps=deps)
    return ack.only


def rows(answer: dict) -> list[int]:
    return [int(b["block_id"].removeprefix("case_")) for b in answer["blocks"]
            if b.get("block_id", "").startswith("case_")]


def row_buttons(answer: dict, case_id: int) -> list[tuple[str, str]]:
    [block] = [b for b in answer["blocks"] if b.get("block_id") == f"qrow_{case_id}"]
    return [(e["action_id"], e["text"]["text"]) for e in block["elements"]]


def shown(answer: dict) -> str:
    return "\n".join([answer.get("text", "")] + [b["text"]["text"] for b in answer.get("blocks") or []
                                                 if isinstance(b.get("text"), dict)]
                     + [e["text"] for b in answer.get("blocks") or [] for e in b.get("elements") or []
                        if isinstance(e.get("text"), str)])


def set_case(deps, case_id: int, **values) -> None:
    with session_scope(deps.engine) as session:
        row = session.get(CaseRow, case_id)
        for key, value in values.items():
            setattr(row, key, value)


def urgent_cases(desk, deps, channel) -> dict[str, int]:
    """Four waiting cases whose order differs by age, priority and due time (targets high 30m, normal 2h, low 8h)."""
    old_low, normal, high, fresh = publish_cases(desk, channel, ["acme old", "acme normal", "acme high", "acme new"])
    now = deps.clock()
    set_case(deps, old_low, priority="low", opened_at=now - timedelta(hours=9))   # overdue by 1 h
    set_case(deps, normal, opened_at=now - timedelta(minutes=110))                 # due in 10 min
    set_case(deps, high, priority="high", opened_at=now - timedelta(minutes=15))   # due in 15 min
    set_case(deps, fresh, opened_at=now - timedelta(minutes=1))                    # due in 1 h 59 min
    return {"old_low": old_low, "normal": normal, "high": high, "fresh": fresh}


def list_click(slack_emulator, channel: str, user: str, action_id: str, value: str) -> dict:
    """A click in the ephemeral `/social queue` answer (a message only its reader sees)."""
    body = click(slack_emulator, user=user, channel=channel, card={"ts": "1700000000.000200", "type": "message"},
                 action_id=action_id, value=value)
    body["container"]["is_ephemeral"] = True
    return body


def test_social_queue_is_most_urgent_first_each_row_with_claim_and_assign(desk, deps, slack_emulator, channel):
    cases = urgent_cases(desk, deps, channel)
    answer = social(deps, slack_emulator, desk, "queue")
    assert rows(answer) == [cases["old_low"], cases["normal"], cases["high"], cases["fresh"]]
    for case_id in cases.values():
        assert row_buttons(answer, case_id) == [(ids.QUEUE_CLAIM, "Claim"), (ids.QUEUE_ASSIGN, "Assign…")]
    text = shown(answer)
    assert "overdue by 1h 0m" in text and "due in 9m" in text  # seconds pass between setting and reading
    assert "most urgent first" in text and "1–4 of 4" in text
    assert "`/social queue [filters]`" in commands.HELP and "`intent:complaint|question|praise|other`" in commands.HELP


def test_social_queue_filters_narrow_it_and_a_mistake_is_explained(desk, deps, slack_emulator, channel):
    cases = urgent_cases(desk, deps, channel)
    set_case(deps, cases["normal"], tags=["billing"], intent="question")
    set_case(deps, cases["fresh"], tags=["billing", "battery"], intent="complaint")
    assert rows(social(deps, slack_emulator, desk, "queue tag:billing")) == [cases["normal"], cases["fresh"]]
    assert rows(social(deps, slack_emulator, desk, "queue tag:billing intent:complaint")) == [cases["fresh"]]
    assert rows(social(deps, slack_emulator, desk, "queue priority:high,low")) == [cases["old_low"], cases["high"]]
    narrowed = social(deps, slack_emulator, desk, "queue Priority:HIGH")
    assert "matching `priority:high`" in shown(narrowed)
    nothing = social(deps, slack_emulator, desk, "queue tag:screen")
    assert "Nothing waiting matching `tag:screen`." in shown(nothing)
    bad = social(deps, slack_emulator, desk, "queue tag:<!here>")["text"]
    assert bad.startswith("`tag:&lt;!here&gt;`: `&lt;!here&gt;` is not a tag cases carry (battery, screen, billing")
    assert "<!here>" not in bad and "Filters: `priority:high|normal|low`" in bad


def test_social_queue_alone_shows_the_saved_view_and_all_shows_every_case(desk, deps, slack_emulator, channel):
    cases = urgent_cases(desk, deps, channel)
    alice, bob = slack_emulator.users["alice"], slack_emulator.users["bob"]
    with session_scope(deps.engine) as session:
        saved_views.save_queue_filter(session=session, user_id=alice, text="priority:high,low", now=deps.clock())
        saved_views.save_queue_filter(session=session, user_id=bob, text="tag:warranty", now=deps.clock())
    mine = social(deps, slack_emulator, desk, "queue")
    assert rows(mine) == [cases["old_low"], cases["high"]]
    assert "Your saved view from App Home: `priority:high,low`" in shown(mine) and "`/social queue all`" in shown(mine)
    # A row's Claim redraws the list with the filters shown, as for typed ones.
    [claim] = [e for b in mine["blocks"] if b.get("block_id") == f"qrow_{cases['high']}" for e in b["elements"]
               if e["action_id"] == ids.QUEUE_CLAIM]
    assert parse_row_value(claim["value"]) == (cases["high"], "priority:high,low", 0)
    assert rows(social(deps, slack_emulator, desk, "queue all")) == list(cases.values())
    assert rows(social(deps, slack_emulator, desk, "queue ALL")) == list(cases.values())
    assert rows(social(deps, slack_emulator, desk, "queue priority:normal")) == [cases["normal"], cases["fresh"]]
    # A saved view that no longer parses (the tag was dropped): every case, and why.
    stale = social(deps, slack_emulator, desk, "queue", user="bob")
    assert rows(stale) == list(cases.values())
    assert "Your saved view `tag:warranty` no longer reads as filters" in shown(stale)
    assert rows(social(deps, slack_emulator, desk, "queue", user="carol")) == list(cases.values())  # none saved
    assert "`/social queue all`" in commands.HELP


def test_claim_from_the_list_claims_redraws_the_card_and_the_list_and_a_late_click_is_told(
        desk, deps, slack_emulator, slack_proxy, channel):
    cases = urgent_cases(desk, deps, channel)
    alice, bob = slack_emulator.users["alice"], slack_emulator.users["bob"]
    target = cases["normal"]
    respond, ack = Responses(), Acks()
    queue_listeners.claim_clicked(ack, list_click(slack_emulator, channel, "alice", ids.QUEUE_CLAIM,
                                                  row_value(target, "priority:normal,low", 0)),
                                  desk.slack, respond, deps=deps)
    assert ack.only == {}
    row = case_row(deps, target)
    assert (row.status, row.assignee) == ("claimed", alice)
    card = card_of(slack_emulator, channel, target)
    assert card_updates(slack_proxy, card)  # the card shows its owner
    assert messages.claimed(alice) in [m["text"] for m in slack_emulator.replies(channel, card["ts"])[1:]]
    redrawn = respond.only
    assert (redrawn["replace_original"], redrawn["response_type"]) == (True, "ephemeral")
    assert rows(redrawn) == [cases["old_low"], cases["fresh"]]  # the same filter, without the claimed case
    assert "You claimed" in shown(redrawn) and f"Case #{target}" in shown(redrawn)

    late = Responses()
    queue_listeners.claim_clicked(Acks(), list_click(slack_emulator, channel, "bob", ids.QUEUE_CLAIM,
                                                     row_value(target)), desk.slack, late, deps=deps)
    assert case_row(deps, target).assignee == alice
    assert f"Case #{target} is already claimed by <@{alice}>." in shown(late.only)
    assert bob not in json.dumps(card_of(slack_emulator, channel, target)["blocks"])

    forged = Responses()
    queue_listeners.claim_clicked(Acks(), list_click(slack_emulator, channel, "bob", ids.QUEUE_CLAIM, '{"c": "1"}'),
                                  desk.slack, forged, deps=deps)
    assert queue_listeners.NOT_OURS in shown(forged.only)


def test_claim_from_the_home_moves_the_case_into_your_cases(desk, deps, slack_emulator, slack_proxy, channel):
    cases = urgent_cases(desk, deps, channel)
    alice = slack_emulator.users["alice"]
    home.home_opened(opened(slack_emulator, "alice"), desk.slack, deps=deps)
    before = published_homes(slack_proxy, alice)[-1]
    assert listed(before, "queue_") == [cases["old_low"], cases["normal"], cases["high"], cases["fresh"]]
    assert [b["block_id"] for b in before["blocks"] if b.get("block_id", "").startswith("qrow_")] == [
        f"qrow_{c}" for c in listed(before, "queue_")]

    queue_listeners.claim(home_click(slack_emulator, "alice", ids.QUEUE_CLAIM, row_value(cases["high"])),
                          desk.slack, None, deps)
    after = published_homes(slack_proxy, alice)[-1]
    assert listed(after, "mine_") == [cases["high"]] and cases["high"] not in listed(after, "queue_")
    assert notice(after) is None
    queue_listeners.claim(home_click(slack_emulator, "bob", ids.QUEUE_CLAIM, row_value(cases["high"])),
                          desk.slack, None, deps)
    refused = published_homes(slack_proxy, slack_emulator.users["bob"])[-1]
    assert notice(refused) == f"⚠️ Case #{cases['high']} is already claimed by <@{alice}>."


def test_assign_from_the_home_opens_the_card_s_modal_and_the_home_follows(desk, deps, slack_emulator, slack_proxy,
                                                                         channel):
    cases = urgent_cases(desk, deps, channel)
    carol, bob = slack_emulator.users["carol"], slack_emulator.users["bob"]
    queue_listeners.assign(home_click(slack_emulator, "carol", ids.QUEUE_ASSIGN, row_value(cases["fresh"])),
                           desk.slack, None, deps)
    [modal] = opened_views(slack_proxy, ids.ASSIGN_MODAL)
    assert json.loads(modal["private_metadata"]) == {"case_id": cases["fresh"], "home": True}
    values = {ids.ASSIGNEE_INPUT: {ids.ASSIGNEE_INPUT: {"type": "users_select", "selected_user": bob}}}
    ack = Acks()
    views.assign_submitted(ack, submission(slack_emulator, user="carol", view=modal, values=values), desk.slack,
                           deps=deps)
    assert ack.only == {}
    assert (case_row(deps, cases["fresh"]).status, case_row(deps, cases["fresh"]).assignee) == ("claimed", bob)
    shown_to_carol = published_homes(slack_proxy, carol)[-1]
    assert cases["fresh"] not in listed(shown_to_carol, "queue_")

    # From a card the modal is as before: nothing says Home, so no Home is published.
    published = len(slack_proxy.calls_to("views.publish"))
    queue_listeners.assign(list_click(slack_emulator, channel, "carol", ids.QUEUE_ASSIGN, row_value(cases["high"])),
                           desk.slack, Responses(), deps)
    card_modal = opened_views(slack_proxy, ids.ASSIGN_MODAL)[-1]
    assert json.loads(card_modal["private_metadata"]) == {"case_id": cases["high"]}
    views.assign_submitted(Acks(), submission(slack_emulator, user="carol", view=card_modal, values=values),
                           desk.slack, deps=deps)
    assert case_row(deps, cases["high"]).assignee == bob and len(slack_proxy.calls_to("views.publish")) == published


def filter_values(text: str) -> dict:
    return text_input(ids.QUEUE_FILTER_INPUT, text)


def test_the_home_keeps_the_viewer_s_filters_as_their_saved_view_across_a_restart(
        desk, deps, engine, slack_emulator, slack_proxy, channel):
    cases = urgent_cases(desk, deps, channel)
    set_case(deps, cases["high"], tags=["billing"])
    set_case(deps, cases["fresh"], tags=["billing"], intent="question")
    alice = slack_emulator.users["alice"]

    home.filter_clicked(home_click(slack_emulator, "alice", ids.HOME_QUEUE_FILTER, "filter"), desk.slack, deps=deps)
    [modal] = opened_views(slack_proxy, ids.QUEUE_FILTER_MODAL)
    bad = Acks()
    home.filter_submitted(bad, submission(slack_emulator, user="alice", view=modal,
                                          values=filter_values("tag:billing colour:red")), desk.slack, deps=deps)
    error = bad.only["errors"][ids.QUEUE_FILTER_INPUT]
    assert bad.only["response_action"] == "errors" and error.startswith("`colour:red`: unknown filter `colour:`")
    good = Acks()
    home.filter_submitted(good, submission(slack_emulator, user="alice", view=modal,
                                           values=filter_values("TAG:billing")), desk.slack, deps=deps)
    assert good.only == {}
    filtered = published_homes(slack_proxy, alice)[-1]
    assert listed(filtered, "queue_") == [cases["high"], cases["fresh"]]
    assert "Your view: `tag:billing`" in texts(filtered) and "Waiting for a claim (2)" in texts(filtered)
    with session_scope(deps.engine) as session:
        assert saved_views.queue_filter(session=session, user_id=alice) == "tag:billing"

    # bob's Home is his own; alice's view survives a restart (a new app on the same database).
    home.home_opened(opened(slack_emulator, "bob"), desk.slack, deps=deps)
    assert len(listed(published_homes(slack_proxy, slack_emulator.users["bob"])[-1], "queue_")) == 4
    restarted = make_desk(url_of(engine), slack_proxy.url, secret=SECRET, SOCIALDESK_TAGS="battery,screen,billing")
    try:
        home.home_opened(opened(slack_emulator, "alice"), restarted.slack, deps=restarted.deps)
        again = published_homes(slack_proxy, alice)[-1]
        assert listed(again, "queue_") == [cases["high"], cases["fresh"]]
        home.filter_clicked(home_click(slack_emulator, "alice", ids.HOME_QUEUE_FILTER, "filter"), restarted.slack,
                            deps=restarted.deps)
        reopened = opened_views(slack_proxy, ids.QUEUE_FILTER_MODAL)[-1]
        assert [b["element"].get("initial_value") for b in reopened["blocks"] if b["type"] == "input"] == [
            "tag:billing"]
        home.clear_clicked(home_click(slack_emulator, "alice", ids.HOME_QUEUE_CLEAR, "clear"), restarted.slack,
                           deps=restarted.deps)
        cleared = published_homes(slack_proxy, alice)[-1]
        assert len(listed(cleared, "queue_")) == 4 and "Every waiting case" in texts(cleared)
    finally:
        restarted.close(grace=5)


def test_a_saved_view_that_no_longer_parses_is_said_and_the_whole_queue_shown(desk, deps, slack_emulator, slack_proxy,
                                                                             channel):
    cases = urgent_cases(desk, deps, channel)
    alice = slack_emulator.users["alice"]
    with session_scope(deps.engine) as session:  # saved while "warranty" was one of the team's tags
        saved_views.save_queue_filter(session=session, user_id=alice, text="tag:warranty", now=deps.clock())
    home.home_opened(opened(slack_emulator, "alice"), desk.slack, deps=deps)
    view = published_homes(slack_proxy, alice)[-1]
    assert len(listed(view, "queue_")) == len(cases)
    assert notice(view).startswith("⚠️ Your saved queue filter `tag:warranty` no longer works")


def test_a_list_too_old_to_redraw_still_says_what_the_click_did(desk, deps, slack_emulator, channel):
    cases = urgent_cases(desk, deps, channel)

    def expired(**_message):
        raise RuntimeError("404 expired_url")  # Slack keeps a response_url for 30 minutes

    queue_listeners.claim(list_click(slack_emulator, channel, "alice", ids.QUEUE_CLAIM, row_value(cases["high"])),
                          desk.slack, expired, deps)
    assert case_row(deps, cases["high"]).assignee == slack_emulator.users["alice"]
    assert any("You claimed" in t and f"Case #{cases['high']}" in t for t in slack_emulator.ephemeral_texts(channel))


def test_a_rule_target_stored_before_targets_had_a_maximum_does_not_break_the_queue(desk, deps, slack_emulator,
                                                                                     channel):
    """`sla:normal=99999999d` was saved; then every deadline of its cases overflowed, and `/social queue`
    answered "Sorry, that did not work" for everyone. Now it is no target (the team's apply)."""
    from socialdesk.store import rules as rule_store

    with session_scope(deps.engine) as session:
        rule = rule_store.add_rule(session=session, network="x", query="acme", channel_id=channel, every_seconds=60,
                                   lang=None, include_reposts=False, now=deps.clock(), sla_targets="normal=99999999d")
        rule_id = rule.id
    [case_id] = publish_cases(desk, channel, ["acme broke"])
    set_case(deps, case_id, rule_id=rule_id, opened_at=deps.clock() - timedelta(minutes=110))
    answer = social(deps, slack_emulator, desk, "queue")
    assert rows(answer) == [case_id]
    assert "due in 9m" in shown(answer) or "due in 10m" in shown(answer)  # the team's normal target, 2 h
