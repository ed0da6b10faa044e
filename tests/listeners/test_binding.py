"""How listeners are bound (listeners.binding): Slack's request is answered by the ack, in the
request's own thread; the work runs afterwards in `Later`. Driven through the app's WSGI entry,
with the database locked so the work cannot have run when the answer comes back."""

from __future__ import annotations

import logging
import threading
import time
from urllib.parse import parse_qs, urlencode

import pytest
from sqlalchemy import Engine

from socialdesk.listeners.binding import AcksInFlight, Later, awaited_by_ack
from socialdesk.slack import ids
from socialdesk.store.db import read_scope
from socialdesk.store.models import CaseRow, RuleRow
from sqlmodel import select
from tests.listeners.conftest import SECRET, card_of, publish_cases
from tests.support.in_process import post
from tests.support.slack_signing import block_actions_body, sign, slash_command_body
from tests.support.waiting import wait_for
from tests.support.locks import write_locked
from tests.support.webhook_receiver import WebhookReceiver


def assignee(engine: Engine, case_id: int) -> str | None:
    with read_scope(engine) as session:
        return session.get(CaseRow, case_id).assignee


def test_a_click_is_answered_before_its_work_and_applied_after_the_lock(desk, slack_emulator, channel):
    [case_id] = publish_cases(desk, channel, ["acme phone will not charge"])
    card = card_of(slack_emulator, channel, case_id)
    alice = slack_emulator.users["alice"]
    body = block_actions_body(user_id=alice, user_name="alice", team_id=slack_emulator.team_id, channel_id=channel,
                              message_ts=card["ts"], action_id=ids.CLAIM, value=str(case_id),
                              trigger_id=slack_emulator.trigger_id("alice"), message=card)
    with write_locked(desk.engine, "cases"):
        answer = post(desk, body, sign(body, SECRET))
        assert (answer.status, answer.body) == (200, b"")  # the ack, while the claim waits for the lock
        assert assignee(desk.engine, case_id) is None
    wait_for(lambda: assignee(desk.engine, case_id) == alice, timeout=30, what="the claim applied after the lock")


def command(slack_emulator, text_: str, *, user: str, channel: str, response_url: str) -> bytes:
    fields = parse_qs(slash_command_body(command="/social", text=text_, user_id=slack_emulator.users[user],
                                         user_name=user, channel_id=channel, team_id=slack_emulator.team_id,
                                         trigger_id=slack_emulator.trigger_id(user)).decode())
    fields = {k: v[0] for k, v in fields.items()} | {"response_url": response_url}
    return urlencode(fields).encode()


def test_a_lookup_is_answered_in_the_ack_even_while_the_database_is_locked(desk, slack_emulator, channel):
    publish_cases(desk, channel, ["acme battery swelling"])
    body = command(slack_emulator, "queue", user="alice", channel=channel, response_url="http://127.0.0.1:9/")
    with write_locked(desk.engine, "cases"):
        answer = post(desk, body, sign(body, SECRET))
    assert answer.status == 200 and "acme battery swelling" in answer.body.decode()


def test_a_command_that_writes_during_a_lock_is_acked_as_coming_then_answered(desk, slack_emulator, channel):
    with WebhookReceiver(secret="unused") as response_url:
        body = command(slack_emulator, f"rules add acme battery channel:<#{channel}>", user="mia", channel=channel,
                       response_url=response_url.url)
        with write_locked(desk.engine, "rules"):
            answer = post(desk, body, sign(body, SECRET))
            assert answer.status == 200
            assert "Working on `/social rules`; the answer follows here." in answer.body.decode()
        late = wait_for(lambda: response_url.received, timeout=30, what="the answer through response_url")
    answered = late[0].json
    assert "rule" in answered["text"].lower() and answered["response_type"] == "ephemeral"
    with read_scope(desk.engine) as session:
        assert [r.query for r in session.exec(select(RuleRow))] == ["acme battery"]


def test_later_logs_a_failure_once_with_its_traceback_and_close_waits_for_running_work(caplog):
    later = Later(threads=2)
    gate, finished = threading.Event(), threading.Event()

    def slow() -> None:
        gate.wait(10)
        finished.set()

    def broken() -> None:
        raise ValueError("boom")

    with caplog.at_level(logging.ERROR):
        failed = later(broken)
        with pytest.raises(ValueError):
            failed.result(timeout=10)
    [record] = [r for r in caplog.records if "failed after Slack's request was acknowledged" in r.getMessage()]
    assert record.exc_info is not None and "broken" in record.getMessage()

    later(slow)
    threading.Timer(0.2, gate.set).start()
    assert later.close(grace=10) is True and finished.is_set()


def test_close_gives_up_after_its_grace_and_says_so(caplog):
    later = Later(threads=1)
    gate = threading.Event()
    later(gate.wait, 30)
    with caplog.at_level(logging.WARNING):
        assert later.close(grace=0.2) is False
    assert "still unfinished at the stop" in caplog.text
    gate.set()


def test_work_after_an_ack_lets_the_acks_in_flight_go_first_but_not_for_long():
    """50 clicks' work competing for the GIL with the last clicks' acks made those acks slow: work
    waits while requests are being answered, for ACKS_FIRST_WAIT at most; work the ack waits for does not."""
    patient, brief = Later(threads=2, acks_first=60), Later(threads=2, acks_first=0.2)
    started: list[str] = []
    try:
        with patient.acks.answering():
            queued = patient(started.append, "queued")
            with awaited_by_ack():
                awaited = patient(started.append, "awaited")
            awaited.result(timeout=30)
            assert started == ["awaited"]  # while the request is being answered
            time.sleep(0.05)
            assert not queued.done()
        queued.result(timeout=30)
        assert started == ["awaited", "queued"]

        with brief.acks.answering():  # an ack that never ends does not hold the work for ever
            brief(started.append, "after a moment").result(timeout=30)
        assert started[-1] == "after a moment"
    finally:
        patient.close(grace=1)
        brief.close(grace=1)


def test_work_waits_for_the_end_of_a_burst_not_for_its_first_ack_done():
    """A burst's clicks come milliseconds apart: the count of acks in flight touches zero between
    them, and work started then would compete with the next ones. It waits until none came for a while."""
    acks = AcksInFlight(settle=0.3)
    with acks.answering():
        pass  # an ack made just now
    started = time.monotonic()
    acks.wait_quiet(5)
    assert time.monotonic() - started >= 0.25  # a lower bound: waiting longer cannot make this fail
