"""Rejecting a reply that awaits approval (ReplyDesk.reject), on both databases.

A rejected reply is never sent, is audited as `reply_rejected` by the approver, and
cannot be approved (or rejected) afterwards; a reply that is not waiting is left as it is.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from socialdesk.networks import registry
from socialdesk.networks.base import Network, SentReply
from socialdesk.replying import ReplyDesk
from socialdesk.store import cases, ingest
from socialdesk.store.db import session_scope
from socialdesk.store.models import CaseRow, ReplyRow
from tests.support.factories import x_post

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


class Replier:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def reply(self, text: str, in_reply_to: str, *, idempotency_key: str) -> SentReply:
        self.sent.append(text)
        return SentReply(id="300", url="https://x.com/acme/status/300", text=text)


@pytest.fixture
def case_id(engine) -> int:
    with session_scope(engine) as session:
        [cid] = ingest.store_posts(session=session, posts=[x_post("my phone broke", handle="customer")],
                                   rule_id=None, channel_id="C1", now=NOW)
    return cid


@pytest.fixture
def replier() -> Replier:
    return Replier()


@pytest.fixture
def desk(engine, replier) -> ReplyDesk:
    return ReplyDesk(engine=engine, networks={"x": Network(info=registry.info("x"), replier=replier)},
                     clock=lambda: NOW, approvers=frozenset({"UBOSS", "UCHIEF"}))


def events(engine, case_id) -> list[tuple[str, str]]:
    with session_scope(engine) as session:
        return [(e.kind, e.actor) for e in cases.events(session=session, case_id=case_id)]


def test_a_rejected_reply_is_not_sent_and_is_audited(engine, desk, replier, case_id):
    asked = desk.request(case_id=case_id, agent="UALICE", text="Sorry, we'll refund you twice!", key="view:r1")
    assert asked.status == "awaiting_approval"

    rejected = desk.reject(reply_id=asked.reply_id, approver="UBOSS")

    assert (rejected.status, rejected.reply_id, rejected.case_id, rejected.text) == (
        "rejected", asked.reply_id, case_id, "Sorry, we'll refund you twice!")
    assert replier.sent == []
    reply = desk.reply(asked.reply_id)
    assert (reply.status, reply.approver, reply.agent) == ("rejected", "UBOSS", "UALICE")
    assert events(engine, case_id)[-2:] == [("reply_requested", "UALICE"), ("reply_rejected", "UBOSS")]
    with session_scope(engine) as session:
        [audit] = [e for e in cases.events(session=session, case_id=case_id) if e.kind == "reply_rejected"]
        assert audit.payload == {"reply_id": asked.reply_id}
        case = session.get(CaseRow, case_id)
        assert case.sending_reply_id is None  # no send lock was taken
        assert session.get(ReplyRow, asked.reply_id).sent_at is None


def test_a_rejected_reply_cannot_be_approved_or_rejected_again(engine, desk, replier, case_id):
    asked = desk.request(case_id=case_id, agent="UALICE", text="Sorry!", key="view:r2")
    assert desk.reject(reply_id=asked.reply_id, approver="UBOSS").status == "rejected"

    late_approval = desk.approve(reply_id=asked.reply_id, approver="UCHIEF", text="Sorry, fixed!")
    second_rejection = desk.reject(reply_id=asked.reply_id, approver="UCHIEF")

    assert (late_approval.status, late_approval.error) == ("stale", "this reply is already rejected")
    assert (second_rejection.status, second_rejection.error) == ("stale", "this reply is already rejected")
    assert replier.sent == []
    reply = desk.reply(asked.reply_id)
    assert (reply.status, reply.approver, reply.text) == ("rejected", "UBOSS", "Sorry!")  # the edit was not kept
    assert [k for k, _ in events(engine, case_id)].count("reply_rejected") == 1
    assert "reply_approved" not in [k for k, _ in events(engine, case_id)]


def test_only_a_waiting_reply_can_be_rejected(engine, desk, replier, case_id):
    asked = desk.request(case_id=case_id, agent="UALICE", text="Sorry!", key="view:r3")
    assert desk.approve(reply_id=asked.reply_id, approver="UBOSS").status == "sent"

    too_late = desk.reject(reply_id=asked.reply_id, approver="UCHIEF")
    missing = desk.reject(reply_id=asked.reply_id + 1000, approver="UCHIEF")

    assert (too_late.status, too_late.error) == ("stale", "this reply is already sent")
    assert (missing.status, missing.error, missing.case_id) == ("stale", "this reply no longer exists", None)
    assert replier.sent == ["Sorry!"] and desk.reply(asked.reply_id).status == "sent"
    assert "reply_rejected" not in [k for k, _ in events(engine, case_id)]
