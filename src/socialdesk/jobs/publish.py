"""Posting cards for new cases, paced per channel, without losing or doubling any.

Crash safety, step by step (each step its own transaction):
1. lease the case (another worker or replica will not touch it meanwhile);
2. if an earlier attempt may have posted the card (`publish_attempted_at` is set),
   look the card up in the channel by its message metadata and keep its ts;
3. otherwise note the attempt, then post the card, then record its ts.
A kill -9 between 3's post and its record leaves `publish_attempted_at` set, so the
next run finds the card in step 2 instead of posting a second one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import Engine

from socialdesk.slack import cards
from socialdesk.store import cases as case_store
from socialdesk.store.db import session_scope

log = logging.getLogger(__name__)

LEASE_SECONDS = 60
BATCH = 50
BACKOFF_MAX = timedelta(minutes=10)
# Errors that need a person (invite the bot, fix the channel id): retry slowly.
NEEDS_ADMIN = {
    "not_in_channel": "invite the socialdesk app to the channel (/invite @socialdesk)",
    "channel_not_found": "the rule's channel id is wrong or the app cannot see it; check `socialdesk rules list`",
    "is_archived": "the channel is archived; point the rule at another channel",
    "invalid_auth": "SLACK_BOT_TOKEN is not valid; copy it again from the app's OAuth & Permissions page",
    "not_authed": "SLACK_BOT_TOKEN is missing",
    "missing_scope": "the app lacks a scope; reinstall it from manifest.yml",
}


class Publisher:
    def __init__(
        self,
        *,
        engine: Engine,
        slack: WebClient,
        clock: Callable[[], datetime],
        post_interval: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        time_budget: float = 20.0,
    ) -> None:
        self._engine = engine
        self._slack = slack
        self._now = clock
        self._interval = post_interval
        self._sleep = sleep
        self._budget = time_budget
        self._next_slot: dict[str, float] = {}  # channel → monotonic time of its next post
        self._lock = threading.Lock()

    def run_once(self) -> int:
        """Publish what is waiting, pacing each channel; returns how many cards went out."""
        if not self._lock.acquire(blocking=False):
            return 0  # another run is already draining the queue
        try:
            return self._drain()
        finally:
            self._lock.release()

    def _drain(self) -> int:
        posted = 0
        deadline = time.monotonic() + self._budget
        while time.monotonic() < deadline:
            with session_scope(self._engine) as session:
                waiting = case_store.unpublished(session=session, now=self._now(), limit=BATCH)
            if not waiting:
                break
            ready = [c for c in waiting if self._next_slot.get(c.channel_id, 0.0) <= time.monotonic()]
            if not ready:
                wait = min(self._next_slot.get(c.channel_id, 0.0) for c in waiting) - time.monotonic()
                self._sleep(max(0.01, min(wait, deadline - time.monotonic())))
                continue
            busy: set[str] = set()
            for case in ready:
                if case.channel_id in busy:
                    continue  # one per channel per round keeps the pace
                busy.add(case.channel_id)
                posted += self._publish(case.id)
        return posted

    def _publish(self, case_id: int) -> int:
        now = self._now()
        with session_scope(self._engine) as session:
            case = case_store.lease_publish(session=session, case_id=case_id, now=now, seconds=LEASE_SECONDS)
            if case is None:
                return 0
            view = case_store.case_view(session=session, case_id=case_id)
        channel = case.channel_id
        try:
            if case.publish_attempted_at is not None:
                ts = cards.find_card(self._slack, channel_id=channel, case_id=case_id, since=case.publish_attempted_at)
                if ts:
                    log.info("case %s: found the card posted before a restart (ts %s)", case_id, ts)
                    with session_scope(self._engine) as session:
                        case_store.record_card(session=session, case_id=case_id, message_ts=ts, now=now, found_after_crash=True)
                    return 0
            with session_scope(self._engine) as session:
                case_store.mark_publish_attempt(session=session, case_id=case_id, now=now)
            self._next_slot[channel] = time.monotonic() + self._interval
            ts = cards.post_card(self._slack, view)
        except SlackApiError as exc:
            self._failed(case_id, case.publish_failures, channel, exc)
            return 0
        except OSError as exc:  # connection refused, DNS, timeouts from urllib
            self._retry_later(case_id, case.publish_failures, f"could not reach Slack: {exc}")
            return 0
        with session_scope(self._engine) as session:
            case_store.record_card(session=session, case_id=case_id, message_ts=ts, now=self._now())
        return 1

    def _failed(self, case_id: int, failures: int, channel: str, exc: SlackApiError) -> None:
        error = str(exc.response.get("error") or exc)
        if exc.response.status_code == 429:
            retry_after = float(exc.response.headers.get("Retry-After", "1") or 1)
            self._next_slot[channel] = time.monotonic() + retry_after
            log.warning("Slack rate limit in %s: waiting %.0f s as Retry-After asks", channel, retry_after)
            with session_scope(self._engine) as session:
                case_store.record_publish_failure(
                    session=session, case_id=case_id, error="ratelimited",
                    retry_at=self._now() + timedelta(seconds=retry_after),
                )
            return
        hint = NEEDS_ADMIN.get(error)
        self._retry_later(case_id, failures, f"{error}: {hint}" if hint else f"Slack refused the card: {error}")

    def _retry_later(self, case_id: int, failures: int, message: str) -> None:
        delay = min(timedelta(seconds=5 * 2**failures), BACKOFF_MAX)
        log.error("case %s: card not posted (%s); retrying in %s", case_id, message, delay)
        with session_scope(self._engine) as session:
            case_store.record_publish_failure(session=session, case_id=case_id, error=message, retry_at=self._now() + delay)
