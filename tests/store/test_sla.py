"""SLA nudges in the store, on both databases: which cases are due, and each nudge once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from socialdesk.domain import EventKind
from socialdesk.sla import Policy
from socialdesk.store import cases, ingest, lifecycle
from socialdesk.store import rules as rule_store
from socialdesk.store import sla as sla_store
from socialdesk.store.db import session_scope
from tests.support.factories import x_post

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
POLICY = Policy({"high": timedelta(minutes=30), "normal": timedelta(hours=2)}, at_risk=0.75)


def open_case(engine, *, priority="normal", card=True, opened=NOW, rule_id=None) -> int:
    with session_scope(engine) as session:
        [cid] = ingest.store_posts(session=session, posts=[x_post()], rule_id=rule_id, channel_id="C1", now=opened)
        if card:
            cases.record_card(session=session, case_id=cid, message_ts=f"1700000000.{cid:06d}", now=opened)
        cases.get_case(session=session, case_id=cid).priority = priority
    return cid


def due(engine, now):
    with session_scope(engine) as session:
        return {(n.case_id, n.which) for n in sla_store.due_nudges(session=session, now=now, policy=POLICY)}


def mark(engine, case_id, which, now=NOW):
    with session_scope(engine) as session:
        return sla_store.mark(session=session, case_id=case_id, which=which, now=now)


def sla_events(engine, case_id):
    with session_scope(engine) as session:
        return [e.kind for e in cases.events(session=session, case_id=case_id) if e.kind.startswith("sla_")]


def test_due_nudges_follow_the_clock(engine):
    normal, high = open_case(engine), open_case(engine, priority="high")
    no_card = open_case(engine, card=False)
    assert due(engine, NOW + timedelta(minutes=10)) == set()
    assert due(engine, NOW + timedelta(minutes=25)) == {(high, "at_risk")}
    assert due(engine, NOW + timedelta(minutes=95)) == {(high, "breached"), (normal, "at_risk")}
    assert no_card not in {c for c, _ in due(engine, NOW + timedelta(hours=5))}  # no thread to nudge in yet


def test_a_rules_own_targets_time_its_cases(engine):
    with session_scope(engine) as session:
        vip = rule_store.add_rule(session=session, network="x", query="acme vip", channel_id="C1", every_seconds=60,
                                  lang=None, include_reposts=False, now=NOW, sla_targets="normal=20m").id
    fast, usual = open_case(engine, rule_id=vip), open_case(engine)
    assert due(engine, NOW + timedelta(minutes=16)) == {(fast, "at_risk")}  # 75 % of 20 min
    assert due(engine, NOW + timedelta(minutes=21)) == {(fast, "breached")}
    with session_scope(engine) as session:
        [nudge] = sla_store.due_nudges(session=session, now=NOW + timedelta(minutes=21), policy=POLICY)
        assert (nudge.due, nudge.target) == (NOW + timedelta(minutes=20), timedelta(minutes=20))
        assert cases.case_view(session=session, case_id=fast, policy=POLICY).sla_due == NOW + timedelta(minutes=20)
        assert cases.case_view(session=session, case_id=usual, policy=POLICY).sla_due == NOW + timedelta(hours=2)
        [at_risk] = sla_store.at_risk(session=session, now=NOW + timedelta(minutes=21), policy=POLICY)
        assert at_risk.case_id == fast and at_risk.state == "breached"
        rule_store.set_sla_targets(session=session, rule_id=vip, sla_targets=None)  # back to the team's
    assert due(engine, NOW + timedelta(minutes=21)) == set()


def test_answered_and_closed_cases_get_no_nudge(engine):
    answered, ignored = open_case(engine), open_case(engine)
    with session_scope(engine) as session:
        lifecycle.replied(session=session, case_id=answered, user_id="UALICE", now=NOW + timedelta(minutes=5),
                          kind=EventKind.REPLY_SENT, payload={})
        lifecycle.ignore(session=session, case_id=ignored, user_id="UALICE", reason="spam", now=NOW)
    assert due(engine, NOW + timedelta(hours=5)) == set()
    assert not mark(engine, answered, "breached") and not mark(engine, ignored, "at_risk")


def test_each_nudge_is_marked_once(engine):
    cid = open_case(engine)
    assert mark(engine, cid, "at_risk")
    assert not mark(engine, cid, "at_risk")
    assert due(engine, NOW + timedelta(minutes=100)) == set()  # at risk already taken, not breached yet
    assert due(engine, NOW + timedelta(hours=3)) == {(cid, "breached")}
    assert mark(engine, cid, "breached", NOW + timedelta(hours=3))
    assert not mark(engine, cid, "breached", NOW + timedelta(hours=3))
    assert due(engine, NOW + timedelta(hours=9)) == set()
    assert sla_events(engine, cid) == [EventKind.SLA_AT_RISK.value, EventKind.SLA_BREACHED.value]
    with session_scope(engine) as session:
        case = cases.get_case(session=session, case_id=cid)
    assert case.sla_at_risk_at == NOW and case.sla_breached_at == NOW + timedelta(hours=3)


@pytest.mark.parametrize("which", ["at_risk", "breached"])
def test_concurrent_marks_have_one_winner(engine, which):
    cid = open_case(engine)
    barrier = threading.Barrier(8)
    results: list[bool] = []

    def sweep() -> None:
        barrier.wait()
        results.append(mark(engine, cid, which))

    threads = [threading.Thread(target=sweep) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 7 + [True]
    assert sla_events(engine, cid) == [f"sla_{which}"]


def test_a_reopen_re_arms_the_clock_from_the_reopening(engine):
    """Answered and resolved, then reopened: a first reply is due again, timed from the reopen (#15)."""
    case_id = open_case(engine, priority="high")
    with session_scope(engine) as session:
        lifecycle.replied(session=session, case_id=case_id, user_id="UALICE", now=NOW + timedelta(minutes=5),
                          kind=EventKind.REPLY_SENT, payload={})
        lifecycle.resolve(session=session, case_id=case_id, user_id="UALICE", now=NOW + timedelta(minutes=6),
                          outcome="answered")
    reopened_at = NOW + timedelta(hours=3)
    with session_scope(engine) as session:
        assert lifecycle.reopen(session=session, case_id=case_id, user_id="UBOB", now=reopened_at).ok
        view = cases.case_view(session=session, case_id=case_id, policy=POLICY)
    assert view.sla_due == reopened_at + timedelta(minutes=30)
    assert view.first_response_at == NOW + timedelta(minutes=5)  # the case's first reply stays (figures)
    assert due(engine, reopened_at + timedelta(minutes=20)) == set()
    assert due(engine, reopened_at + timedelta(minutes=25)) == {(case_id, "at_risk")}
    assert mark(engine, case_id, "at_risk", now=reopened_at + timedelta(minutes=25))
    assert due(engine, reopened_at + timedelta(minutes=31)) == {(case_id, "breached")}
    with session_scope(engine) as session:  # answered again: nothing is due
        lifecycle.replied(session=session, case_id=case_id, user_id="UBOB", now=reopened_at + timedelta(minutes=32),
                          kind=EventKind.REPLY_SENT, payload={})
        assert cases.case_view(session=session, case_id=case_id, policy=POLICY).sla_due is None
    assert due(engine, reopened_at + timedelta(hours=5)) == set()


def test_the_customer_writing_again_re_arms_the_clock_and_keeps_the_owner(engine):
    from socialdesk.store import conversations

    case_id = open_case(engine)
    with session_scope(engine) as session:
        lifecycle.claim(session=session, case_id=case_id, user_id="UALICE", now=NOW)
        lifecycle.replied(session=session, case_id=case_id, user_id="UALICE", now=NOW + timedelta(minutes=5),
                          kind=EventKind.REPLY_SENT, payload={})
        lifecycle.resolve(session=session, case_id=case_id, user_id="UALICE", now=NOW + timedelta(minutes=6))
    wrote = NOW + timedelta(days=1)
    with session_scope(engine) as session:
        conversations.attach(session=session, follow_ups=[(case_id, "p2")], now=wrote)
        view = cases.case_view(session=session, case_id=case_id, policy=POLICY)
    assert view.status.value == "reopened" and view.assignee == "UALICE"
    assert view.sla_due == wrote + timedelta(hours=2)
    assert due(engine, wrote + timedelta(minutes=91)) == {(case_id, "at_risk")}
