"""The incident card's buttons and a member's "Split out" (listeners.incidents), called in-process.

The storm's posts are on FakeX (so X accepts a reply to each) and in the database as one
incident: the anchor's card in the channel, the members in its thread (the real publisher).
"""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from socialdesk.jobs.publish import Publisher
from socialdesk.listeners import actions, incidents as incident_listeners
from socialdesk.listeners.common import load_view
from socialdesk.networks.x.fake.server import FakeX
from socialdesk.slack import ids, messages
from socialdesk.slack.blocks import incident as incident_blocks
from socialdesk.slack.permissions import ReplyPermissions
from socialdesk.store import ingest
from socialdesk.store import rules as rule_store
from socialdesk.store.db import read_scope, session_scope
from socialdesk.store.models import ReplyRow
from tests.e2e.helpers import block_text, button_ids
from tests.listeners.conftest import (
    Acks,
    AcksWatching,
    card_of,
    case_row,
    click,
    event_kinds,
    opened_views,
    sent_texts,
    submission,
    text_input,
    told,
)
from tests.listeners.test_resolutions import outcome_values
from tests.support.factories import x_post

X_TOKEN = "incident-bearer"
STORM = [("jo_tanaka", "Since the Acme X3 update 4.2 my wifi drops every few minutes. Anyone else?"),
         ("ravi_codes", "Acme X3 on 4.2: wifi keeps disconnecting. Was fine yesterday."),
         ("kofi_m", "@acmephones the 4.2 update broke wifi on my Acme X3, please fix"),
         ("ellie_reads", "Is the Acme X3 wifi bug from update 4.2 known? It drops every 5 minutes")]
REPLY = "Hi {author}, we know about the wifi drops on 4.2 and a fix is rolling out today. Sorry!"


@pytest.fixture
def fake_x() -> Iterator[FakeX]:
    with FakeX(bearer_token=X_TOKEN, own_username="acmephones", require_user_context=True) as server:
        yield server


@pytest.fixture
def reply_users() -> list[str]:
    return []


@pytest.fixture
def approvers() -> list[str]:
    return []  # names of emulator users; a test parametrizes it


@pytest.fixture
def desk_settings(fake_x, slack_emulator, reply_users, approvers) -> dict[str, str]:
    keys = fake_x.oauth1_keys
    return {"SOCIALDESK_X_API_URL": fake_x.url, "SOCIALDESK_X_BEARER_TOKEN": X_TOKEN,
            "SOCIALDESK_X_API_KEY": keys.consumer_key, "SOCIALDESK_X_API_SECRET": keys.consumer_secret,
            "SOCIALDESK_X_ACCESS_TOKEN": keys.token, "SOCIALDESK_X_ACCESS_SECRET": keys.token_secret,
            "SOCIALDESK_REPLY_USERS": ",".join(slack_emulator.users[n] for n in reply_users),
            "SOCIALDESK_APPROVERS": ",".join(slack_emulator.users[n] for n in approvers)}


@pytest.fixture
def storm(desk, fake_x, channel) -> list[int]:
    """Four customers' wifi posts on FakeX, one incident in the database, published: the case ids."""
    start = datetime.now(UTC) - timedelta(minutes=30)
    posts = []
    for i, (handle, text) in enumerate(STORM):
        posted = fake_x.post(username=handle, text=text)
        posts.append(x_post(posted["text"], handle=handle, post_id=posted["id"], when=start + timedelta(minutes=5 * i)))
    with session_scope(desk.engine) as session:
        rule = rule_store.add_rule(session=session, network="x", query="acme", channel_id=channel, every_seconds=60,
                                   lang=None, include_reposts=False, now=datetime.now(UTC))
        case_ids = ingest.store_page(session=session, posts=posts, rule_id=rule.id, channel_id=channel,
                                     now=datetime.now(UTC), incident_window=timedelta(hours=2)).new_case_ids
    Publisher(engine=desk.engine, slack=desk.slack, clock=lambda: datetime.now(UTC), post_interval=0).run_once()
    return case_ids


