"""The SLA sweep against the Slack emulator: one nudge and one escalation per case, never twice."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from slack_sdk import WebClient
from sqlmodel import select

from socialdesk.domain import EventKind
from socialdesk.jobs.notices import Notifier
from socialdesk.jobs.publish import Publisher
from socialdesk.jobs.sla import SlaSweep
from socialdesk.sla import BusinessHours, Policy
from socialdesk.store import cases as case_store
from socialdesk.store import ingest, lifecycle
from socialdesk.store.db import session_scope
from socialdesk.store.models import NoticeRow
from tests.support.factories import x_post
from tests.support.slack_proxy import SlackProxy

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


def test_the_at_risk_nudge_mentions_the_owner_or_on_call_when_nobody_owns_the_case(engine, slack_emulator):
    channel = slack_emulator.new_channel("sla4")
    clock = Clock()
    owned, unowned = cards_for(engine, slack_emulator, clock, channel, 2)
    alice = slack_emulator.users["alice"]
    with session_scope(engine) as session:
        lifecycle.claim(session=session, case_id=owned, user_id=alice, now=clock())
    slack = WebClient(token=slack_emulator.token, base_url=slack_emulator.url)
    sweep = SlaSweep(engine=engine, slack=slack, clock=clock, policy=POLICY, oncall="S0CARE")
    clock.now += timedelta(minutes=95)
    assert sweep.run_once() == 2
    [mine] = thread_texts(engine, slack_emulator, channel, owned)
    assert mine.startswith("⏰ First-response SLA at risk") and mine.endswith("(25 min left) <@" + alice + ">")
    [theirs] = thread_texts(engine, slack_emulator, channel, unowned)
    assert theirs.endswith("(25 min left) <!subteam^S0CARE> — nobody owns this case yet")
    clock.now += timedelta(minutes=30)
    assert sweep.run_once() == 2
    assert thread_texts(engine, slack_emulator, channel, unowned)[1].endswith(
        "<!subteam^S0CARE> — nobody owns this case yet")


def test_a_nudge_due_in_quiet_hours_is_sent_when_business_hours_open(engine, slack_emulator):
    hours = BusinessHours.parse("Mon-Fri 09:00-17:00 UTC")
    policy = Policy({"normal": timedelta(hours=1)}, at_risk=0.5, business_hours=hours)
    channel = slack_emulator.new_channel("slaq")
    clock = Clock()
    clock.now = datetime(2026, 11, 30, 16, 30, tzinfo=UTC)  # a Monday, half an hour before closing
    [cid] = cards_for(engine, slack_emulator, clock, channel, 1)
    slack = WebClient(token=slack_emulator.token, base_url=slack_emulator.url)
    notifier = Notifier(engine=engine, slack=slack, clock=clock, policy=policy)
    sweep = SlaSweep(engine=engine, slack=slack, clock=clock, policy=policy, notifier=notifier)

    clock.now = datetime(2026, 11, 30, 18, 0, tzinfo=UTC)  # at risk since 17:00; the app was down until now
    assert sweep.run_once() == 1
    assert "SLA at risk" in card_triage(slack_emulator, channel, cid)  # the card says so at once …
    assert thread_texts(engine, slack_emulator, channel, cid) == []  # … but nobody is pinged at night
    clock.now = datetime(2026, 12, 1, 8, 59, tzinfo=UTC)
    assert sweep.run_once() == 0 and notifier.run_once() == 0
    assert thread_texts(engine, slack_emulator, channel, cid) == []

    clock.now = datetime(2026, 12, 1, 9, 0, 30, tzinfo=UTC)  # Tuesday's opening: due 09:30
    assert notifier.run_once() == 1
    [nudge] = thread_texts(engine, slack_emulator, channel, cid)
    assert nudge.startswith("⏰ First-response SLA at risk") and "(29 min left)" in nudge
    restarted = Notifier(engine=engine, slack=slack, clock=clock, policy=policy)  # a restart sends nothing again
    assert restarted.run_once() == 0 and notifier.run_once() == 0
    assert len(thread_texts(engine, slack_emulator, channel, cid)) == 1


def test_a_notice_slack_refused_is_tried_again_and_sent_once(engine, slack_emulator):
    channel = slack_emulator.new_channel("slar")
    lead = slack_emulator.users["carol"]
    before = len(dm_texts(slack_emulator, lead))
    clock = Clock()
    [cid] = cards_for(engine, slack_emulator, clock, channel, 1)
    with SlackProxy(slack_emulator.url) as proxy:
        proxy.rate_limit("chat.postMessage", retry_after=20, times=2)  # Slack says no to both, posting nothing
        slack = WebClient(token=slack_emulator.token, base_url=proxy.url)
        notifier = Notifier(engine=engine, slack=slack, clock=clock, policy=POLICY)
        clock.now += timedelta(hours=3)
        assert SlaSweep(engine=engine, slack=slack, clock=clock, policy=POLICY, lead=lead, notifier=notifier).run_once() == 1
        assert thread_texts(engine, slack_emulator, channel, cid) == []
        clock.now += timedelta(seconds=19)
        assert notifier.run_once() == 0  # Retry-After is honoured
        clock.now += timedelta(seconds=2)
        assert Notifier(engine=engine, slack=slack, clock=clock, policy=POLICY).run_once() == 2  # after a restart too
        assert notifier.run_once() == 0
    [breach] = thread_texts(engine, slack_emulator, channel, cid)
    assert breach.startswith("🚨 SLA breached") and breach.endswith("— nobody owns this case yet")
    assert len(dm_texts(slack_emulator, lead)) == before + 1


def test_a_notice_slack_keeps_refusing_is_given_up_with_the_reason(engine, slack_emulator, caplog):
    channel = slack_emulator.new_channel("slaf")
    clock = Clock()
    [cid] = cards_for(engine, slack_emulator, clock, channel, 1)
    with SlackProxy(slack_emulator.url) as proxy:
        proxy.answer("chat.postMessage", {"ok": False, "error": "not_in_channel"})
        slack = WebClient(token=slack_emulator.token, base_url=proxy.url)
        notifier = Notifier(engine=engine, slack=slack, clock=clock, policy=POLICY)
        clock.now += timedelta(hours=3)
        SlaSweep(engine=engine, slack=slack, clock=clock, policy=POLICY, notifier=notifier).run_once()
        for _ in range(6):
            clock.now += timedelta(minutes=10)
            notifier.run_once()
        assert len(proxy.calls_to("chat.postMessage")) == 4  # tried four times, then given up
    with session_scope(engine) as session:
        [row] = session.exec(select(NoticeRow).where(NoticeRow.case_id == cid)).all()
    assert (row.status, row.attempts) == ("failed", 3)
    assert row.error == "not_in_channel: invite the socialdesk app to the case's channel (/invite @socialdesk)"
    assert "given up after 4 tries" in caplog.text


def test_a_case_answered_then_reopened_gets_its_at_risk_nudge_again(engine, slack_emulator):
    channel = slack_emulator.new_channel("sla-reopen")
    clock = Clock()
    [case_id] = cards_for(engine, slack_emulator, clock, channel, 1)
    alice = slack_emulator.users["alice"]
    with session_scope(engine) as session:
        lifecycle.replied(session=session, case_id=case_id, user_id=alice, now=clock(), kind=EventKind.REPLY_SENT,
                          payload={})
        lifecycle.resolve(session=session, case_id=case_id, user_id=alice, now=clock(), outcome="answered")
    clock.now += timedelta(hours=5)
    with session_scope(engine) as session:  # the reopening re-arms the clock; the first reply stays the first
        assert lifecycle.reopen(session=session, case_id=case_id, user_id=alice, now=clock()).ok
    slack = WebClient(token=slack_emulator.token, base_url=slack_emulator.url)
    sweep = SlaSweep(engine=engine, slack=slack, clock=clock, policy=POLICY, oncall="S0CARE")
    clock.now += timedelta(minutes=95)
    assert sweep.run_once() == 1
    nudges = [t for t in thread_texts(engine, slack_emulator, channel, case_id) if t.startswith("⏰ First-response SLA")]
    assert len(nudges) == 1 and nudges[0].endswith("(25 min left) <!subteam^S0CARE> — nobody owns this case yet")
