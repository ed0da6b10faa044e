"""Public replies from the card (listeners.replies), called in-process, sent through FakeX.

The customer's post is on FakeX (so X accepts a reply to it) and in the database as a case
with its card. Inline refusals are the submission's ack; a reply that goes out is a POST
/2/tweets that FakeX records. The end-to-end tests cover the happy loop, a refused reply
(not mentioned) and the approver's Approve/Edit; here are the branches around them.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlmodel import select

from socialdesk.domain import EventKind
from socialdesk.jobs.publish import Publisher
from socialdesk.listeners import replies
from socialdesk.listeners.common import load_view
from socialdesk.networks.x.fake.server import FakeX
from socialdesk.slack import ids, messages
from socialdesk.slack.blocks import modals
from socialdesk.store import ingest, lifecycle
from socialdesk.store.db import read_scope, session_scope
from socialdesk.store.models import ReplyRow
from tests.e2e.helpers import block_text
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
from tests.support.factories import x_post

X_TOKEN = "listener-bearer"
BRAND_URL = "https://x.com/acmephones/status/"


@pytest.fixture
def fake_x() -> Iterator[FakeX]:
    with FakeX(bearer_token=X_TOKEN, own_username="acmephones", require_user_context=True) as server:
        yield server


@pytest.fixture
def approvers() -> list[str]:
    return []  # names of emulator users; a test parametrizes it


@pytest.fixture
def reply_users() -> list[str]:
    return []


@pytest.fixture
def desk_settings(fake_x, slack_emulator, approvers, reply_users) -> dict[str, str]:
    keys = fake_x.oauth1_keys
    return {"SOCIALDESK_X_API_URL": fake_x.url, "SOCIALDESK_X_BEARER_TOKEN": X_TOKEN,
            "SOCIALDESK_X_API_KEY": keys.consumer_key, "SOCIALDESK_X_API_SECRET": keys.consumer_secret,
            "SOCIALDESK_X_ACCESS_TOKEN": keys.token, "SOCIALDESK_X_ACCESS_SECRET": keys.token_secret,
            "SOCIALDESK_APPROVERS": ",".join(slack_emulator.users[n] for n in approvers),
            "SOCIALDESK_REPLY_USERS": ",".join(slack_emulator.users[n] for n in reply_users)}


@pytest.fixture
def customer_post(fake_x) -> dict:
    return fake_x.post(username="dana_k", text="@acmephones my acme phone will not charge")


@pytest.fixture
def case(desk, customer_post, channel) -> int:
    """The customer's post on FakeX, stored as a case whose card is in `channel`."""
    posted = customer_post
    with session_scope(desk.engine) as session:
        [case_id] = ingest.store_posts(session=session, posts=[x_post(posted["text"], handle="dana_k",
                                                                      post_id=posted["id"])],
                                       rule_id=None, channel_id=channel, now=datetime.now(UTC))
    Publisher(engine=desk.engine, slack=desk.slack, clock=lambda: datetime.now(UTC), post_interval=0).run_once()
    return case_id


def x_replies(fake_x: FakeX) -> list[dict]:
    return [r.json() for r in fake_x.requests_to("/2/tweets", method="POST")]


def reply_modal(deps, case_id: int, *, opened_at: float | None = None, revision: int = 0, **extra) -> dict:
    """The reply modal as Reply opens it, with an id as Slack gives one (the reply's idempotency key)."""
    view = modals.reply_modal(load_view(deps, case_id), brand="acmephones", saved=(), revision=revision,
                              rules=replies.reply_rules(deps, "x"),
                              opened_at=time.time() - 5 if opened_at is None else opened_at, **extra).to_dict()
    return dict(view, id=f"V{uuid.uuid4().hex[:10].upper()}")


def submit(handler, slack_emulator, desk, deps, view: dict, text: str, *, user: str = "alice",
           block: str | None = None, ack: Acks | None = None) -> Acks:
    block = block or next(b["block_id"] for b in view["blocks"] if b.get("block_id", "").startswith(ids.REPLY_INPUT))
    ack = ack or Acks()
    handler(ack, submission(slack_emulator, user=user, view=view, values=text_input(block, text, ids.REPLY_INPUT)),
            desk.slack, deps=deps)
    return ack