def publish(desk) -> None:
    Publisher(engine=desk.engine, slack=desk.slack, clock=lambda: datetime.now(UTC), post_interval=0).run_once()


def member_message(slack_emulator, channel: str, anchor_card: dict, case_id: int) -> dict:
    for message in slack_emulator.replies(channel, anchor_card["ts"])[1:]:
        if ((message.get("metadata") or {}).get("event_payload") or {}).get("case_id") == case_id:
            return message
    raise AssertionError(f"no message for case {case_id} in the incident card's thread")


def thread_texts(slack_emulator, channel: str, card: dict) -> list[str]:
    return [m.get("text", "") for m in slack_emulator.replies(channel, card["ts"])[1:]]


def x_replies(fake_x: FakeX) -> list[dict]:
    return [r.json() for r in fake_x.requests_to("/2/tweets", method="POST")]


def reply_rows(deps, case_id: int) -> list[ReplyRow]:
    with read_scope(deps.engine) as session:
        return list(session.exec(select(ReplyRow).where(ReplyRow.case_id == case_id).order_by(ReplyRow.id)))


def open_reply_all(desk, deps, slack_emulator, slack_proxy, channel: str, anchor: int, user: str = "alice") -> dict:
    card = card_of(slack_emulator, channel, anchor)
    incident_listeners.reply_all_clicked(click(slack_emulator, user=user, channel=channel, card=card,
                                               action_id=ids.INCIDENT_REPLY_ALL, value=str(anchor)),
                                         desk.slack, deps=deps)
    return opened_views(slack_proxy, ids.INCIDENT_REPLY_MODAL)[-1]


def submit_reply_all(desk, deps, slack_emulator, view: dict, text: str, user: str = "alice") -> Acks:
    ack = Acks()
    incident_listeners.reply_all_submitted(ack, submission(
        slack_emulator, user=user, view=view,
        values=text_input(ids.INCIDENT_REPLY_INPUT, text)), desk.slack, deps=deps)
    return ack


def test_reply_to_all_sends_each_customer_one_reply_audited_on_their_case(
        desk, deps, slack_emulator, slack_proxy, fake_x, channel, storm):
    view = open_reply_all(desk, deps, slack_emulator, slack_proxy, channel, storm[0])
    meta = json.loads(view["private_metadata"])
    assert meta["cases"] == storm and meta["case_id"] == storm[0]
    assert "@ravi_codes" in json.dumps(view["blocks"]) and view["submit"]["text"] == "Send 4 replies"

    assert submit_reply_all(desk, deps, slack_emulator, view, REPLY).only == {}
    sent = x_replies(fake_x)
    assert sorted(r["text"] for r in sent) == sorted(REPLY.replace("{author}", f"@{h}") for h, _ in STORM)
    targets = {r["reply"]["in_reply_to_tweet_id"] for r in sent}
    assert len(sent) == 4 and len(targets) == 4  # each in reply to its own customer's post
    alice = slack_emulator.users["alice"]
    for case_id in storm:
        [row] = reply_rows(deps, case_id)
        assert row.status == "sent" and row.agent == alice
        assert ("reply_sent", alice) in event_kinds(deps, case_id) and case_row(deps, case_id).status == "replied"
    card = card_of(slack_emulator, channel, storm[0])
    assert any(t.startswith(f"💬 <@{alice}> replied to all (4 sent)") for t in thread_texts(slack_emulator, channel, card))
    assert "Replied" in block_text(member_message(slack_emulator, channel, card, storm[2]), "status")

    # The same submission again (Slack retried it, or a double click): nothing is sent twice.
    assert submit_reply_all(desk, deps, slack_emulator, view, REPLY).only == {}
    assert len(x_replies(fake_x)) == 4 and all(len(reply_rows(deps, c)) == 1 for c in storm)
    open_reply_all(desk, deps, slack_emulator, slack_proxy, channel, storm[0])
    assert len(opened_views(slack_proxy, ids.INCIDENT_REPLY_MODAL)) == 1  # nobody waits for an answer: no modal
    assert "Every customer in this incident has been answered" in slack_emulator.ephemeral_texts(channel)[0]


