"""Posting cards for new cases, paced per channel, without losing or doubling any.

Crash safety, step by step (each step its own transaction):
1. lease the case (another worker or replica will not touch it meanwhile);
2. if an earlier attempt may have posted the card (`publish_attempted_at` is set),
   look the card up in the channel by its message metadata and keep its ts;
3. otherwise note the attempt, then post the card, then record its ts.
A kill -9 between 3's post and its record leaves `publish_attempted_at` set, so the
next run finds the card in step 2 instead of posting a second one.

A member of an incident (store.incidents) has no card of its own: its message goes into
the incident card's thread once that card exists, the same way (looked up in the thread by
its metadata), and the incident card is redrawn with the new count.

Follow-ups (a customer's later posts in a case) go into the card's thread once the
card exists, the same way: `posts.thread_attempted_at` is noted before posting (and
is the lease), a later try looks the message up in the thread by its metadata, and
`posts.thread_ts` is recorded after, with the ping for the case's owner (store.notices:
once per follow-up; jobs.notices sends it). Then the card is refreshed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import Engine

from socialdesk.domain import CaseView
from socialdesk.logs import about
from socialdesk.metrics import SLACK, Metrics
from socialdesk.sla import Policy
from socialdesk.slack import cards
from socialdesk.store import cases as case_store
from socialdesk.store import conversations, notices
from socialdesk.store.db import as_utc, session_scope

log = logging.getLogger(__name__)

# A card or follow-up being posted is left to its poster this long (SOCIALDESK_PUBLISH_LEASE_SECONDS):
# after a crash mid-post it is looked up and retried this much later; a follow-up tried this
# recently is left alone (the retry pace of a refused one too).
LEASE_SECONDS = 60.0
RECENT_POSTS = 5000  # follow-ups are looked for among the newest posts each round …
FULL_LOOK_SECONDS = 300  # … and among all of them this often (a scan of the posts table)
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
        sleep: Callable[[float], object] | None = None,
        time_budget: float = 20.0,
        sla_policy: Policy | None = None,
        lease_seconds: float = LEASE_SECONDS,
        notify: Callable[[], object] | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._engine = engine
        self._metrics = metrics or Metrics()  # publish latency, Slack's rate-limit waits
        self._slack = slack
        self._now = clock
        self._interval = post_interval
        self._stopping = threading.Event()
        self._sleep = sleep or self._stopping.wait  # a stop ends the wait for a channel's next slot
        self._budget = time_budget
        self._sla_policy = sla_policy  # cards show when the first reply is due
        self._lease = lease_seconds
        self._notify = notify  # a follow-up pinging its case's owner was queued (jobs.notices sends it)
        self._thread_lease = timedelta(seconds=lease_seconds)
        self._next_slot: dict[str, float] = {}  # channel → monotonic time of its next post
        self._next_full_look = 0.0  # monotonic; the first round looks at every post
        self._lock = threading.Lock()
        self._again = threading.Event()  # cases came while a drain ran: it looks once more before it ends

    def stop(self) -> None:
        """Finish the card being posted and post no more (a stop, SIGTERM): the rest wait for the next start."""
        self._stopping.set()

    def run_once(self) -> int:
        """Publish what is waiting, pacing each channel; returns how many messages went out.

        Cards first, then follow-ups into card threads; at most one message per
        channel per round, and none before the channel's next slot.
        """
        if not self._lock.acquire(blocking=False):
            self._again.set()  # another run is draining the queue: it looks again before it ends
            return 0
        try:
            return self._drain()
        finally:
            self._lock.release()

    def _drain(self) -> int:
        posted = 0
        deadline = time.monotonic() + self._budget
        while time.monotonic() < deadline and not self._stopping.is_set():
            self._again.clear()
            with session_scope(self._engine) as session:
                now = self._now()
                waiting: list[tuple[str, Callable[[], int]]] = [
                    (c.channel_id, partial(self._publish, c.id))
                    for c in case_store.unpublished(session=session, now=now, limit=BATCH)
                ]
                waiting += [
                    (f.channel_id, partial(self._thread, f))
                    for f in conversations.unthreaded(session=session, now=now, lease=self._thread_lease, limit=BATCH,
                                                      newest=self._follow_up_window())
                ]
            if not waiting:
                if self._again.is_set():
                    continue  # a wake came after this round's look: what it brought goes out now
                break
            ready = [w for w in waiting if self._next_slot.get(w[0], 0.0) <= time.monotonic()]
            if not ready:
                wait = min(self._next_slot.get(channel, 0.0) for channel, _ in waiting) - time.monotonic()
                self._sleep(max(0.01, min(wait, deadline - time.monotonic())))
                continue
            busy: set[str] = set()
            for channel, work in ready:
                if channel in busy or self._stopping.is_set():
                    continue  # one per channel per round keeps the pace
                busy.add(channel)
                posted += work()
        return posted

    def _follow_up_window(self) -> int | None:
        if time.monotonic() < self._next_full_look:
            return RECENT_POSTS
        self._next_full_look = time.monotonic() + FULL_LOOK_SECONDS
        return None

    def _paced(self, channel: str, post: Callable[[], str]) -> str:
        """Post, then hold the channel for the interval counted from Slack's answer, so the
        gap Slack sees between two messages is never shorter than the interval."""
        self._next_slot[channel] = float("inf")  # nothing else in this channel meanwhile
        try:
            return post()
        finally:  # on a 429, the failure handler then pushes this back to Retry-After
            self._next_slot[channel] = time.monotonic() + self._interval

    def _publish(self, case_id: int) -> int:
        now = self._now()
        with session_scope(self._engine) as session:
            case = case_store.lease_publish(session=session, case_id=case_id, now=now, seconds=self._lease)
            if case is None:
                return 0
            view = case_store.case_view(session=session, case_id=case_id, policy=self._sla_policy)
        channel = case.channel_id
        try:
            if case.publish_attempted_at is not None:
                ts = (cards.find_member(self._slack, channel_id=channel, thread_ts=view.thread_ts, case_id=case_id,
                                        since=case.publish_attempted_at) if view.in_incident_thread and view.thread_ts
                      else cards.find_card(self._slack, channel_id=channel, case_id=case_id,
                                           since=case.publish_attempted_at))
                if ts:
                    log.info("case %s: found the card posted before a restart (ts %s)", case_id, ts,
                             extra=about(case_id=case_id))
                    with session_scope(self._engine) as session:
                        case_store.record_card(session=session, case_id=case_id, message_ts=ts, now=now, found_after_crash=True)
                    return 0
            with session_scope(self._engine) as session:
                case_store.mark_publish_attempt(session=session, case_id=case_id, now=now)
            ts = self._paced(channel, lambda: cards.post_card(self._slack, view))
        except SlackApiError as exc:
            self._failed(case_id, case.publish_failures, channel, exc)
            return 0
        except OSError as exc:  # connection refused, DNS, timeouts from urllib
            self._retry_later(case_id, case.publish_failures, f"could not reach Slack: {exc}")
            return 0
        posted_at = self._now()
        with session_scope(self._engine) as session:
            case_store.record_card(session=session, case_id=case_id, message_ts=ts, now=posted_at)
        self._metrics.published((posted_at - as_utc(case.opened_at)).total_seconds())
        if view.in_incident_thread:
            self._redraw(view.incident.anchor_case_id, "incident card")  # type: ignore[union-attr]  # the live count
        return 1

    def _redraw(self, case_id: int, what: str) -> None:
        def load() -> CaseView:
            with session_scope(self._engine) as session:
                return case_store.case_view(session=session, case_id=case_id, policy=self._sla_policy)

        try:
            cards.redraw(self._slack, load)
        except (SlackApiError, OSError) as exc:  # posted; the card catches up on its next update
            log.warning("case %s: %s not refreshed: %s", case_id, what, exc, extra=about(case_id=case_id))

    def _failed(self, case_id: int, failures: int, channel: str, exc: SlackApiError) -> None:
        error = str(exc.response.get("error") or exc)
        if exc.response.status_code == 429:
            retry_after = float(exc.response.headers.get("Retry-After", "1") or 1)
            self._next_slot[channel] = time.monotonic() + retry_after
            self._metrics.rate_limit_wait(SLACK, retry_after)
            log.warning("Slack rate limit in %s: waiting %.0f s as Retry-After asks", channel, retry_after,
                        extra=about(case_id=case_id))
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
        log.error("case %s: card not posted (%s); retrying in %s", case_id, message, delay,
                  extra=about(case_id=case_id))
        with session_scope(self._engine) as session:
            case_store.record_publish_failure(session=session, case_id=case_id, error=message, retry_at=self._now() + delay)

    def _thread(self, follow_up: conversations.FollowUp) -> int:
        """Post one follow-up into its card's thread (see the module's docstring)."""
        f, now = follow_up, self._now()
        with session_scope(self._engine) as session:
            if not conversations.take_thread_attempt(session=session, post_id=f.post_id, seen=f.attempted_at, now=now):
                return 0  # another worker has it
        try:
            ts = None
            if f.attempted_at is not None:  # an earlier try may have posted it
                ts = cards.find_follow_up(self._slack, channel_id=f.channel_id, thread_ts=f.card_ts,
                                          post_id=f.post_id, since=f.attempted_at)
                if ts:
                    log.info("case %s: found follow-up %s posted before a restart", f.case_id, f.post.external_id,
                             extra=about(case_id=f.case_id))
            posted = ts is None
            if ts is None:
                ts = self._paced(f.channel_id, lambda: cards.post_follow_up(
                    self._slack, channel_id=f.channel_id, thread_ts=f.card_ts, case_id=f.case_id,
                    post_id=f.post_id, post=f.post))
        except SlackApiError as exc:
            self._thread_failed(f, now, exc)
            return 0
        except OSError as exc:  # maybe posted: the next try (after the lease) looks first
            log.error("case %s: follow-up not posted (could not reach Slack: %s); retrying later", f.case_id, exc,
                      extra=about(case_id=f.case_id))
            return 0
        with session_scope(self._engine) as session:  # the owner's ping, queued with the thread's ts: once
            conversations.record_thread(session=session, post_id=f.post_id, thread_ts=ts)
            ping = notices.queue_follow_up(session=session, case_id=f.case_id, post_id=f.post_id, now=self._now())
        self._redraw(f.case_id, "card after a follow-up")  # the card says the customer wrote again
        if ping and self._notify is not None:
            self._notify()
        return int(posted)

    def _thread_failed(self, f: conversations.FollowUp, taken: datetime, exc: SlackApiError) -> None:
        error = str(exc.response.get("error") or exc)
        if exc.response.status_code == 429:
            retry_after = float(exc.response.headers.get("Retry-After", "1") or 1)
            self._next_slot[f.channel_id] = time.monotonic() + retry_after
            self._metrics.rate_limit_wait(SLACK, retry_after)
            log.warning("Slack rate limit in %s: waiting %.0f s as Retry-After asks", f.channel_id, retry_after,
                        extra=about(case_id=f.case_id))
            # Nothing was posted by this try: free it for the channel's next slot.
            with session_scope(self._engine) as session:
                conversations.give_back_attempt(session=session, post_id=f.post_id, taken=taken, previous=f.attempted_at)
            return
        hint = NEEDS_ADMIN.get(error)
        log.error("case %s: follow-up %s not posted (%s); retrying in %s", f.case_id, f.post.external_id,
                  f"{error}: {hint}" if hint else error, self._thread_lease, extra=about(case_id=f.case_id))