def errors(ack: Acks) -> dict[str, str]:
    assert ack.only.get("response_action") == "errors", ack.only
    return ack.only["errors"]


def reply_rows(deps, case_id: int) -> list[ReplyRow]:
    with read_scope(deps.engine) as session:
        return list(session.exec(select(ReplyRow).where(ReplyRow.case_id == case_id).order_by(ReplyRow.id)))


def thread_texts(slack_emulator, channel: str, card: dict) -> list[str]:
    return [m.get("text", "") for m in slack_emulator.replies(channel, card["ts"])[1:]]


def test_reply_opens_the_modal_marks_the_case_and_only_the_writer_s_close_clears_it(
        desk, deps, slack_emulator, slack_proxy, channel, case):
    card = card_of(slack_emulator, channel, case)
    alice = slack_emulator.users["alice"]
    replies.reply_clicked(click(slack_emulator, user="alice", channel=channel, card=card, action_id=ids.REPLY,
                                value=str(case)), desk.slack, deps=deps)
    [opened] = opened_views(slack_proxy, ids.REPLY_MODAL)
    meta = json.loads(opened["private_metadata"])
    assert (meta["case_id"], meta["network"], meta["revision"]) == (case, "x", 0)
    assert abs(meta["opened_at"] - time.time()) < 60
    assert case_row(deps, case).replying_user == alice
    assert "is replying" in block_text(card_of(slack_emulator, channel, case), "status")

    closed = {"type": "view_closed", "user": {"id": slack_emulator.users["bob"]}, "view": opened}
    replies.reply_closed(closed, desk.slack, deps=deps)  # bob closing his own modal: alice is still writing
    assert case_row(deps, case).replying_user == alice
    replies.reply_closed(dict(closed, user={"id": alice}), desk.slack, deps=deps)
    assert case_row(deps, case).replying_user is None
    assert "is replying" not in block_text(card_of(slack_emulator, channel, case), "status")
    replies.reply_closed(dict(closed, view={"private_metadata": "{}"}), desk.slack, deps=deps)  # names no case: nothing


def test_a_reply_is_refused_inline_for_what_x_would_refuse(desk, deps, slack_emulator, fake_x, case):
    view = reply_modal(deps, case, revision=2)
    block = f"{ids.REPLY_INPUT}-2"  # the block id a saved reply's revision gave the input
    # 141 CJK characters: 141 by Python's count, 282 as X counts them.
    cjk = errors(submit(replies.reply_submitted, slack_emulator, desk, deps, view, "充" * 141))
    assert cjk == {block: "That is 282 characters as X counts them (X allows 280 characters; links count 23, emoji "
                          "and CJK characters count 2): 2 too many (282/280). Shorten it, then send."}
    huge = errors(submit(replies.reply_submitted, slack_emulator, desk, deps, view, "a" * 3001))
    assert huge[block].startswith("That is 3,001 characters, more than a reply box holds (3,000); X takes far fewer.")
    assert errors(submit(replies.reply_submitted, slack_emulator, desk, deps, view, "  \n ")) == {
        block: "Write the reply, or press Cancel."}
    gone = dict(view, private_metadata=json.dumps({"case_id": 424242, "revision": 2}))
    assert errors(submit(replies.reply_submitted, slack_emulator, desk, deps, gone, "hi", block=block)) == {
        block: "This case no longer exists."}
    assert x_replies(fake_x) == [] and reply_rows(deps, case) == []


@pytest.mark.parametrize("reply_users", [["alice"]])
def test_a_submission_from_someone_not_allowed_is_refused_inline(desk, deps, slack_emulator, fake_x, case):
    view = reply_modal(deps, case)  # opened before an admin narrowed who may reply, or forged
    assert errors(submit(replies.reply_submitted, slack_emulator, desk, deps, view, "Hi!", user="bob")) == {
        f"{ids.REPLY_INPUT}-0": "You are not allowed to send public replies for this case."}
    assert x_replies(fake_x) == [] and reply_rows(deps, case) == []