def test_a_failed_reply_is_reported_and_the_others_are_not_sent_again(
        desk, deps, slack_emulator, slack_proxy, fake_x, channel, storm):
    view = open_reply_all(desk, deps, slack_emulator, slack_proxy, channel, storm[0])
    fake_x.fail_next("/2/tweets", status=403, method="POST", body={
        "title": "Forbidden", "detail": "You are not allowed to reply to this post.", "type": "about:blank",
        "status": 403})
    submit_reply_all(desk, deps, slack_emulator, view, "{author} we are on it, sorry about the wifi!")
    assert [r.status for c in storm for r in reply_rows(deps, c)] == ["failed", "sent", "sent", "sent"]
    alice = slack_emulator.users["alice"]
    told = sent_texts(slack_proxy, "chat.postEphemeral", user=alice)[-1]
    assert told.startswith("Reply to all: 3 sent, 1 failed.") and f"Case #{storm[0]} (@jo_tanaka)" in told
    assert ("reply_failed", alice) in event_kinds(deps, storm[0])

    # Reply to all again: only the customer still waiting gets it.
    retry = open_reply_all(desk, deps, slack_emulator, slack_proxy, channel, storm[0])
    assert json.loads(retry["private_metadata"])["cases"] == [storm[0]]
    submit_reply_all(desk, deps, slack_emulator, retry, "{author} we are on it, sorry about the wifi!")
    targets = [r["reply"]["in_reply_to_tweet_id"] for r in x_replies(fake_x)]
    assert len(targets) == 5 and len(set(targets)) == 4  # the refused one, the 3 others once each, the retry
    assert [r.status for r in reply_rows(deps, storm[0])] == ["failed", "sent"]


def test_a_network_limit_stops_the_rest_which_are_reported_not_sent(
        desk, deps, slack_emulator, slack_proxy, fake_x, channel, storm):
    view = open_reply_all(desk, deps, slack_emulator, slack_proxy, channel, storm[0])
    fake_x.rate_limit_next("/2/tweets", 900, method="POST")
    submit_reply_all(desk, deps, slack_emulator, view, "Fix coming today.")
    assert len(x_replies(fake_x)) == 1  # the one X refused with its 429
    assert [len(reply_rows(deps, c)) for c in storm] == [1, 0, 0, 0]  # the rest never tried
    told = sent_texts(slack_proxy, "chat.postEphemeral", user=slack_emulator.users["alice"])[-1]
    assert "0 sent, 1 failed, 3 not sent yet" in told and f"#{storm[3]} (@ellie_reads)" in told


def test_reply_to_all_is_refused_inline_for_a_text_x_would_refuse(desk, deps, slack_emulator, slack_proxy, fake_x,
                                                                 channel, storm):
    view = open_reply_all(desk, deps, slack_emulator, slack_proxy, channel, storm[0])
    long = "{author} " + "a" * 260  # fits as typed, not once the handle is in
    errors = submit_reply_all(desk, deps, slack_emulator, view, long).only["errors"]
    assert errors[ids.INCIDENT_REPLY_INPUT].startswith("That is 2")
    assert submit_reply_all(desk, deps, slack_emulator, view, "  ").only["errors"] == {
        ids.INCIDENT_REPLY_INPUT: "Write the reply, or press Cancel."}
    forged = dict(view, private_metadata=json.dumps({"case_id": storm[0], "network": "x", "cases": "all"}))
    assert "does not name an incident" in submit_reply_all(desk, deps, slack_emulator, forged, "hi").only["errors"][
        ids.INCIDENT_REPLY_INPUT]
    assert x_replies(fake_x) == []


