"""Slack's requests are checked before Bolt parses them: through `Socialdesk.wsgi`, on a real database.

The app is built in-process (`app.build`, jobs not started) on the test's database, with the
Slack emulator as Slack's Web API; requests are signed as Slack signs them.
"""

from __future__ import annotations

import io
import json
import logging
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from sqlalchemy import Engine, event, func
from sqlmodel import select

from socialdesk.app import Socialdesk
from socialdesk.slack.verify import MAX_BODY, Checked, RequestGuard
from socialdesk.store.db import session_scope
from socialdesk.store.models import RuleRow, SeenRequestRow
from socialdesk.store.requests import prune_requests, remember_request, remember_requests
from tests.support.db import engine  # noqa: F401  (fixture: SQLite and PostgreSQL)
from tests.support import in_process
from tests.support.in_process import Answer, post, url_of
from tests.support.locks import write_locked
from tests.support.ports import free_port
from tests.support.waiting import wait_for
from tests.support.slack_signing import (
    FORM,
    JSON,
    app_home_opened_event,
    block_actions_body,
    event_callback_body,
    new_trigger_id,
    sign,
    slash_command_body,
)

SECRET = f"in-process-secret-{uuid.uuid4().hex}"
GUARD_LOGGER = "socialdesk.slack.verify"


class Unreadable(io.RawIOBase):
    """A request body that must not be read (an oversized one is refused by its Content-Length)."""

    def read(self, size: int = -1) -> bytes:  # type: ignore[override]
        raise AssertionError("the body was read")


def make_desk(url: str, slack_api_url: str) -> Socialdesk:
    return in_process.make_desk(url, slack_api_url, secret=SECRET)


@pytest.fixture
def desk(engine: Engine, slack_emulator) -> Iterator[Socialdesk]:
    built = make_desk(url_of(engine), slack_emulator.url)
    yield built
    built.close(grace=0)


def signed(body: bytes, *, timestamp: int | None = None, secret: str = SECRET) -> dict[str, str]:
    return sign(body, secret, timestamp)


def challenge_body(challenge: str = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P") -> bytes:
    return json.dumps({"token": "legacy", "challenge": challenge, "type": "url_verification"}).encode()


def guard_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == GUARD_LOGGER]


def seen_count(engine: Engine) -> int:
    with session_scope(engine) as session:
        return session.exec(select(func.count()).select_from(SeenRequestRow)).one()


def test_requests_that_are_not_slacks_get_401_and_one_line_each(desk, engine, caplog):
    body = b"junk=" + b"x" * 40
    now = int(time.time())
    good = signed(body)
    cases = [
        ("no X-Slack-Request-Timestamp", {}),
        ("X-Slack-Request-Timestamp is not a number", {**good, "X-Slack-Request-Timestamp": "soon"}),
        ("X-Slack-Request-Timestamp is not a number", {**good, "X-Slack-Request-Timestamp": "\uff11\uff12\uff13"}),
        ("X-Slack-Request-Timestamp is older than 5 minutes", signed(body, timestamp=now - 301)),
        ("X-Slack-Request-Timestamp is ahead of now by more than 5 minutes", signed(body, timestamp=now + 400)),
        ("no X-Slack-Signature", {"X-Slack-Request-Timestamp": good["X-Slack-Request-Timestamp"]}),
        ("X-Slack-Signature does not match the body", signed(body, secret="someone-elses-secret")),
        ("X-Slack-Signature does not match the body", {**good, "X-Slack-Signature": "v0=\u00e9" + "0" * 63}),
    ]
    with caplog.at_level(logging.INFO):
        for reason, headers in cases:
            caplog.clear()
            answer = post(desk, body, headers)
            assert (answer.status, answer.body.decode()) == (401, reason + "\n"), reason
            [line] = guard_lines(caplog)
            assert line.levelno == logging.WARNING and line.exc_info is None
            assert reason in line.getMessage() and "203.0.113.9" in line.getMessage()
            assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
            assert "junk" not in caplog.text and SECRET not in caplog.text
        # A good signature on other bytes than the ones sent.
        assert post(desk, body + b"&admin=1", good).status == 401
    assert seen_count(engine) == 0


