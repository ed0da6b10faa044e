"""The poll job when X (or what stands in front of it) answers oddly: it backs off, never raises, loses nothing.

Against FakeX's fault injection and a real database (SQLite and PostgreSQL).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import select

from socialdesk.jobs.poll import Poller
from socialdesk.networks.base import Page
from socialdesk.networks.errors import SourceUnavailable
from socialdesk.networks.x.api import _reset_time
from socialdesk.networks.x.search import SEARCH_PATH
from tests.jobs.test_poll import (
    add_rule,
    make_poller,
    poll_again,
    post_many,
    rule,
    stored_ids,
)
from socialdesk.store.db import session_scope
from socialdesk.store.models import AuthorRow, PostRow
from tests.support.networks import x_network


def seconds_until(when: datetime, clock: Any) -> float:
    return (when - clock()).total_seconds()


def real_time() -> datetime:
    return datetime.now(UTC)


# --- 429 without x-rate-limit-reset ---------------------------------------------------------------------------


def test_a_429_with_only_retry_after_waits_that_long(engine, fake_x, clock):
    rule_id = add_rule(engine, every=5)
    poller = make_poller(engine, fake_x, clock)
    poller.poll_rule(rule_id)
    burst = post_many(fake_x, 3)
    fake_x.fail_next(SEARCH_PATH, status=429, rate_headers=False, headers={"Retry-After": "30"})
    assert poll_again(poller, clock, rule_id, 6) == 0
    state = rule(engine, rule_id)
    assert "rate limit" in state.last_error
    # Retry-After counts from when X answered (real time; the test's clock runs ahead).
    assert seconds_until(state.not_before, real_time) == pytest.approx(30, abs=3)
    sent = len(fake_x.requests_to(SEARCH_PATH))
    assert poll_again(poller, clock, rule_id, 6) == 0  # still waiting: nothing goes out
    assert len(fake_x.requests_to(SEARCH_PATH)) == sent
    assert poll_again(poller, clock, rule_id, 30) == 3
    assert stored_ids(engine) == sorted(burst)


def test_a_429_naming_no_reset_waits_briefly_not_a_whole_window(engine, fake_x, clock):
    rule_id = add_rule(engine, every=5)
    poller = make_poller(engine, fake_x, clock)
    poller.poll_rule(rule_id)
    burst = post_many(fake_x, 2)
    fake_x.fail_next(SEARCH_PATH, status=429, rate_headers=False)
    assert poll_again(poller, clock, rule_id, 6) == 0
    wait = seconds_until(rule(engine, rule_id).not_before, real_time)
    assert 30 <= wait <= 90, wait  # a short backoff, not X's 15-minute window
    assert poll_again(poller, clock, rule_id, 91) == 2
    assert stored_ids(engine) == sorted(burst)


# --- a 200 whose body is not a page of posts --------------------------------------------------------------------

HTML = "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"

BAD_BODIES = {
    "html-from-a-proxy": {"body": HTML, "headers": {"content-type": "text/html; charset=utf-8"}},
    "truncated-json": {"body": '{"data": [{"id": "1790000000000000000", "text": "my acme ph',
                       "headers": {"content-type": "application/json; charset=utf-8"}},
    "empty-body": {"body": "", "headers": {"content-type": "application/json"}},
    "data-not-a-list": {"body": {"data": {"id": "1790000000000000000", "text": "hi"}, "meta": {"result_count": 1}}},
    "a-list-where-an-object-belongs": {"body": [{"id": "1790000000000000000", "text": "hi"}]},
    "users-not-a-list": {"body": {"data": [], "includes": {"users": {"id": "1"}}}},
    "meta-not-an-object": {"body": {"data": [], "meta": "newest"}},
}


@pytest.mark.parametrize("fault", BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_a_200_that_is_not_a_page_backs_off_and_loses_nothing(engine, fake_x, clock, fault, caplog):
    rule_id = add_rule(engine, every=5)
    poller = make_poller(engine, fake_x, clock)
    poller.poll_rule(rule_id)
    cursor = rule(engine, rule_id).cursor
    burst = post_many(fake_x, 4)
    fake_x.fail_next(SEARCH_PATH, status=200, **fault)
    with caplog.at_level(logging.DEBUG, logger="socialdesk.jobs.poll"):
        assert poll_again(poller, clock, rule_id, 6) == 0  # no exception out of the job
    state = rule(engine, rule_id)
    assert state.last_error.startswith("X answered with a body that is not"), state.last_error
    assert state.consecutive_failures == 1 and state.cursor == cursor
    assert seconds_until(state.not_before, clock) == pytest.approx(5, abs=2)  # SourceUnavailable's backoff
    assert state.lease_until is None  # released
    assert not [r for r in caplog.records if r.exc_info]  # an expected failure: one line, no traceback
    assert poll_again(poller, clock, rule_id, 6) == 4
    recovered = rule(engine, rule_id)
    assert recovered.last_error is None and recovered.consecutive_failures == 0
    assert stored_ids(engine) == sorted(burst)


def test_a_body_that_breaks_parsing_is_recorded_and_its_traceback_logged_once(engine, fake_x, clock, caplog):
    rule_id = add_rule(engine, every=5)
    poller = make_poller(engine, fake_x, clock)
    poller.poll_rule(rule_id)
    burst = post_many(fake_x, 2)
    # The right shape, but an id that is not a number: parsing fails deep inside (ValueError).
    fake_x.fail_next(SEARCH_PATH, status=200, body={"data": [{"id": "not-a-number", "text": "x"}]}, times=2)
    with caplog.at_level(logging.DEBUG, logger="socialdesk.jobs.poll"):
        assert poll_again(poller, clock, rule_id, 6) == 0
        first = rule(engine, rule_id)
        assert first.last_error.startswith("unexpected ValueError") and len(first.last_error) < 300
        assert first.consecutive_failures == 1
        assert seconds_until(first.not_before, clock) == pytest.approx(5, abs=2)
        assert poll_again(poller, clock, rule_id, 6) == 0
        second = rule(engine, rule_id)
        assert second.consecutive_failures == 2
        assert seconds_until(second.not_before, clock) == pytest.approx(10, abs=2)
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(loud) == 1 and loud[0].exc_info and loud[0].exc_info[0] is ValueError
    assert "Traceback" in caplog.text and caplog.text.count("Traceback") == 1
    quiet = [r for r in caplog.records if r.levelno == logging.DEBUG and "polling failed" in r.getMessage()]
    assert len(quiet) == 1 and not quiet[0].exc_info
    assert poll_again(poller, clock, rule_id, 11) == 2
    assert rule(engine, rule_id).last_error is None
    assert stored_ids(engine) == sorted(burst)


class _Broken:
    """A source with a bug: it raises what no source is meant to."""

    def __init__(self) -> None:
        self.calls = 0

    def fetch(self, query: str, cursor: dict[str, Any] | None) -> Page:
        self.calls += 1
        raise RuntimeError("boom while reading Authorization: Bearer AAAAsecretBEARER%3D")


def test_any_exception_from_a_source_is_backed_off_and_never_escapes(engine, clock, caplog):
    rule_id = add_rule(engine, every=5)
    source = _Broken()
    poller = Poller(engine=engine, networks=x_network(source), own_handles=frozenset(), clock=clock)
    with caplog.at_level(logging.DEBUG, logger="socialdesk.jobs.poll"):
        for _ in range(3):
            assert poll_again(poller, clock, rule_id, 3600) == 0
    state = rule(engine, rule_id)
    assert source.calls == 3 and state.consecutive_failures == 3
    assert state.last_error.startswith("unexpected RuntimeError: boom") and "secretBEARER" not in state.last_error
    assert seconds_until(state.not_before, clock) == pytest.approx(20, abs=2)
    assert sum(1 for r in caplog.records if r.exc_info) == 1


class _Refusing:
    """A source whose network answers with words holding NUL (an error body quoted as it came)."""

    def fetch(self, query: str, cursor: dict[str, Any] | None) -> Page:
        raise SourceUnavailable("upstream said: bad\x00gateway")


def test_a_failure_whose_words_hold_nul_is_recorded_without_it(engine, clock):
    rule_id = add_rule(engine, every=5)
    poller = Poller(engine=engine, networks=x_network(_Refusing()), own_handles=frozenset(), clock=clock)
    for _ in range(2):
        assert poll_again(poller, clock, rule_id, 3600) == 0
    state = rule(engine, rule_id)
    assert state.consecutive_failures == 2 and "upstream said: badgateway" in state.last_error


def test_the_database_going_away_mid_poll_does_not_raise_out_of_the_job(engine, fake_x, clock, monkeypatch, caplog):
    rule_id = add_rule(engine)
    poller = make_poller(engine, fake_x, clock)

    def gone(**kw: Any) -> None:
        raise RuntimeError("database is away")

    monkeypatch.setattr("socialdesk.store.rules.release_lease", gone)
    with caplog.at_level(logging.ERROR, logger="socialdesk.jobs.poll"):
        assert poller.poll_rule(rule_id) == 0
    assert "database is away" in caplog.text


def test_retry_after_as_an_http_date_and_nonsense():
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    def wait(**headers: str) -> float:
        return (_reset_time(httpx.Response(429, headers=headers), now) - now).total_seconds()

    assert wait(**{"retry-after": "Sun, 01 Mar 2026 12:02:00 GMT"}) == 120
    assert wait(**{"retry-after": "Sun, 01 Mar 2026 11:00:00 GMT"}) == 0  # already past: ask now
    assert wait(**{"retry-after": "86400"}) == 900  # capped at X's window
    assert wait(**{"retry-after": "soon"}) == 60
    assert wait() == 60
    assert wait(**{"x-rate-limit-reset": str(int(now.timestamp()) + 300), "retry-after": "5"}) == 300
    assert timedelta(seconds=wait()) < timedelta(minutes=15)


# --- posts whose values their rows cannot hold as they came -----------------------------------------------------


def test_a_page_with_a_post_its_rows_cannot_hold_is_stored_and_the_cursor_moves_on(engine, fake_x, clock):
    """PostgreSQL refuses what SQLite takes (a name past authors.name, NUL in text, a lang past its
    column): the page would fail on every poll, and the other customers' posts on it never be stored."""
    accented = "".join("a" + "\u0301" * 4 for _ in range(60))  # 300 code points: a name a network allows
    fake_x.add_user(username="odd_one", name=accented)
    rule_id = add_rule(engine)
    poller = make_poller(engine, fake_x, clock)
    poller.poll_rule(rule_id)  # the newest page: nothing yet
    fine = post_many(fake_x, 2)
    odd = fake_x.post(username="odd_one", text="my acme phone is broken\x00", lang="q" * 40)["id"]
    after = post_many(fake_x, 1, text="my acme phone is still broken #{i}")
    assert poll_again(poller, clock, rule_id) == 4
    assert stored_ids(engine) == sorted([*fine, odd, *after])
    state = rule(engine, rule_id)
    assert (state.consecutive_failures, state.last_error) == (0, None)
    assert state.cursor["since_id"] == after[-1]
    with session_scope(engine) as session:
        post = session.exec(select(PostRow).where(PostRow.external_id == odd)).one()
        author = session.get(AuthorRow, post.author_id)
    assert (post.text, post.lang, author.name) == ("my acme phone is broken", "q" * 16, accented[:255])
