"""Polling one saved search: fetch pages, store them, advance the cursor.

The poller owns backoff, rate-limit waits and cursors (sources only fetch).
Each page is stored together with the cursor that follows it, in one transaction,
so a crash at any point repeats at most one page, and duplicates are dropped.

After a rule is caught up, the conversations of its recent cases are searched for
follow-ups (a customer's answer rarely repeats the rule's keywords). Where each
search starts comes from the posts stored, so nothing is lost across restarts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from socialdesk.domain import Network
from socialdesk.rules import Filters, rejection
from socialdesk.triage import Triage, priority
from socialdesk.networks.base import CursorExpired, RateLimited, Source, SourceError, SourceUnavailable
from socialdesk.store import conversations, ingest
from socialdesk.store import rules as rule_store
from socialdesk.store.db import session_scope

log = logging.getLogger(__name__)

MAX_PAGES_PER_POLL = 10
LEASE_SECONDS = 300
BACKOFF_START = timedelta(seconds=5)
BACKOFF_MAX = timedelta(minutes=15)
REJECTED_RETRY = timedelta(minutes=5)
WATCH_WINDOW = timedelta(days=7)  # cases active this recently have their conversations watched (X: 7-day search)
WATCH_CANDIDATES = 500
WATCH_PER_POLL = 26  # conversations searched per poll of a rule (two X searches), least recently first


def backoff(failures: int) -> timedelta:
    """5 s, 10 s, 20 s … up to 15 minutes."""
    return min(BACKOFF_START * (2 ** max(failures - 1, 0)), BACKOFF_MAX)


class Poller:
    def __init__(
        self,
        *,
        engine: Engine,
        sources: Mapping[Network | tuple[Network, str], Source],
        own_handles: frozenset[str],
        clock: Callable[[], datetime],
        on_new_cases: Callable[[list[int]], None] = lambda ids: None,
        missing_source_hint: Mapping[Network, str] | None = None,
        follow_conversations: bool = False,
        triage: Triage | None = None,
        signed_in_handle: Callable[[], str | None] = lambda: None,
    ) -> None:
        self._engine = engine
        self._sources = sources
        self._own_configured = own_handles
        self._signed_in = signed_in_handle  # the X account replies go out as: ours too
        self._triage = triage
        self._now = clock
        self._on_new_cases = on_new_cases
        self._missing_hint = missing_source_hint or {}
        self._follow = follow_conversations
        # (network, conversation) -> (monotonic time checked, post id seen up to): rotation and a start hint.
        self._watched: dict[tuple[str, str], tuple[float, int]] = {}

    @property
    def _own(self) -> frozenset[str]:
        handle = self._signed_in()
        return self._own_configured | {handle.lower()} if handle else self._own_configured

    def _scores(self, rule, posts) -> dict[str, tuple[float | None, str]]:  # type: ignore[no-untyped-def]
        """Sentiment and priority per post (by external id), from the rule's triage settings."""
        if self._triage is None:
            return {}
        scores = {}
        for post in posts:
            mood = self._triage.sentiment(post.text)
            scores[post.external_id] = (mood, priority(post, keywords=tuple(rule.priority_keywords or ()),
                                                       followers_threshold=rule.priority_followers, sentiment=mood))
        return scores

    def poll_due(self) -> None:
        with session_scope(self._engine) as session:
            due = rule_store.due_rule_ids(session=session, now=self._now())
        for rule_id in due:
            self.poll_rule(rule_id)

    def poll_rule(self, rule_id: int) -> int:
        """Poll one rule if it is due and free; returns how many cases it opened."""
        now = self._now()
        with session_scope(self._engine) as session:
            try:
                rule = rule_store.get_rule(session=session, rule_id=rule_id)
            except rule_store.RuleNotFound:
                return 0  # removed since the scheduler last looked
            # Half the interval: a second replica's timer firing just after ours skips.
            rule = rule_store.take_lease(
                session=session, rule_id=rule_id, now=now, seconds=LEASE_SECONDS, min_gap=rule.every_seconds / 2
            )
        if rule is None:
            return 0
        opened: list[int] = []
        try:
            self._walk(rule, opened)
        except SourceError as exc:
            self._failed(rule.id, rule.consecutive_failures, exc)  # type: ignore[arg-type]
        finally:
            with session_scope(self._engine) as session:
                rule_store.release_lease(session=session, rule_id=rule_id)
        return len(opened)

    def _walk(self, rule, opened: list[int]) -> None:  # type: ignore[no-untyped-def]
        """Fetch and store pages; appends each new case id to `opened` as it is stored."""
        network = Network(rule.network)
        # A (network, kind) entry serves that kind of rule; a bare network serves searches.
        source = self._sources.get((network, rule.kind))
        if source is None and rule.kind == "search":
            source = self._sources.get(network)
        if source is None:
            raise SourceError(self._missing_hint.get(network, f"no source configured for {network.value}"))
        filters = Filters(lang=rule.lang, include_reposts=rule.include_reposts, own_handles=self._own)
        cursor = rule.cursor
        for _ in range(MAX_PAGES_PER_POLL):
            page = source.fetch(rule.query, cursor)
            accepted = [p for p in page.posts if rejection(p, filters) is None]
            now = self._now()
            try:
                case_ids = self._store(rule, accepted, page.cursor, page.not_before, now)
            except IntegrityError:
                # Another worker stored one of these posts a moment ago: store again, skipping it.
                case_ids = self._store(rule, accepted, page.cursor, page.not_before, now)
            opened += case_ids
            if case_ids:
                self._on_new_cases(case_ids)
            if rule.consecutive_failures:
                log.info("rule %s: polling %s recovered", rule.id, network.value)
                rule.consecutive_failures = 0
            for warning in page.warnings:
                log.warning("rule %s: %s returned a partial error: %s", rule.id, network.value, warning)
            cursor = page.cursor
            if page.done or page.not_before:
                break
        if page.done and not page.not_before and self._follow:
            self._follow_conversations(rule, network)

    def _follow_conversations(self, rule, network: Network) -> None:  # type: ignore[no-untyped-def]
        """Search the conversations of the rule's recent cases; what is found only joins cases."""
        source = self._sources.get(network)
        walks_for = getattr(source, "conversation_walks", None)
        if source is None or walks_for is None:
            return
        now, clock = self._now(), time.monotonic()
        with session_scope(self._engine) as session:
            floors = conversations.watched(session=session, rule_id=rule.id, network=network.value,
                                           active_since=now - WATCH_WINDOW, limit=WATCH_CANDIDATES)
        memory = {c: self._watched.get((network.value, c), (0.0, 0)) for c in floors}
        chosen = sorted(floors, key=lambda c: memory[c][0])[:WATCH_PER_POLL]
        for walk in walks_for({c: max(floors[c], memory[c][1]) for c in chosen}, now):
            newest, cursor = int(walk.cursor["since_id"]), walk.cursor
            for _ in range(MAX_PAGES_PER_POLL):
                page = source.fetch(walk.query, cursor)
                newest = max([newest, *(int(p.external_id) for p in page.posts if p.external_id.isdigit())])
                self._store_follow_ups(rule, page.posts)
                cursor = page.cursor
                if page.done or page.not_before:
                    break
            if not page.done:
                return  # unfinished: these conversations start from the stored posts again next time
            for conversation in walk.conversation_ids:
                self._watched[(network.value, conversation)] = (clock, newest)
            if page.not_before:
                return
        horizon = clock - WATCH_WINDOW.total_seconds()
        self._watched = {k: v for k, v in self._watched.items() if v[0] > horizon}

    def _store_follow_ups(self, rule, posts) -> None:  # type: ignore[no-untyped-def]
        for attempt in range(2):
            try:
                with session_scope(self._engine) as session:
                    stored = ingest.store_page(session=session, posts=posts, rule_id=rule.id, channel_id=rule.channel_id,
                                               now=self._now(), own_handles=self._own, follow_ups_only=True)
                break
            except IntegrityError:  # stored by another worker meanwhile: again, skipping it
                if attempt:
                    raise
        if stored.follow_up_post_ids:
            log.info("rule %s: %d follow-up(s) found in watched conversations", rule.id, len(stored.follow_up_post_ids))

    def _store(self, rule, posts, cursor, not_before, now) -> list[int]:  # type: ignore[no-untyped-def]
        with session_scope(self._engine) as session:
            stored = ingest.store_page(
                session=session, posts=posts, rule_id=rule.id, channel_id=rule.channel_id, now=now,
                own_handles=self._own, scores=self._scores(rule, posts),
            )
            rule_store.save_cursor(session=session, rule_id=rule.id, cursor=cursor, not_before=not_before, now=now)
        if stored.follow_up_post_ids:
            log.info("rule %s: %d follow-up(s) joined existing cases", rule.id, len(stored.follow_up_post_ids))
        return stored.new_case_ids

    def _failed(self, rule_id: int, failures_before: int, exc: SourceError) -> None:
        now = self._now()
        with session_scope(self._engine) as session:
            if isinstance(exc, CursorExpired):
                rule_store.reset_cursor_walk(session=session, rule_id=rule_id)
                log.warning("rule %s: %s; restarting the walk from the last seen post", rule_id, exc)
                return
            if isinstance(exc, RateLimited):
                not_before = exc.reset_at
            elif isinstance(exc, SourceUnavailable):
                not_before = now + backoff(failures_before + 1)
            else:
                not_before = now + REJECTED_RETRY
            failures = rule_store.record_failure(
                session=session, rule_id=rule_id, error=str(exc), not_before=not_before, now=now
            )
        # Log the first failure loudly and the rest quietly, like an update coordinator.
        level = logging.WARNING if failures == 1 else logging.DEBUG
        log.log(level, "rule %s: polling failed (%s); next try at %s", rule_id, exc, not_before.isoformat())