def test_an_oversized_body_gets_413_without_being_read(desk, caplog):
    with caplog.at_level(logging.WARNING):
        big = post(desk, None, {}, content_length=str(MAX_BODY + 1), stream=Unreadable())
        assert (big.status, big.body) == (413, f"body of {MAX_BODY + 1} bytes is over the {MAX_BODY} byte limit\n".encode())
        # No Content-Length: no more than the limit (and one byte) is read, whatever comes.
        body = b"a=" + b"x" * MAX_BODY
        unsized = post(desk, None, signed(body), content_length="", stream=io.BytesIO(body))
        assert unsized.status == 413
        assert post(desk, b"a=1", signed(b"a=1"), content_length="12x").status == 400
    assert len(guard_lines(caplog)) == 3 and not [r for r in caplog.records if r.exc_info]


# SQLite only: a malformed body is refused before the replay store is asked (which is tested on both).
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("content_type", "body", "reason"), [
    ("text/plain", b"hello", "Content-Type 'text/plain' is neither"),
    (None, b"a=1", "Content-Type 'missing' is neither"),
    ("application/xml", b"<a/>", "Content-Type 'application/xml' is neither"),
    (JSON, b"[1, 2]", "JSON body is not a JSON object"),
    (JSON, b"{\"type\": ", "JSON body is not a JSON object"),
    (JSON, b"[" * 100_000, "JSON body is not a JSON object"),  # deeper than the parser recurses
    (FORM, b"{\"type\": ", "JSON body is not a JSON object"),  # Bolt reads a body starting with { as JSON
    (FORM, urlencode({"payload": "not json"}).encode(), "form field `payload` is not a JSON object"),
    (FORM, urlencode({"payload": "[1]"}).encode(), "form field `payload` is not a JSON object"),
    (FORM, b"text=caf\xe9", "body is not UTF-8"),
])
def test_signed_but_malformed_bodies_get_400(desk, engine, caplog, content_type, body, reason):
    with caplog.at_level(logging.INFO):
        answer = post(desk, body, signed(body), content_type=content_type)
    assert answer.status == 400 and answer.body.decode().startswith(reason)
    [line] = guard_lines(caplog)
    assert reason in line.getMessage() and line.exc_info is None
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert seen_count(engine) == 0  # refused requests are not remembered


def test_url_verification_answers_and_a_replay_of_it_is_dropped(desk, engine, caplog):
    body = challenge_body()
    headers = signed(body)
    first = post(desk, body, headers, content_type=JSON + "; charset=utf-8")
    assert first.status == 200 and first.json() == {"challenge": json.loads(body)["challenge"]}
    with caplog.at_level(logging.INFO):
        again = post(desk, body, headers, content_type=JSON)
    assert (again.status, again.body) == (200, b"")
    [line] = guard_lines(caplog)
    assert "replayed" in line.getMessage() and "203.0.113.9" in line.getMessage()
    # The same body signed anew (as Slack signs each delivery) is a new request.
    later = post(desk, body, signed(body, timestamp=int(time.time()) + 1), content_type=JSON)
    assert later.status == 200 and "challenge" in later.json()
    desk.request_guard.settle()  # the database's check runs beside the ack
    assert seen_count(engine) == 2


def test_a_replayed_slash_command_has_no_second_effect(desk, engine, slack_emulator):
    emu = slack_emulator
    body = slash_command_body(command="/social", text="rules add acme every:120", user_id=emu.users["mia"],
                              user_name="mia", channel_id=emu.new_channel("guard"), team_id=emu.team_id,
                              trigger_id=new_trigger_id())
    headers = signed(body)
    first = post(desk, body, headers)
    assert first.status == 200 and "added" in first.json()["text"]
    for _ in range(2):
        assert post(desk, body, headers) == Answer(200, b"")
    with session_scope(engine) as session:
        assert [rule.query for rule in session.exec(select(RuleRow)).all()] == ["acme"]