def test_a_submission_acks_before_asking_slack_who_may_reply_and_a_refusal_then_keeps_the_text(
        desk, deps, slack_emulator, slack_proxy, fake_x, case, channel):
    """The 3-second ack never waits on Slack: who may reply is read from the cache (opening the modal fills
    it) and, when nothing is cached, asked after the ack; a refusal then is recorded and told with the text."""
    carol = slack_emulator.users["carol"]
    slack_emulator.call("conversations.kick", channel=channel, user=carol)
    view = reply_modal(deps, case)  # opened on another replica, or long ago: nothing cached here
    ack = AcksWatching(slack_proxy, "conversations.members")
    submit(replies.reply_submitted, slack_emulator, desk, deps, view, "Hi Dana, a new charger is on its way",
           user="carol", ack=ack)
    assert ack.only == {} and ack.calls_before == [0]
    assert len(slack_proxy.calls_to("conversations.members")) == 1  # asked after the ack
    assert x_replies(fake_x) == [] and reply_rows(deps, case) == []
    assert (EventKind.REPLY_REFUSED.value, carol) in event_kinds(deps, case)
    [said] = told(slack_proxy, carol)
    assert said.startswith(messages.not_allowed_to_reply(case))
    assert said.endswith("What you wrote, not sent:\n>Hi Dana, a new charger is on its way")
    # Now it is known here: the next submission is refused in the modal, with nothing asked of Slack.
    again = AcksWatching(slack_proxy, "conversations.members")
    assert errors(submit(replies.reply_submitted, slack_emulator, desk, deps, view, "Hi", user="carol", ack=again)) == {
        f"{ids.REPLY_INPUT}-0": "You are not allowed to send public replies for this case."}
    assert again.calls_before == [1] and len(slack_proxy.calls_to("conversations.members")) == 1


def test_a_reply_is_not_sent_and_the_text_is_kept_when_slack_cannot_say_who_may_reply(
        desk, deps, slack_emulator, slack_proxy, fake_x, case):
    slack_proxy.answer("conversations.members", {"ok": False, "error": "internal_error"})
    assert submit(replies.reply_submitted, slack_emulator, desk, deps, reply_modal(deps, case), "On it!").only == {}
    assert x_replies(fake_x) == [] and reply_rows(deps, case) == []
    [said] = told(slack_proxy, slack_emulator.users["alice"])
    assert said.startswith(f"Slack did not answer whether you may send public replies for case #{case} "
                           "(SlackApiError), so nothing was sent.")
    assert said.endswith("What you wrote, not sent:\n>On it!")
    assert case_row(deps, case).replying_user is None


def test_a_reply_is_refused_when_a_teammate_answered_while_it_was_written(desk, deps, slack_emulator, fake_x, case):
    view = reply_modal(deps, case, opened_at=time.time() - 60)
    bob = slack_emulator.users["bob"]
    marked = deps.desk.mark_replied(case_id=case, agent=bob, url=BRAND_URL + "2000000000000000001", via="manual")
    assert marked.status == "marked"
    assert "A teammate replied to this customer while you were writing" in errors(
        submit(replies.reply_submitted, slack_emulator, desk, deps, view, "On it!"))[f"{ids.REPLY_INPUT}-0"]
    assert x_replies(fake_x) == [] and [r.status for r in reply_rows(deps, case)] == ["marked"]


