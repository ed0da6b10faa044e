"""Replies on both databases: one decision per reply, one send in flight per case, what is recorded.

The store functions directly, then `ReplyDesk` with a replier written here (the network
side is not what these test: tests/networks/x/test_reply.py is).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from socialdesk.domain import EventKind
from socialdesk.networks import registry
from socialdesk.networks.base import Network, ReplyFailed, SentReply
from socialdesk.replying import ReplyDesk
from socialdesk.store import cases, ingest
from socialdesk.store import replies as store
from socialdesk.store.db import session_scope
from socialdesk.store.models import CaseRow, ReplyRow
from tests.support.factories import x_post

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
FIRST = x_post("my phone broke", handle="customer")


@pytest.fixture
def case_id(engine) -> int:
    with session_scope(engine) as session:
        [cid] = ingest.store_posts(session=session, posts=[FIRST], rule_id=None, channel_id="C1", now=NOW)
    return cid


def request(engine, case_id, key="view:1", agent="UALICE", status="queued", now=NOW) -> int:
    with session_scope(engine) as session:
        return store.create_request(session=session, case_id=case_id, key=key, agent=agent, text="Sorry!",
                                    status=status, now=now)


def kinds(engine, case_id) -> list[str]:
    with session_scope(engine) as session:
        return [e.kind for e in cases.events(session=session, case_id=case_id)]


def sending_reply(engine, case_id) -> int | None:
    with session_scope(engine) as session:
        return session.get(CaseRow, case_id).sending_reply_id


def test_a_retried_submission_is_refused_by_its_key(engine, case_id):
    reply_id = request(engine, case_id)
    with pytest.raises(IntegrityError), session_scope(engine) as session:
        store.create_request(session=session, case_id=case_id, key="view:1", agent="UALICE", text="Sorry!",
                             status="queued", now=NOW)
    with session_scope(engine) as session:
        reply = store.get_reply(session=session, reply_id=reply_id)
        assert store.get_reply(session=session, reply_id=reply_id + 1) is None
    assert (reply.case_id, reply.agent, reply.text, reply.status) == (case_id, "UALICE", "Sorry!", "queued")
    assert kinds(engine, case_id) == ["opened", "reply_requested"]


def test_one_decision_per_reply(engine, case_id):
    reply_id = request(engine, case_id, status="awaiting_approval")
    with session_scope(engine) as session:
        first = store.approve(session=session, reply_id=reply_id, approver="UBOSS", text="Sorry, fixed!", now=NOW)
        late = store.reject(session=session, reply_id=reply_id, approver="UOTHER", now=NOW)
        gone = store.reject(session=session, reply_id=reply_id + 1, approver="UOTHER", now=NOW)
    assert first.won and first.reply.status == "queued" and first.reply.text == "Sorry, fixed!"
    assert not late.won and late.reply.status == "queued" and late.reply.approver == "UBOSS"
    assert gone == store.Decision(False, None)
    assert kinds(engine, case_id) == ["opened", "reply_requested", "reply_approved"]


def test_the_send_lock_is_held_by_one_reply(engine, case_id):
    first, second = request(engine, case_id, key="a"), request(engine, case_id, key="b")
    with session_scope(engine) as session:
        assert store.take_send_lock(session=session, case_id=case_id, reply_id=first)
        assert not store.take_send_lock(session=session, case_id=case_id, reply_id=second)
        # a failure frees only its own lock
        store.record_failed(session=session, reply_id=second, case_id=case_id, status="failed", kind="busy",
                            error="x" * 3000, actor="UBOB", now=NOW)
    assert sending_reply(engine, case_id) == first
    with session_scope(engine) as session:
        assert len(store.get_reply(session=session, reply_id=second).error) == store.ERROR_LIMIT
        store.record_sent(session=session, reply_id=first, case_id=case_id, agent="UALICE", approver=None,
                          external_id="190", url="https://x.com/acme/status/190", now=NOW)
        sent = store.get_reply(session=session, reply_id=first)
        case = cases.get_case(session=session, case_id=case_id)
    assert (sent.status, sent.via, sent.url, sent.sent_at) == ("sent", "api", "https://x.com/acme/status/190", NOW)
    assert case.sending_reply_id is None and case.status == "replied" and case.first_response_at == NOW
    assert kinds(engine, case_id)[-2:] == ["reply_failed", "reply_sent"]


def test_answered_since_sees_other_replies_that_went_out(engine, case_id):
    mine = request(engine, case_id, key="mine", now=NOW)
    with session_scope(engine) as session:
        assert not store.answered_since(session=session, case_id=case_id, since=NOW, other_than=mine, agent="UALICE")
        store.mark_replied(session=session, case_id=case_id, agent="UBOB", post_id="191",
                           url="https://x.com/acme/status/191", via="manual", now=NOW + timedelta(minutes=1))
        assert store.answered_since(session=session, case_id=case_id, since=NOW, other_than=mine, agent="UALICE")
        assert not store.answered_since(session=session, case_id=case_id, since=NOW, other_than=mine,
                                        agent="UBOB")  # one's own earlier reply is not a teammate's
        assert not store.answered_since(session=session, case_id=case_id, since=NOW + timedelta(minutes=2),
                                        other_than=mine, agent="UALICE")
        since = store.replies_since(session=session, case_id=case_id, since=NOW)
    assert sorted((r.agent, r.status) for r in since) == [("UALICE", "queued"), ("UBOB", "marked")]
    assert kinds(engine, case_id)[-1] == EventKind.MARKED_REPLIED
    with pytest.raises(IntegrityError), session_scope(engine) as session:  # the same link, marked twice
        store.mark_replied(session=session, case_id=case_id, agent="UBOB", post_id="191",
                           url="https://x.com/acme/status/191", via="manual", now=NOW)


def test_the_reply_answers_the_customers_latest_post(engine, case_id):
    with session_scope(engine) as session:
        assert store.reply_target(session=session, case_id=case_id) == FIRST.external_id
        assert store.case_network(session=session, case_id=case_id) == "x"
        assert store.case_network(session=session, case_id=case_id + 1) is None
    follow_up = dataclasses.replace(x_post("still broken", handle="customer", when=NOW + timedelta(hours=1)),
                                    conversation_id=FIRST.conversation_id, in_reply_to_id=FIRST.external_id,
                                    is_reply=True)
    with session_scope(engine) as session:
        ingest.store_page(session=session, posts=[follow_up], rule_id=None, channel_id="C1", now=NOW)
    with session_scope(engine) as session:
        assert store.reply_target(session=session, case_id=case_id) == follow_up.external_id
        quoted = store.answered_post(session=session, case_id=case_id)  # what the reply modal quotes
        assert store.answered_post(session=session, case_id=case_id + 1) is None
    assert (quoted.external_id, quoted.text, quoted.author.handle, quoted.url) == (
        follow_up.external_id, "still broken", "customer", follow_up.url)


# --- the desk: the order of the steps ---


class Replier:
    """Answers as a network would: a SentReply, or the error it was given."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error, self.sent = error, []

    def reply(self, text: str, in_reply_to: str, *, idempotency_key: str) -> SentReply:
        if self.error is not None:
            raise self.error
        self.sent.append((text, in_reply_to, idempotency_key))
        return SentReply(id="200", url="https://x.com/acme/status/200", text=text)