def test_replicas_share_what_they_have_seen(desk, engine, slack_emulator, caplog):
    """The other replica's ack does not wait for the database; the work it would do does, and is dropped."""
    emu = slack_emulator
    other = make_desk(url_of(engine), slack_emulator.url)
    try:
        body = slash_command_body(command="/social", text="rules add shared every:120", user_id=emu.users["mia"],
                                  user_name="mia", channel_id=emu.new_channel("replicas"), team_id=emu.team_id,
                                  trigger_id=new_trigger_id())
        headers = signed(body)
        first = post(desk, body, headers)
        assert first.status == 200 and "added" in first.json()["text"]
        with caplog.at_level(logging.WARNING):
            assert post(other, body, headers) == Answer(200, b"")
        assert "dropped a replayed request's work" in caplog.text
        with session_scope(engine) as session:
            assert [rule.query for rule in session.exec(select(RuleRow)).all()] == ["shared"]
    finally:
        other.close(grace=0)


def test_an_events_api_retry_passes_and_is_deduped_on_its_event_id(desk, slack_emulator, caplog):
    emu = slack_emulator
    body = event_callback_body(event=app_home_opened_event(user_id=emu.users["alice"]),
                               event_id=f"Ev{uuid.uuid4().hex[:10].upper()}", team_id=emu.team_id)
    assert post(desk, body, signed(body), content_type=JSON).status == 200
    retry = {**signed(body, timestamp=int(time.time()) + 1), "X-Slack-Retry-Num": "1",
             "X-Slack-Retry-Reason": "http_timeout"}
    with caplog.at_level(logging.INFO):
        assert post(desk, body, retry, content_type=JSON) == Answer(200, b"")
        # listeners.events, past the guard: acked at once, found to be a retry by the work after the ack
        wait_for(lambda: "already handled; ignoring Slack's retry" in caplog.text, timeout=10,
                 what="the retry recognised by its event id")
    assert not guard_lines(caplog)


def test_a_busy_database_does_not_hold_the_ack(desk, engine, caplog):
    """Another transaction holds the table: no request waits for the database (its check runs
    beside the ack), a replay is still dropped, and the database catches up."""
    bodies = [challenge_body(f"busy-{n}") for n in range(5)]
    headers = [signed(body) for body in bodies]
    with write_locked(engine, "seen_requests"), caplog.at_level(logging.WARNING):  # all of it while the lock is held
        for body, signature in zip(bodies, headers, strict=True):
            assert post(desk, body, signature, content_type=JSON).json() == {"challenge": json.loads(body)["challenge"]}
        replayed = post(desk, bodies[0], headers[0], content_type=JSON)
        assert replayed == Answer(200, b"")  # this replica remembers it without the database
        assert "replay check" not in caplog.text  # nothing waited for it, nothing failed
    wait_for(lambda: seen_count(engine) == 5, timeout=30, what="the database catching up on the five requests")


def test_the_store_remembers_once_and_forgets_outside_the_window(engine):
    now = datetime.now(UTC).replace(microsecond=0)
    with session_scope(engine) as session:
        assert remember_request(session=session, signature="v0=aa", sent_at=now - timedelta(minutes=11))
        assert remember_request(session=session, signature="v0=bb", sent_at=now)
    with session_scope(engine) as session:
        assert not remember_request(session=session, signature="v0=bb", sent_at=now)
    with session_scope(engine) as session:
        assert prune_requests(session=session, before=now - timedelta(minutes=10)) == 1
    with session_scope(engine) as session:
        assert [row.signature for row in session.exec(select(SeenRequestRow)).all()] == ["v0=bb"]


def test_the_store_remembers_a_batch_and_names_what_was_new(engine):
    now = datetime.now(UTC).replace(microsecond=0)
    with session_scope(engine) as session:
        assert remember_request(session=session, signature="v0=seen", sent_at=now)
    batch = [("v0=seen", now), *((f"v0={n:04x}", now) for n in range(900))]  # more than one statement's rows
    with session_scope(engine) as session:
        fresh = remember_requests(session=session, requests=batch)
    assert fresh == {f"v0={n:04x}" for n in range(900)}
    assert seen_count(engine) == 901
    with session_scope(engine) as session:
        assert remember_requests(session=session, requests=batch[:3]) == set()


def seen_rows_waiting(guard: RequestGuard) -> list:
    return guard._waiting  # noqa: SLF001 - the queue the next transaction takes


