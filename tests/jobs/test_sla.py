"""The SLA sweep against the Slack emulator: one nudge and one escalation per case, never twice."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from slack_sdk import WebClient

from socialdesk.domain import EventKind
from socialdesk.jobs.publish import Publisher
from socialdesk.jobs.sla import SlaSweep
from socialdesk.sla import Policy
from socialdesk.store import cases as case_store
from socialdesk.store import ingest, lifecycle
from socialdesk.store.db import session_scope
from tests.support.factories import x_post

POLICY = Policy({"high": timedelta(minutes=30), "normal": timedelta(hours=2)}, at_risk=0.75)


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def cards_for(engine, slack_emulator, clock, channel, n) -> list[int]:
    with session_scope(engine) as session:
        ids = ingest.store_posts(session=session, posts=[x_post(f"help #{i}") for i in range(n)],
                                 rule_id=None, channel_id=channel, now=clock())
    slack = WebClient(token=slack_emulator.token, base_url=slack_emulator.url)
    assert Publisher(engine=engine, slack=slack, clock=clock, post_interval=0, sla_policy=POLICY).run_once() == n
    return ids


def thread_texts(engine, slack_emulator, channel, case_id) -> list[str]:
    with session_scope(engine) as session:
        ts = case_store.get_case(session=session, case_id=case_id).message_ts
    return [m["text"] for m in slack_emulator.replies(channel, ts)[1:]]


def dm_texts(slack_emulator, user) -> list[str]:
    dm = slack_emulator.call("conversations.open", users=user)["channel"]["id"]
    return [m["text"] for m in slack_emulator.call("conversations.history", channel=dm)["messages"]]


def sweep_for(engine, slack_emulator, clock, lead) -> SlaSweep:
    slack = WebClient(token=slack_emulator.token, base_url=slack_emulator.url)
    return SlaSweep(engine=engine, slack=slack, clock=clock, policy=POLICY, lead=lead)


def test_one_nudge_and_one_escalation_per_case(engine, slack_emulator):
    channel = slack_emulator.new_channel("sla")
    lead = slack_emulator.users["carol"]
    before = len(dm_texts(slack_emulator, lead))
    clock = Clock()
    late, answered = cards_for(engine, slack_emulator, clock, channel, 2)
    with session_scope(engine) as session:
        view = case_store.case_view(session=session, case_id=late, policy=POLICY)
        lifecycle.replied(session=session, case_id=answered, user_id="UALICE", now=clock() + timedelta(minutes=10),
                          kind=EventKind.REPLY_SENT, payload={})
    assert view.sla_due == clock() + timedelta(hours=2)
    sweep = sweep_for(engine, slack_emulator, clock, lead)

    clock.now += timedelta(minutes=30)
    assert sweep.run_once() == 0  # nothing at risk yet
    clock.now += timedelta(minutes=65)  # 95 min: past 75 % of 2 h
    assert sweep.run_once() == 1
    assert sweep.run_once() == 0
    [nudge] = thread_texts(engine, slack_emulator, channel, late)
    assert nudge.startswith("⏰ First-response SLA at risk: due <!date^") and "(25 min left)" in nudge

    clock.now += timedelta(minutes=30)  # 2 h 5 min: breached
    assert sweep.run_once() == 1
    assert sweep_for(engine, slack_emulator, clock, lead).run_once() == 0  # a second replica finds nothing
    texts = thread_texts(engine, slack_emulator, channel, late)
    assert len(texts) == 2 and texts[1].startswith("🚨 SLA breached")
    dms = dm_texts(slack_emulator, lead)
    assert len(dms) == before + 1
    assert f"/archives/{channel}/p" in dms[0] and f"case #{late}" in dms[0]

    clock.now += timedelta(hours=6)
    assert sweep.run_once() == 0
    assert len(thread_texts(engine, slack_emulator, channel, late)) == 2
    assert thread_texts(engine, slack_emulator, channel, answered) == []  # answered in time: no nudges
    assert len(dm_texts(slack_emulator, lead)) == before + 1


def test_a_breach_found_late_skips_the_at_risk_nudge_and_without_a_lead_sends_no_dm(engine, slack_emulator):
    channel = slack_emulator.new_channel("sla2")
    clock = Clock()
    [cid] = cards_for(engine, slack_emulator, clock, channel, 1)
    clock.now += timedelta(hours=4)  # the app was down through the at-risk window
    sweeps = [sweep_for(engine, slack_emulator, clock, lead="") for _ in range(4)]
    barrier = threading.Barrier(len(sweeps))
    taken: list[int] = []

    def run(s: SlaSweep) -> None:
        barrier.wait()
        taken.append(s.run_once())

    threads = [threading.Thread(target=run, args=(s,)) for s in sweeps]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(taken) == 1
    [text] = thread_texts(engine, slack_emulator, channel, cid)
    assert text.startswith("🚨 SLA breached")


def card_triage(slack_emulator, channel, case_id) -> str:
    from tests.e2e.helpers import block_text, case_id_of, cards

    [card] = [c for c in cards(slack_emulator, channel) if case_id_of(c) == case_id]
    return block_text(card, "status")  # the SLA is on the status line


def test_the_card_shows_at_risk_then_overdue(engine, slack_emulator):
    channel = slack_emulator.new_channel("sla3")
    clock = Clock()
    [cid] = cards_for(engine, slack_emulator, clock, channel, 1)
    assert "⏱ reply due <!date^" in card_triage(slack_emulator, channel, cid)
    sweep = sweep_for(engine, slack_emulator, clock, lead="")

    clock.now += timedelta(minutes=95)
    assert sweep.run_once() == 1
    at_risk = card_triage(slack_emulator, channel, cid)
    assert "⚠️ *SLA at risk* — due <!date^" in at_risk and "reply due" not in at_risk

    clock.now += timedelta(minutes=30)
    assert sweep.run_once() == 1
    due = int((clock.now - timedelta(minutes=125) + timedelta(hours=2)).timestamp())
    overdue = card_triage(slack_emulator, channel, cid)
    assert f"🔴 *First response overdue* — was due <!date^{due}^" in overdue and "^{ago}|" in overdue
    assert "SLA at risk" not in overdue

    with session_scope(engine) as session:  # answered late: the deadline line goes away on the next redraw
        lifecycle.replied(session=session, case_id=cid, user_id="UALICE", now=clock(), kind=EventKind.REPLY_SENT,
                          payload={})
        view = case_store.case_view(session=session, case_id=cid, policy=POLICY)
    assert view.sla_due is None and view.sla_state == "breached"