def desk(engine, replier: Replier, approvers=frozenset()) -> ReplyDesk:
    network = Network(info=registry.info("x"), replier=replier)
    return ReplyDesk(engine=engine, networks={"x": network}, clock=lambda: NOW, approvers=approvers)


def test_the_desk_sends_once_and_records_it(engine, case_id):
    replier = Replier()
    sent = desk(engine, replier).request(case_id=case_id, agent="UALICE", text="Sorry!", key="view:1")
    again = desk(engine, replier).request(case_id=case_id, agent="UALICE", text="Sorry!", key="view:1")
    assert (sent.status, sent.url, again.status) == ("sent", "https://x.com/acme/status/200", "duplicate")
    assert replier.sent == [("Sorry!", FIRST.external_id, f"reply-{sent.reply_id}")]
    assert desk(engine, replier).reply(sent.reply_id).status == "sent"
    assert sending_reply(engine, case_id) is None


def test_a_sent_reply_the_network_bills_is_counted_for_its_cases_rule(engine):
    from socialdesk.networks.base import BilledReads, Billing
    from socialdesk.store import spend

    class BilledReplier(Replier):
        def reply(self, text: str, in_reply_to: str, *, idempotency_key: str) -> SentReply:
            sent = super().reply(text, in_reply_to, idempotency_key=idempotency_key)
            return dataclasses.replace(sent, billed=(BilledReads("created", (sent.id,)),))

    from socialdesk.store import rules

    with session_scope(engine) as session:
        rule_id = rules.add_rule(session=session, network="x", query="phone", channel_id="C1", every_seconds=60,
                                 lang=None, include_reposts=False, now=NOW).id
        [cid] = ingest.store_posts(session=session, posts=[FIRST], rule_id=rule_id, channel_id="C1", now=NOW)
    network = Network(info=registry.info("x"), replier=BilledReplier(),
                      billing=Billing(rates={"created": 0.015}, labels={"created": "posts created"}))
    sent = ReplyDesk(engine=engine, networks={"x": network}, clock=lambda: NOW, approvers=frozenset()).request(
        case_id=cid, agent="UALICE", text="Sorry!", key="view:1")
    assert sent.status == "sent"
    with session_scope(engine) as session:
        [row] = spend.spent(session=session, start=NOW.date(), end=NOW.date() + timedelta(days=1))
    assert (row.rule_id, row.kind, row.reads, row.cost) == (rule_id, "created", 1, pytest.approx(0.015))