def test_a_burst_of_requests_is_checked_in_a_few_transactions_not_one_each(engine):
    """50 clicks at once used to be 50 replay-check transactions in a row, the last click's ack
    waiting for all of them; now each transaction takes every request that came while the last ran."""
    guard = RequestGuard(signing_secret=SECRET, engine=engine, clock=time.time)
    inserts: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("INSERT INTO SEEN_REQUESTS"):
            inserts.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        with write_locked(engine, "seen_requests") as release:
            now = int(time.time())
            checks = [Checked(body=b"", timestamp=now, signature=f"v0=burst{n:02d}") for n in range(50)]
            # the first check takes its transaction and is stuck on the lock; the other 49 queue for the next
            answers = [guard._first_time(checks[0])]  # noqa: SLF001
            wait_for(lambda: not seen_rows_waiting(guard), timeout=30, what="the first check under way")
            with ThreadPoolExecutor(max_workers=49) as pool:
                answers += pool.map(guard._first_time, checks[1:])  # noqa: SLF001 - none of them waits
            assert not answers[0].done() and len(seen_rows_waiting(guard)) == 49
            release()
        assert [answer.result(timeout=30) for answer in answers] == [True] * 50
        assert seen_count(engine) == 50
        assert len(inserts) == 2, f"{len(inserts)} INSERT statements for 50 requests"
        assert guard._first_time(checks[7]) is None  # noqa: SLF001 - and a replay is still a replay
    finally:
        event.remove(engine, "before_cursor_execute", count)
        guard.close()


def test_the_guard_prunes_with_twice_the_window(engine):
    guard = RequestGuard(signing_secret=SECRET, engine=engine, clock=time.time)
    now = datetime.now(UTC)
    try:
        with session_scope(engine) as session:
            for signature, age in (("v0=old", 601), ("v0=recent", 400), ("v0=new", 0)):
                remember_request(session=session, signature=signature, sent_at=now - timedelta(seconds=age))
        assert guard.prune() == 1
        with session_scope(engine) as session:
            assert {row.signature for row in session.exec(select(SeenRequestRow)).all()} == {"v0=recent", "v0=new"}
    finally:
        guard.close()


def test_a_request_that_failed_is_handled_again_when_resent(desk, engine):
    """Slack resends a request that got an error, at once and so maybe with the same signature:
    it is forgotten, not dropped as a replay. Here no listener handles the click, so Bolt answers 404."""
    body = block_actions_body(user_id="U0ALICE", user_name="alice", team_id="T0ACME", channel_id="C0CARE",
                              message_ts="1.000001", action_id="no_such_button", value="1",
                              trigger_id=new_trigger_id())
    headers = signed(body)
    assert post(desk, body, headers).status == 404
    desk.request_guard.settle()
    assert seen_count(engine) == 0
    assert post(desk, body, headers).status == 404  # handled (and refused) again, not dropped as a replay


def test_a_resend_checked_before_its_failed_requests_forget_ran_is_still_handled(engine):
    """A failed (its forget queued behind the next check), then Slack resent it at once with the same
    signature, and the resend joined that next check: it is a first time, not a replay."""
    guard = RequestGuard(signing_secret=SECRET, engine=engine, clock=time.time)
    try:
        with write_locked(engine, "seen_requests") as release:
            now = int(time.time())
            failed, other = (Checked(body=b"", timestamp=now, signature=f"v0={name}") for name in ("failed", "other"))
            first = guard._first_time(failed)  # noqa: SLF001 - its check waits on the lock
            wait_for(lambda: not seen_rows_waiting(guard), timeout=30, what="the first check under way")
            queued = guard._first_time(other)  # noqa: SLF001 - the next check, queued behind it
            guard._forget(failed.signature)  # noqa: SLF001 - Bolt answered it with an error
            resent = guard._first_time(failed)  # noqa: SLF001 - joins the queued check, before the forget
            assert resent is not None and len(seen_rows_waiting(guard)) == 2
            release()
        assert (first.result(timeout=30), queued.result(timeout=30), resent.result(timeout=30)) == (True, True, True)
        guard.settle()
        assert seen_count(engine) == 2  # the resend is remembered: a replay of it is still caught
        with session_scope(engine) as session:
            assert remember_requests(session=session, requests=[("v0=failed", datetime.now(UTC))]) == set()
    finally:
        guard.close()
