"""The notifier (jobs.notices) against the Slack emulator: what no longer applies, or is not ours, is
skipped with the reason kept, and the rest still goes out."""

from __future__ import annotations

from datetime import UTC, datetime

from slack_sdk import WebClient
from sqlmodel import select

from socialdesk.jobs.notices import Notifier
from socialdesk.store import notices
from socialdesk.store.db import session_scope
from socialdesk.store.models import NoticeRow
from tests.jobs.test_sla import Clock, cards_for, dm_texts


def test_a_notice_not_ours_or_for_a_gone_case_is_skipped_and_the_rest_goes_out(engine, slack_emulator):
    channel = slack_emulator.new_channel("ntc")
    clock = Clock()
    [case_id] = cards_for(engine, slack_emulator, clock, channel, 1)
    lead = slack_emulator.users["carol"]
    before = len(dm_texts(slack_emulator, lead))
    with session_scope(engine) as session:
        notices.queue(session=session, key="a", kind=notices.SLA_AT_RISK, case_id=case_id, channel_id=channel,
                      now=clock(), payload={"due": "soon"})  # not a time
        notices.queue(session=session, key="b", kind=notices.ASSIGNED, case_id=999_999, channel_id=lead, now=clock(),
                      payload={"by": "U0X", "to": lead})
        notices.queue(session=session, key="c", kind=notices.SLA_LEAD, case_id=case_id, channel_id=lead, now=clock(),
                      payload={"due": datetime.now(UTC).isoformat(), "target": 7200, "priority": "normal"})
    slack = WebClient(token=slack_emulator.token, base_url=slack_emulator.url)
    assert Notifier(engine=engine, slack=slack, clock=clock).run_once() == 1
    with session_scope(engine) as session:
        found = {r.key: (r.status, r.error) for r in session.exec(select(NoticeRow))}
    assert found["a"][0] == "skipped" and found["a"][1].startswith("its payload is not what socialdesk writes (ValueError")
    assert found["b"] == ("skipped", "the case is gone")
    assert found["c"] == ("sent", None)
    assert len(dm_texts(slack_emulator, lead)) == before + 1
