"""Case transitions on both databases: who wins, what is recorded, what is refused."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from socialdesk.domain import CaseStatus, EventKind
from socialdesk.store import cases, ingest, lifecycle
from socialdesk.store.db import session_scope
from tests.support.factories import x_post

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.fixture
def case_id(engine) -> int:
    with session_scope(engine) as session:
        [cid] = ingest.store_posts(session=session, posts=[x_post()], rule_id=None, channel_id="C1", now=NOW)
    return cid


def do(engine, change, case_id, user="UALICE", **kw):
    with session_scope(engine) as session:
        return change(session=session, case_id=case_id, user_id=user, now=kw.pop("now", NOW), **kw)


def kinds(engine, case_id) -> list[str]:
    with session_scope(engine) as session:
        return [e.kind for e in cases.events(session=session, case_id=case_id)]


def test_full_lifecycle_records_every_step(engine, case_id):
    assert do(engine, lifecycle.claim, case_id).ok
    assert do(engine, lifecycle.add_note, case_id, text="customer is on plan B").ok
    first = do(engine, lifecycle.replied, case_id, kind=EventKind.REPLY_SENT, payload={"url": "u1"}, now=NOW + timedelta(minutes=5))
    assert first.ok and first.case.status == "replied"
    assert first.case.first_response_at == NOW + timedelta(minutes=5)
    again = do(engine, lifecycle.replied, case_id, kind=EventKind.REPLY_SENT, payload={"url": "u2"}, now=NOW + timedelta(minutes=9))
    assert again.case.first_response_at == NOW + timedelta(minutes=5)  # the first response stays the first
    resolved = do(engine, lifecycle.resolve, case_id, user="UBOB")
    assert resolved.ok and resolved.case.status == "resolved" and resolved.case.resolved_at == NOW
    assert resolved.case.last_action == "resolved by <@UBOB>"
    reopened = do(engine, lifecycle.reopen, case_id)
    assert reopened.ok and reopened.case.status == "reopened" and reopened.case.resolved_at is None
    assert do(engine, lifecycle.claim, case_id, user="UCAROL").ok  # reopened cases are claimable
    assert kinds(engine, case_id) == ["opened", "claimed", "note", "reply_sent", "reply_sent", "resolved", "reopened", "claimed"]


def test_stale_clicks_are_refused_with_the_current_state(engine, case_id):
    do(engine, lifecycle.resolve, case_id)
    late_claim = do(engine, lifecycle.claim, case_id, user="UBOB")
    late_resolve = do(engine, lifecycle.resolve, case_id, user="UBOB")
    assert not late_claim.ok and not late_resolve.ok
    assert late_claim.case.status == "resolved"
    assert do(engine, lifecycle.reopen, case_id).ok  # resolved → reopen works
    assert kinds(engine, case_id)[-1] == "reopened"


def test_ignore_needs_a_known_reason_and_reopen_clears_it(engine, case_id):
    with pytest.raises(ValueError):
        do(engine, lifecycle.ignore, case_id, reason="boring")
    result = do(engine, lifecycle.ignore, case_id, reason="spam")
    assert result.ok and result.case.status == "ignored" and result.case.ignored_reason == "spam"
    assert not do(engine, lifecycle.claim, case_id).ok
    reopened = do(engine, lifecycle.reopen, case_id)
    assert reopened.case.ignored_reason is None


def test_assign_claims_for_someone_else_and_keeps_replied(engine, case_id):
    result = do(engine, lifecycle.assign, case_id, assignee="UBOB")
    assert result.ok and result.case.status == "claimed" and result.case.assignee == "UBOB"
    do(engine, lifecycle.replied, case_id, user="UBOB", kind=EventKind.REPLY_SENT, payload={})
    again = do(engine, lifecycle.assign, case_id, assignee="UCAROL")
    assert again.case.status == "replied" and again.case.assignee == "UCAROL"


def test_tags_and_priority(engine, case_id):
    result = do(engine, lifecycle.set_tags, case_id, tags=["billing", "refund", "billing"], priority="high")
    assert result.case.tags == ["billing", "refund"] and result.case.priority == "high"
    with pytest.raises(ValueError):
        do(engine, lifecycle.set_tags, case_id, tags=[], priority="urgent!!")


def test_reply_marker_is_cleared_only_by_its_owner(engine, case_id):
    with session_scope(engine) as session:
        lifecycle.set_replying(session=session, case_id=case_id, user_id="UALICE", now=NOW)
    with session_scope(engine) as session:
        assert not lifecycle.set_replying(session=session, case_id=case_id, user_id=None, now=NOW, only_if="UBOB")
        assert cases.get_case(session=session, case_id=case_id).replying_user == "UALICE"
        assert lifecycle.set_replying(session=session, case_id=case_id, user_id=None, now=NOW, only_if="UALICE")
    with session_scope(engine) as session:
        assert cases.get_case(session=session, case_id=case_id).replying_user is None


def test_resolve_and_claim_at_once_one_order_wins_consistently(engine, case_id):
    barrier = threading.Barrier(2)
    results = {}

    def run(name, change, user):
        barrier.wait()
        results[name] = do(engine, change, case_id, user=user).ok

    threads = [threading.Thread(target=run, args=("claim", lifecycle.claim, "UALICE")),
               threading.Thread(target=run, args=("resolve", lifecycle.resolve, "UBOB"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with session_scope(engine) as session:
        case = cases.get_case(session=session, case_id=case_id)
    assert results["resolve"]  # resolving is allowed from new and from claimed
    assert case.status == CaseStatus.RESOLVED.value
    assert kinds(engine, case_id).count("resolved") == 1


def test_a_resolution_records_its_outcome_on_the_case_and_its_event(engine, case_id):
    result = do(engine, lifecycle.resolve, case_id, user="UBOB", outcome="no_reply_needed")
    assert result.ok and result.case.outcome == "no_reply_needed" and result.case.duplicate_of is None
    assert result.case.last_action == "resolved (no reply needed) by <@UBOB>"
    with session_scope(engine) as session:
        [event] = [e for e in cases.events(session=session, case_id=case_id) if e.kind == "resolved"]
    assert event.payload == {"outcome": "no_reply_needed"}
    with pytest.raises(lifecycle.OutcomeError, match="not an outcome"):
        do(engine, lifecycle.resolve, case_id, outcome="whatever")


def test_a_duplicate_names_an_existing_other_case_and_both_show_the_link(engine, case_id):
    with session_scope(engine) as session:
        [other] = ingest.store_posts(session=session, posts=[x_post("the same again", handle="dup")], rule_id=None,
                                     channel_id="C1", now=NOW)
    for bad, says in ((None, "Give the number"), (other, "itself"), (424242, "There is no case #424242")):
        with pytest.raises(lifecycle.OutcomeError, match=says):
            do(engine, lifecycle.resolve, other, outcome="duplicate", duplicate_of=bad if bad != other else other)
    resolved = do(engine, lifecycle.resolve, other, outcome="duplicate", duplicate_of=case_id)
    assert resolved.ok and resolved.case.duplicate_of == case_id
    assert resolved.case.last_action == f"resolved (duplicate of #{case_id}) by <@UALICE>"
    with session_scope(engine) as session:
        assert cases.case_view(session=session, case_id=case_id).duplicates == (other,)
        assert cases.case_view(session=session, case_id=other).duplicate_of == case_id
        [event] = [e for e in cases.events(session=session, case_id=other) if e.kind == "resolved"]
        assert event.payload == {"outcome": "duplicate", "duplicate_of": case_id}
        # The other way round would make each the duplicate of the other.
        assert "already resolved as a duplicate of" in lifecycle.duplicate_problem(
            session=session, case_id=case_id, duplicate_of=other)
    # Reopened, it is no one's duplicate any more (its history keeps the resolution).
    assert do(engine, lifecycle.reopen, other).ok
    with session_scope(engine) as session:
        assert cases.case_view(session=session, case_id=case_id).duplicates == ()
        assert cases.case_view(session=session, case_id=other).outcome is None


def test_a_reopen_puts_the_case_back_in_the_queue(engine, case_id):
    do(engine, lifecycle.claim, case_id)
    do(engine, lifecycle.resolve, case_id, outcome="fixed")
    reopened = do(engine, lifecycle.reopen, case_id, user="UBOB", now=NOW + timedelta(hours=1))
    assert reopened.ok and reopened.case.status == "reopened"
    assert reopened.case.assignee is None and reopened.case.claimed_at is None  # anyone may claim it
    assert reopened.case.sla_started_at == NOW + timedelta(hours=1) and reopened.case.outcome is None