def test_the_desk_does_not_send_over_a_teammates_reply(engine, case_id):
    replier = Replier()
    d = desk(engine, replier)
    assert d.mark_replied(case_id=case_id, agent="UBOB", url="https://x.com/acme/status/191", via="manual").status == "marked"
    late = d.request(case_id=case_id, agent="UALICE", text="Sorry!", key="view:2", since=NOW - timedelta(minutes=1))
    assert late.status == "busy" and replier.sent == []
    assert d.reply(late.reply_id).error == "a teammate's reply went out first"
    assert [(r.agent, r.status) for r in d.replies_since(case_id=case_id, since=NOW)] == [("UBOB", "marked")]
    assert sending_reply(engine, case_id) is None


def test_the_desk_records_a_refusal_and_frees_the_case(engine, case_id):
    refused = ReplyFailed("X says this is a duplicate", kind="duplicate")
    outcome = desk(engine, Replier(refused)).request(case_id=case_id, agent="UALICE", text="Sorry!", key="view:3")
    assert (outcome.status, outcome.kind, outcome.in_reply_to) == ("failed", "duplicate", FIRST.external_id)
    assert sending_reply(engine, case_id) is None
    with session_scope(engine) as session:
        row = session.get(ReplyRow, outcome.reply_id)
    assert (row.status, row.error) == ("failed", "X says this is a duplicate")
    assert kinds(engine, case_id)[-1] == "reply_failed"


def test_the_desk_waits_for_an_approver(engine, case_id):
    replier = Replier()
    d = desk(engine, replier, approvers=frozenset({"UBOSS"}))
    asked = d.request(case_id=case_id, agent="UALICE", text="Sorry!", key="view:4")
    assert asked.status == "awaiting_approval" and replier.sent == []
    assert d.approve(reply_id=asked.reply_id, approver="UBOSS", text="Sorry, fixed!").status == "sent"
    stale = d.reject(reply_id=asked.reply_id, approver="UBOSS")
    assert (stale.status, stale.error) == ("stale", "this reply is already sent")
    assert replier.sent[0][0] == "Sorry, fixed!"