@pytest.mark.parametrize("reply_users", [["alice"]])
def test_reply_to_all_needs_the_right_to_reply(desk, deps, slack_emulator, slack_proxy, fake_x, channel, storm):
    card = card_of(slack_emulator, channel, storm[0])
    incident_listeners.reply_all_clicked(click(slack_emulator, user="bob", channel=channel, card=card,
                                               action_id=ids.INCIDENT_REPLY_ALL, value=str(storm[0])),
                                         desk.slack, deps=deps)
    assert opened_views(slack_proxy, ids.INCIDENT_REPLY_MODAL) == []
    assert ("reply_refused", slack_emulator.users["bob"]) in event_kinds(deps, storm[0])
    view = open_reply_all(desk, deps, slack_emulator, slack_proxy, channel, storm[0])  # alice may
    assert submit_reply_all(desk, deps, slack_emulator, view, "hi", user="bob").only["errors"] == {
        ids.INCIDENT_REPLY_INPUT: "You are not allowed to send public replies for these cases."}
    assert x_replies(fake_x) == []


def test_reply_to_all_acks_before_asking_slack_who_may_reply_and_a_refusal_then_keeps_the_text(
        desk, deps, slack_emulator, slack_proxy, fake_x, channel, storm):
    carol = slack_emulator.users["carol"]
    slack_emulator.call("conversations.kick", channel=channel, user=carol)
    view = open_reply_all(desk, deps, slack_emulator, slack_proxy, channel, storm[0])  # by alice, who may
    elsewhere = dataclasses.replace(deps, permissions=ReplyPermissions(  # another replica: nothing cached
        client=desk.slack, users=frozenset(), groups=frozenset()))
    asked = len(slack_proxy.calls_to("conversations.members"))
    ack = AcksWatching(slack_proxy, "conversations.members")
    incident_listeners.reply_all_submitted(ack, submission(
        slack_emulator, user="carol", view=view, values=text_input(ids.INCIDENT_REPLY_INPUT, "Fixed, sorry {author}")),
        desk.slack, deps=elsewhere)
    assert ack.only == {} and ack.calls_before == [asked]
    assert len(slack_proxy.calls_to("conversations.members")) == asked + 1  # asked after the ack
    assert x_replies(fake_x) == [] and all(reply_rows(deps, case_id) == [] for case_id in storm)
    assert ("reply_refused", carol) in event_kinds(deps, storm[0])
    [said] = told(slack_proxy, carol)
    assert said.startswith(messages.not_allowed_to_reply(storm[0]))
    assert said.endswith("What you wrote, not sent:\n>Fixed, sorry {author}")


def test_resolve_all_asks_how_resolves_each_open_case_and_tells_the_owners(desk, deps, slack_emulator, slack_proxy,
                                                                             channel, storm):
    card = card_of(slack_emulator, channel, storm[0])
    bob = slack_emulator.users["bob"]
    actions.claim_clicked(click(slack_emulator, user="bob", channel=channel,
                                card=member_message(slack_emulator, channel, card, storm[1]), action_id=ids.CLAIM,
                                value=str(storm[1])), desk.slack, deps=deps)  # a member's own button works
    assert case_row(deps, storm[1]).assignee == bob
    assert "Claimed" in block_text(card_of(slack_emulator, channel, storm[0]), "incident_latest")

    incident_listeners.resolve_all_clicked(click(slack_emulator, user="alice", channel=channel, card=card,
                                                 action_id=ids.INCIDENT_RESOLVE_ALL, value=str(storm[0])),
                                           desk.slack, deps=deps)
    [modal] = opened_views(slack_proxy, ids.INCIDENT_RESOLVE_MODAL)  # how: one outcome for all
    assert "Each of its 4 open cases is resolved" in str(modal["blocks"])
    offered = [o["value"] for b in modal["blocks"] if b.get("block_id") == ids.OUTCOME_INPUT
               for o in b["element"]["options"]]
    assert offered == ["answered", "fixed", "no_reply_needed"]  # a duplicate is said on its own card
    duplicate = Acks()
    incident_listeners.resolve_all_submitted(duplicate, submission(slack_emulator, user="alice", view=modal,
                                                                   values=outcome_values("duplicate")),
                                             desk.slack, deps=deps)
    assert duplicate.only["errors"] == {ids.OUTCOME_INPUT: "Choose how they were resolved."}
    ack = Acks()
    incident_listeners.resolve_all_submitted(ack, submission(slack_emulator, user="alice", view=modal,
                                                             values=outcome_values("fixed")), desk.slack, deps=deps)
    assert ack.only == {}
    alice = slack_emulator.users["alice"]
    for case_id in storm:
        row = case_row(deps, case_id)
        assert (row.status, row.outcome) == ("resolved", "fixed") and ("resolved", alice) in event_kinds(deps, case_id)
    redrawn = card_of(slack_emulator, channel, storm[0])
    assert "0 open, 4 done" in block_text(redrawn, "incident")
    assert not any(b.get("block_id") == "incident_actions" for b in redrawn["blocks"])
    assert "Resolved" in block_text(member_message(slack_emulator, channel, card, storm[3]), "status")
    assert (f"✅ <@{alice}> resolved all 4 open cases of this incident (fixed)."
            in thread_texts(slack_emulator, channel, card))
    # Bob owned one of them: he is told, once.
    told = [c.params["text"] for c in slack_proxy.calls_to("chat.postMessage") if c.params.get("channel") == bob]
    assert told == [f"✅ <@{alice}> resolved case #{storm[1]}, which you owned, with the rest of their incident "
                    "(fixed). Nothing to do; if one is not done, use *Reopen* on its card."]