def test_a_reply_is_refused_when_a_teammate_closed_the_case_while_it_was_written(desk, deps, slack_emulator, fake_x,
                                                                                 case):
    """A public reply on a case a teammate just resolved would go out unseen by them, and an ignored case's
    history cannot record one; a modal opened on a case already resolved may still reply (a follow-up)."""
    bob = slack_emulator.users["bob"]
    view = reply_modal(deps, case, opened_at=time.time() - 60)
    with session_scope(deps.engine) as session:
        assert lifecycle.resolve(session=session, case_id=case, user_id=bob, now=datetime.now(UTC)).ok
    said = errors(submit(replies.reply_submitted, slack_emulator, desk, deps, view, "On it!"))[f"{ids.REPLY_INPUT}-0"]
    assert said.startswith(f"Case #{case} was resolved while you were writing, so nothing was sent.")
    assert x_replies(fake_x) == [] and reply_rows(deps, case) == []
    later = reply_modal(deps, case, opened_at=time.time() + 1)  # opened after: the agent saw it resolved
    assert submit(replies.reply_submitted, slack_emulator, desk, deps, later, "Thanks for your patience!").only == {}
    assert [r["text"] for r in x_replies(fake_x)] == ["Thanks for your patience!"]
    with session_scope(deps.engine) as session:
        assert lifecycle.ignore(session=session, case_id=case, user_id=bob, reason="spam", now=datetime.now(UTC)).ok
    ignored = reply_modal(deps, case, opened_at=time.time() + 1)
    said = errors(submit(replies.reply_submitted, slack_emulator, desk, deps, ignored, "Hi"))[f"{ids.REPLY_INPUT}-0"]
    assert said.startswith(f"Case #{case} is ignored, so nothing was sent. Reopen it")
    assert len(x_replies(fake_x)) == 1


def test_an_agent_s_own_earlier_reply_does_not_refuse_their_modal(desk, deps, slack_emulator, fake_x, case):
    """Only a teammate's reply counts against a modal (the inline check skips the agent's own)."""
    view = reply_modal(deps, case, opened_at=time.time() - 60)
    bob = slack_emulator.users["bob"]
    deps.desk.mark_replied(case_id=case, agent=bob, url=BRAND_URL + "2000000000000000001", via="manual")
    assert submit(replies.reply_submitted, slack_emulator, desk, deps, view, "And one more thing: DM us.",
                  user="bob").only == {}


def test_an_agent_s_own_earlier_reply_does_not_stop_the_send(desk, deps, slack_emulator, slack_proxy, fake_x, case):
    view = reply_modal(deps, case, opened_at=time.time() - 60)
    bob = slack_emulator.users["bob"]
    deps.desk.mark_replied(case_id=case, agent=bob, url=BRAND_URL + "2000000000000000001", via="manual")
    submit(replies.reply_submitted, slack_emulator, desk, deps, view, "And one more thing: DM us.", user="bob")
    told = sent_texts(slack_proxy, "chat.postEphemeral", user=bob)
    assert [r["text"] for r in x_replies(fake_x)] == ["And one more thing: DM us."], told


def test_a_reply_with_a_long_link_goes_out_once_through_x(desk, deps, slack_emulator, fake_x, channel, case,
                                                          customer_post):
    card = card_of(slack_emulator, channel, case)
    alice = slack_emulator.users["alice"]
    with session_scope(deps.engine) as session:
        lifecycle.set_replying(session=session, case_id=case, user_id=alice, now=deps.clock())
    # 300 characters by len(), 277 as X counts them: the link counts 23.
    text = "Sorry! " + "a" * 246 + " https://acme.example/help/" + "c" * 20
    assert len(text) == 300
    view = reply_modal(deps, case)
    assert submit(replies.reply_submitted, slack_emulator, desk, deps, view, f"  {text}\n").only == {}
    [request] = fake_x.requests_to("/2/tweets", method="POST")
    assert request.headers["authorization"].startswith("OAuth ")  # as the brand, signed with its keys
    assert request.json() == {"text": text, "reply": {"in_reply_to_tweet_id": customer_post["id"]}}
    [row] = reply_rows(deps, case)
    assert (row.status, row.agent, row.via, row.key) == ("sent", alice, "api", f"view:{view['id']}")
    assert row.url.startswith(BRAND_URL)
    state = case_row(deps, case)
    assert (state.status, state.replying_user, state.assignee) == ("replied", None, alice)
    assert any("replied publicly" in t and row.url in t for t in thread_texts(slack_emulator, channel, card))
    assert "*Replied*" in block_text(card_of(slack_emulator, channel, case), "status")

    # The same submission again (Slack's retry): the row is there, nothing is sent or said again.
    thread_before = thread_texts(slack_emulator, channel, card)
    assert submit(replies.reply_submitted, slack_emulator, desk, deps, view, text).only == {}
    assert len(x_replies(fake_x)) == 1 and len(reply_rows(deps, case)) == 1
    assert thread_texts(slack_emulator, channel, card) == thread_before


