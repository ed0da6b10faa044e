"""Hide posts deleted or withheld at the source, as the networks' terms require.

`SourceCheck` asks a network (its `RemovalCheck`) which posts of live cases (open, or
opened within the last 7 days) still exist. A deleted or withheld post is marked in the
store (text and raw dropped) and its card, or its follow-up message in the card's
thread, is updated in Slack. Lookups may cost (read caps), so a post is first checked
`first_check` after it was fetched, then at most once per `recheck`
(posts.source_checked_at, shared by replicas and kept across restarts), and each run
makes at most `max_requests` lookups. Networks with a stream learn of deletions as
they happen (jobs.stream) and need no check.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import Engine

from socialdesk.jobs.retention import refresh_card
from socialdesk.jobs.scheduler import PeriodicJob
from socialdesk.networks.base import Network, RateLimited, Removal, RemovalCheck, SourceError
from socialdesk.spend import Meter
from socialdesk.slack import cards
from socialdesk.store import cases as case_store
from socialdesk.store import retention as store
from socialdesk.store.db import session_scope

log = logging.getLogger(__name__)

RECENT_CASES = timedelta(days=7)
FIRST_CHECK = timedelta(hours=1)
SOURCE_CHECK_SECONDS = 15 * 60


class RemovalMarker:
    """Marks posts one network says are gone, and rewrites their card or thread message."""

    def __init__(self, *, engine: Engine, slack: WebClient, network: str) -> None:
        self._engine, self._slack, self._network = engine, slack, network

    def apply(self, verdict: Removal, now: datetime) -> list[store.RemovedPost]:
        removed = self.mark(verdict, now)
        for post in removed:
            self.refresh(post)
        return removed

    def mark(self, verdict: Removal, now: datetime) -> list[store.RemovedPost]:
        with session_scope(self._engine) as session:
            removed = store.mark_removed_at_source(session=session, network=self._network,
                                                   external_ids=verdict.deleted, reason=store.DELETED, now=now)
            for external_id, countries in verdict.withheld.items():
                removed += store.mark_removed_at_source(session=session, network=self._network,
                                                        external_ids=[external_id], reason=store.WITHHELD,
                                                        now=now, countries=countries)
        for post in removed:
            log.info("post %s %s at the source; case %s updated", post.external_id, post.reason, post.case_id)
        return removed

    def refresh(self, post: store.RemovedPost) -> None:
        try:
            if post.first_post and post.card_ts and post.case_id is not None:
                refresh_card(self._slack, self._engine, post.case_id, removed=post.reason)
            elif post.thread_ts and post.channel_id and post.case_id is not None:
                with session_scope(self._engine) as session:
                    view = case_store.case_view(session=session, case_id=post.case_id)
                shown = replace(view.post, text=post.notice, external_id=post.external_id)
                message = cards.follow_up_message(case_id=post.case_id, post_id=post.post_id, post=shown)
                self._slack.chat_update(channel=post.channel_id, ts=post.thread_ts, **message)
        except (SlackApiError, OSError, case_store.CaseNotFound) as exc:
            error = exc.response.get("error") if isinstance(exc, SlackApiError) else exc
            log.error("case %s: the Slack message of removed post %s was not updated (%s); its text is gone "
                      "from the database, edit or delete the message in Slack", post.case_id, post.external_id, error)


class SourceCheck:
    """Marks posts of live cases that one network no longer shows, and updates their Slack messages."""

    def __init__(self, *, engine: Engine, slack: WebClient, network: str, removal: RemovalCheck,
                 clock: Callable[[], datetime], recheck: timedelta = timedelta(hours=24),
                 first_check: timedelta = FIRST_CHECK, max_requests: int = 10, meter: Meter | None = None) -> None:
        self._engine = engine
        self._meter = meter  # a lookup the network bills is counted (no rule's: "replies and lookups")
        self._network = network
        self._removal = removal
        self._marker = RemovalMarker(engine=engine, slack=slack, network=network)
        self._now = clock
        self._recheck = recheck
        self._first_check = first_check
        self._max_requests = max_requests
        self._not_before: datetime | None = None
        self._lock = threading.Lock()

    def run_once(self) -> list[store.RemovedPost]:
        """Check what is due; returns the posts marked removed by this run."""
        if not self._lock.acquire(blocking=False):
            return []
        try:
            now = self._now()
            if self._not_before and now < self._not_before:
                return []
            with session_scope(self._engine) as session:
                due = store.posts_to_check(session=session, network=self._network,
                                           opened_since=now - RECENT_CASES, checked_before=now - self._recheck,
                                           fetched_before=now - self._first_check,
                                           limit=self._removal.batch_size * self._max_requests)
            removed: list[store.RemovedPost] = []
            size = self._removal.batch_size
            for start in range(0, len(due), size):
                batch = due[start:start + size]
                try:
                    verdict = self._removal.check([external for _, external in batch])
                except RateLimited as exc:
                    self._not_before = exc.reset_at
                    log.warning("source check: %s; next check after %s", exc, exc.reset_at.isoformat())
                    break
                except SourceError as exc:
                    log.warning("source check stopped: %s; it tries again next run", exc)
                    break
                with session_scope(self._engine) as session:
                    store.mark_checked(session=session, post_ids=[post_id for post_id, _ in batch], now=now)
                    if self._meter is not None and verdict.billed:
                        self._meter.record(session=session, network=self._network, rule_id=None, reads=verdict.billed,
                                           now=now)
                removed += self._marker.mark(verdict, now)
            for post in removed:
                self._marker.refresh(post)
            return removed
        finally:
            self._lock.release()


def periodic_jobs(networks: Mapping[str, Network], *, engine: Engine, slack: WebClient,
                  clock: Callable[[], datetime], meter: Meter | None = None) -> list[PeriodicJob]:
    """A source check for each network that has one configured."""
    return [PeriodicJob(f"source-check-{name}", SourceCheck(engine=engine, slack=slack, network=name,
                                                            removal=network.removal, clock=clock,
                                                            meter=meter).run_once,
                        SOURCE_CHECK_SECONDS)
            for name, network in networks.items() if network.removal is not None]