def test_the_incident_buttons_act_only_from_the_incident_card(desk, deps, slack_emulator, slack_proxy, channel,
                                                               storm):
    card = card_of(slack_emulator, channel, storm[0])
    member = member_message(slack_emulator, channel, card, storm[1])
    incident_listeners.resolve_all_clicked(click(slack_emulator, user="alice", channel=channel, card=member,
                                                 action_id=ids.INCIDENT_RESOLVE_ALL, value=str(storm[0])),
                                           desk.slack, deps=deps)  # forged onto a member's message
    assert opened_views(slack_proxy, ids.INCIDENT_RESOLVE_MODAL) == []
    assert all(case_row(deps, c).status == "new" for c in storm)


def test_ignore_all_asks_why_then_ignores_each_open_case(desk, deps, slack_emulator, slack_proxy, channel, storm):
    card = card_of(slack_emulator, channel, storm[0])
    incident_listeners.ignore_all_clicked(click(slack_emulator, user="alice", channel=channel, card=card,
                                                action_id=ids.INCIDENT_IGNORE_ALL, value=str(storm[0])),
                                          desk.slack, deps=deps)
    [modal] = opened_views(slack_proxy, ids.INCIDENT_IGNORE_MODAL)
    values = {ids.IGNORE_REASON_INPUT: {ids.IGNORE_REASON_INPUT: {
        "type": "static_select", "selected_option": {"value": "spam", "text": {"type": "plain_text", "text": "Spam"}}}}}
    empty = Acks()
    incident_listeners.ignore_all_submitted(empty, submission(slack_emulator, user="alice", view=modal, values={}),
                                            desk.slack, deps=deps)
    assert empty.only["errors"] == {ids.IGNORE_REASON_INPUT: "Choose a reason."}
    ack = Acks()
    incident_listeners.ignore_all_submitted(ack, submission(slack_emulator, user="alice", view=modal, values=values),
                                            desk.slack, deps=deps)
    assert ack.only == {}
    alice = slack_emulator.users["alice"]
    for case_id in storm:
        row = case_row(deps, case_id)
        assert (row.status, row.ignored_reason) == ("ignored", "spam") and ("ignored", alice) in event_kinds(deps, case_id)
    assert f"🚫 <@{alice}> ignored all 4 open cases of this incident as spam." in thread_texts(slack_emulator, channel, card)