def test_a_reply_x_could_not_take_is_recorded_and_the_agent_told_without_a_workaround(
        desk, deps, slack_emulator, slack_proxy, fake_x, channel, case):
    fake_x.fail_next("/2/tweets", status=503, method="POST")
    alice = slack_emulator.users["alice"]
    assert submit(replies.reply_submitted, slack_emulator, desk, deps, reply_modal(deps, case), "Hello!").only == {}
    [row] = reply_rows(deps, case)
    assert row.status == "failed" and "503" in row.error
    assert case_row(deps, case).status == "new"
    assert ("reply_failed", alice) in event_kinds(deps, case)
    [told] = [c.params for c in slack_proxy.calls_to("chat.postEphemeral") if c.params.get("user") == alice]
    assert told["text"].startswith("⚠️ Your reply was *not* sent. X is not answering properly right now (503).")
    assert len(told["blocks"]) == 1  # no "Open in X" / "Mark as replied": that is for replies X does not allow


def test_a_failed_reply_is_told_even_when_slack_refuses_to_redraw_the_card(
        desk, deps, slack_emulator, slack_proxy, fake_x, channel, case):
    """The card is redrawn before the agent is told: a redraw Slack refused (an archived channel) left
    them believing the reply went out."""
    fake_x.fail_next("/2/tweets", status=503, method="POST")
    slack_proxy.answer("chat.update", {"ok": False, "error": "is_archived"})
    alice = slack_emulator.users["alice"]
    assert submit(replies.reply_submitted, slack_emulator, desk, deps, reply_modal(deps, case), "Hello!").only == {}
    assert reply_rows(deps, case)[0].status == "failed"
    [told] = [c.params for c in slack_proxy.calls_to("chat.postEphemeral") if c.params.get("user") == alice]
    assert told["text"].startswith("⚠️ Your reply was *not* sent.")


def approval_request(slack_emulator, channel: str, card: dict) -> dict:
    [request] = [m for m in slack_emulator.replies(channel, card["ts"])[1:] if "needs approval" in m.get("text", "")]
    return request


def button(message: dict, action_id: str) -> dict:
    return next(e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]
                if e["action_id"] == action_id)


def ask(desk, deps, slack_emulator, channel: str, case: int, text: str) -> dict:
    """Bob writes a reply that needs approval; the request in the card's thread."""
    assert submit(replies.reply_submitted, slack_emulator, desk, deps, reply_modal(deps, case), text,
                  user="bob").only == {}
    return approval_request(slack_emulator, channel, card_of(slack_emulator, channel, case))


@pytest.mark.parametrize("approvers", [["alice"]])
def test_a_rejected_reply_is_never_sent_and_later_decisions_are_stale(desk, deps, slack_emulator, slack_proxy, fake_x,
                                                                      channel, case):
    alice, bob = slack_emulator.users["alice"], slack_emulator.users["bob"]
    request = ask(desk, deps, slack_emulator, channel, case, "Full refund, no questions!")
    [row] = reply_rows(deps, case)
    assert row.status == "awaiting_approval" and x_replies(fake_x) == []
    assert [e["action_id"] for b in request["blocks"] if b["type"] == "actions" for e in b["elements"]] == [
        ids.APPROVE_REPLY, ids.EDIT_REPLY, ids.REJECT_REPLY]
    assert sent_texts(slack_proxy, "chat.postEphemeral", user=bob) == [
        "Your reply waits for approval; it goes out when an approver accepts it. It is in the card's thread."]

    def decide(handler, user: str, value: str) -> None:
        handler(click(slack_emulator, user=user, channel=channel, card=request, action_id=ids.REJECT_REPLY,
                      value=value), desk.slack, deps=deps)

    decide(replies.reject_clicked, "bob", str(row.id))  # the agent can't reject (or approve) their own
    decide(replies.reject_clicked, "alice", "424242")
    decide(replies.reject_clicked, "alice", "not-an-id")
    ephemerals = slack_emulator.ephemeral_texts(channel)
    assert "Only the approvers an admin named can approve or reject replies." in ephemerals
    assert ephemerals.count(replies.NO_REPLY) == 2
    assert reply_rows(deps, case)[0].status == "awaiting_approval"

    decide(replies.reject_clicked, "alice", str(row.id))
    [row] = reply_rows(deps, case)
    assert (row.status, row.approver) == ("rejected", alice)
    [updated] = [c.params for c in slack_proxy.calls_to("chat.update") if c.params.get("ts") == request["ts"]]
    assert updated["text"] == messages.approval_decided("rejected", alice, bob, "Full refund, no questions!")
    assert f"<@{alice}> rejected your reply to case #{case}; it was not sent." in sent_texts(
        slack_proxy, "chat.postEphemeral", user=bob)

    decide(replies.approve_clicked, "alice", str(row.id))  # a stale Approve on the old message
    assert "Nothing done: this reply is already rejected." in slack_emulator.ephemeral_texts(channel)
    assert x_replies(fake_x) == [] and reply_rows(deps, case)[0].status == "rejected"
    assert case_row(deps, case).status == "new"


@pytest.mark.parametrize("approvers", [["alice"]])
def test_an_approver_s_edit_is_checked_before_the_ack_then_sent_as_edited(desk, deps, slack_emulator, slack_proxy,
                                                                          fake_x, channel, case):
    alice, bob = slack_emulator.users["alice"], slack_emulator.users["bob"]
    request = ask(desk, deps, slack_emulator, channel, case, "We'll refund you today!!!")
    [row] = reply_rows(deps, case)
    replies.edit_clicked(click(slack_emulator, user="alice", channel=channel, card=request, action_id=ids.EDIT_REPLY,
                               value=str(row.id)), desk.slack, deps=deps)
    [modal] = opened_views(slack_proxy, ids.APPROVE_EDIT_MODAL)
    meta = json.loads(modal["private_metadata"])
    assert (meta["reply_id"], meta["message_ts"], meta["case_id"]) == (row.id, request["ts"], case)
    assert "We'll refund you today!!!" in json.dumps(modal["blocks"])
    assert modal["notify_on_close"] is False  # closing it must not clear anyone's "is replying"

    block = f"{ids.REPLY_INPUT}-0"

    def forged(**changes) -> dict:
        return dict(modal, private_metadata=json.dumps(meta | changes))

    assert errors(submit(replies.edited_approval, slack_emulator, desk, deps, forged(reply_id="1 OR 1=1"), "ok",
                         user="alice")) == {block: replies.NO_REPLY}
    assert errors(submit(replies.edited_approval, slack_emulator, desk, deps, forged(network="myspace"), "ok",
                         user="alice")) == {block: "This case's network is not known here."}
    assert "2 too many" in errors(submit(replies.edited_approval, slack_emulator, desk, deps, modal, "🙏" * 141,
                                         user="alice"))[block]
    assert reply_rows(deps, case)[0].status == "awaiting_approval" and x_replies(fake_x) == []
    # Someone who is no approver: told before any modal opens, and refused in the modal with the text kept.
    before = len(opened_views(slack_proxy, ids.APPROVE_EDIT_MODAL))
    replies.edit_clicked(click(slack_emulator, user="bob", channel=channel, card=request, action_id=ids.EDIT_REPLY,
                               value=str(row.id)), desk.slack, deps=deps)
    assert len(opened_views(slack_proxy, ids.APPROVE_EDIT_MODAL)) == before
    assert replies.NOT_APPROVER in sent_texts(slack_proxy, "chat.postEphemeral", user=bob)
    assert errors(submit(replies.edited_approval, slack_emulator, desk, deps, modal, "ok", user="bob")) == {
        block: replies.NOT_APPROVER}

    assert submit(replies.edited_approval, slack_emulator, desk, deps, modal, "We'll refund you today.",
                  user="alice").only == {}
    assert [r["text"] for r in x_replies(fake_x)] == ["We'll refund you today."]
    [row] = reply_rows(deps, case)
    assert (row.status, row.text, row.approver, row.agent) == ("sent", "We'll refund you today.", alice, bob)
    [updated] = [c.params for c in slack_proxy.calls_to("chat.update") if c.params.get("ts") == request["ts"]]
    assert updated["text"] == messages.approval_decided("approved", alice, bob, "We'll refund you today.")
    assert any(f"<@{bob}>, approved by <@{alice}>, replied publicly" in t
               for t in thread_texts(slack_emulator, channel, card_of(slack_emulator, channel, case)))