def test_split_out_gives_the_member_a_card_of_its_own(desk, deps, slack_emulator, channel, storm):
    card = card_of(slack_emulator, channel, storm[0])
    old = member_message(slack_emulator, channel, card, storm[2])
    incident_listeners.split_clicked(click(slack_emulator, user="alice", channel=channel, card=old,
                                           action_id=ids.INCIDENT_SPLIT, value=str(storm[2])), desk.slack, deps=deps)
    alice = slack_emulator.users["alice"]
    assert ("incident_split", alice) in event_kinds(deps, storm[2])
    notice = next(m for m in slack_emulator.replies(channel, card["ts"]) if m["ts"] == old["ts"])
    assert "was split out of this incident" in notice["text"] and not any(b["type"] == "actions" for b in notice["blocks"])
    assert block_text(card_of(slack_emulator, channel, storm[0]), "incident").startswith("🌩 *3 posts like this")
    publish(desk)
    own = card_of(slack_emulator, channel, storm[2])  # a top-level card now
    assert own["ts"] != old["ts"] and not any(b.get("block_id") == "incident" for b in own["blocks"])
    assert case_row(deps, storm[2]).message_ts == own["ts"]
    # The old message's buttons are gone; a forged click on them names a case whose card is elsewhere.
    actions.claim_clicked(click(slack_emulator, user="bob", channel=channel, card=old, action_id=ids.CLAIM,
                                value=str(storm[2])), desk.slack, deps=deps)
    assert case_row(deps, storm[2]).status == "new"
    incident_listeners.split_clicked(click(slack_emulator, user="alice", channel=channel, card=own,
                                           action_id=ids.INCIDENT_SPLIT, value=str(storm[2])), desk.slack, deps=deps)
    assert [k for k, _ in event_kinds(deps, storm[2])].count("incident_split") == 1


def test_social_incidents_lists_the_open_incident_with_its_card(desk, deps, slack_emulator, channel, storm):
    from tests.listeners.test_commands import shown, social

    answer = shown(social(deps, slack_emulator, desk, "incidents"))
    assert "*Open incidents* (1)" in answer and "*4 posts* in 15 min · 4 open" in answer
    assert f"case #{storm[0]}" in answer and "|Incident #" in answer  # linked to the incident card
    assert "Usage: `/social incidents`" in shown(social(deps, slack_emulator, desk, "incidents now"))
    assert "`/social incidents`" in shown(social(deps, slack_emulator, desk, "help"))


def test_resolve_all_through_the_app_is_acked_first_and_applied_after_a_lock(desk, slack_emulator, channel, storm):
    """Bound by `register` like every modal: the ack is the HTTP answer, the work follows (listeners.binding)."""
    from tests.listeners.conftest import SECRET
    from tests.support.in_process import post
    from tests.support.locks import write_locked
    from tests.support.slack_signing import sign, view_submission_body
    from tests.support.waiting import wait_for

    view = load_view(desk.deps, storm[0])
    body = view_submission_body(user_id=slack_emulator.users["alice"], user_name="alice", team_id=slack_emulator.team_id,
                                view=incident_blocks.resolve_all_modal(view).to_dict(), values=outcome_values("answered"))
    with write_locked(desk.engine, "cases"):
        answer = post(desk, body, sign(body, SECRET))
        assert (answer.status, answer.body) == (200, b"")
        assert case_row(desk.deps, storm[0]).status == "new"
    wait_for(lambda: all(case_row(desk.deps, c).status == "resolved" for c in storm), timeout=30,
             what="every case resolved after the lock")


@pytest.mark.parametrize("approvers", [["carol"]])
def test_with_approvers_each_reply_to_all_waits_for_its_approval_in_the_incident_thread(
        desk, deps, slack_emulator, slack_proxy, fake_x, channel, storm):
    view = open_reply_all(desk, deps, slack_emulator, slack_proxy, channel, storm[0])
    submit_reply_all(desk, deps, slack_emulator, view, REPLY)
    assert x_replies(fake_x) == []
    assert [r.status for c in storm for r in reply_rows(deps, c)] == ["awaiting_approval"] * 4
    card = card_of(slack_emulator, channel, storm[0])
    asks = [m for m in slack_emulator.replies(channel, card["ts"])[1:] if "waits for approval" in m.get("text", "")
            or any(e.get("action_id") == ids.APPROVE_REPLY for b in m.get("blocks", []) for e in b.get("elements", []))]
    assert len(asks) == 4  # one per case, all in the incident card's thread
    assert any(t.startswith("💬 <@") and "4 waiting for approval" in t for t in thread_texts(slack_emulator, channel, card))