def mark_values(url: str) -> dict:
    return text_input(ids.REPLY_URL_INPUT, url)


def submit_mark(slack_emulator, desk, deps, view: dict, url: str, user: str = "bob") -> Acks:
    ack = Acks()
    replies.marked(ack, submission(slack_emulator, user=user, view=view, values=mark_values(url)), desk.slack,
                   deps=deps)
    return ack


def test_mark_as_replied_opens_its_modal_with_a_known_way_only(desk, deps, slack_emulator, slack_proxy, channel, case):
    card = card_of(slack_emulator, channel, case)

    def mark(value: str) -> None:
        replies.mark_clicked(click(slack_emulator, user="bob", channel=channel, card=card,
                                   action_id=ids.MARK_REPLIED, value=value), desk.slack, deps=deps)

    mark(f"intent:{case}")
    mark(f"sideways:{case}")  # a way socialdesk never offers: recorded as "manual"
    mark("intent:424242")
    mark("intent:drop table")
    vias = [json.loads(v["private_metadata"]) for v in opened_views(slack_proxy, ids.MARK_REPLIED_MODAL)]
    assert [(m["case_id"], m["via"], m["network"]) for m in vias] == [(case, "intent", "x"), (case, "manual", "x")]
    ephemerals = slack_emulator.ephemeral_texts(channel)
    assert messages.case_missing("424242") in ephemerals
    assert any(t.startswith("This button does not name a case socialdesk knows") for t in ephemerals)


def test_mark_as_replied_checks_the_link_and_records_it_once(desk, deps, slack_emulator, channel, case):
    card = card_of(slack_emulator, channel, case)
    view = modals.mark_replied_modal(load_view(deps, case), via="intent").to_dict()
    meta = json.loads(view["private_metadata"])
    example = "Paste the link of a post on X, like https://x.com/acmephones/status/123…"
    for url in ("", "https://evil.example/acmephones/status/1", "javascript:alert(1)",
                BRAND_URL + "1" + "0" * 3000):
        assert errors(submit_mark(slack_emulator, desk, deps, view, url)) == {ids.REPLY_URL_INPUT: example}, url[:40]
    unknown = "This case's network is not known here."
    for changes in ({"network": "myspace"}, {"network": None}, {"case_id": "x"}):
        forged = dict(view, private_metadata=json.dumps(meta | changes))
        assert errors(submit_mark(slack_emulator, desk, deps, forged, BRAND_URL + "2000000000000000001")) == {
            ids.REPLY_URL_INPUT: unknown}
    assert reply_rows(deps, case) == []

    url = BRAND_URL + "2000000000000000001"
    forged_via = dict(view, private_metadata=json.dumps(meta | {"via": "api"}))
    assert submit_mark(slack_emulator, desk, deps, forged_via, f"  {url} ").only == {}
    [row] = reply_rows(deps, case)
    bob = slack_emulator.users["bob"]
    assert (row.status, row.via, row.url, row.agent) == ("marked", "manual", url, bob)
    assert case_row(deps, case).status == "replied"
    lines = [t for t in thread_texts(slack_emulator, channel, card) if "replied outside socialdesk" in t]
    assert len(lines) == 1 and url in lines[0]

    assert submit_mark(slack_emulator, desk, deps, view, url).only == {}  # the same link again
    assert len(reply_rows(deps, case)) == 1
    assert len([t for t in thread_texts(slack_emulator, channel, card) if "replied" in t]) == 1
