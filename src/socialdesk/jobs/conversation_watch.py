"""Following the conversations of a rule's recent cases: a customer's answer rarely repeats the rule's
keywords, so after a rule is caught up its cases' conversations are searched for follow-ups.

Where each search starts comes from the posts stored (so nothing is lost across restarts); this
object only remembers, per process, which conversations it searched last (they take turns, the
least recently searched first) and how far it read (a hint for the next search's start).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Engine

from socialdesk.networks.base import Network
from socialdesk.store import conversations
from socialdesk.store.db import session_scope

WATCH_WINDOW = timedelta(days=7)  # cases active this recently have their conversations watched (a week of search)
WATCH_CANDIDATES = 500
WATCH_PER_POLL = 26  # conversations searched per poll of a rule (a couple of searches), least recently first
PAGES_PER_WALK = 10  # as a poll's walk (jobs.poll.MAX_PAGES_PER_POLL)

# Stores what a search found as follow-ups only (the poller's, with its retries and billing).
StoreFollowUps = Callable[..., None]  # (rule, posts, *, billed: Sequence[BilledReads]) -> None


class ConversationWatch:
    def __init__(self, *, engine: Engine, clock: Callable[[], datetime], store: StoreFollowUps) -> None:
        self._engine, self._now, self._store = engine, clock, store
        # (network, conversation) -> (monotonic time checked, post id seen up to): rotation and a start hint.
        self._watched: dict[tuple[str, str], tuple[float, str]] = {}

    def follow(self, rule, network: Network) -> None:  # type: ignore[no-untyped-def]
        """Search the conversations of the rule's recent cases; what is found only joins cases."""
        source = network.sources.get("search")
        if source is None or network.follow_ups is None:
            return
        name, newer = network.name, network.info.is_newer
        now, clock = self._now(), time.monotonic()
        with session_scope(self._engine) as session:
            floors = conversations.watched(session=session, rule_id=rule.id, network=name,
                                           active_since=now - WATCH_WINDOW, limit=WATCH_CANDIDATES, is_newer=newer)
        memory = {c: self._watched.get((name, c), (0.0, "")) for c in floors}

        def later(a: str, b: str) -> str:
            return a if not b or (a and newer(a, b)) else b

        chosen = sorted(floors, key=lambda c: memory[c][0])[:WATCH_PER_POLL]
        for walk in network.follow_ups.walks({c: later(floors[c], memory[c][1]) for c in chosen}, now):
            newest, cursor = "", walk.cursor
            for _ in range(PAGES_PER_WALK):
                page = source.fetch(walk.query, cursor)
                for post in page.posts:
                    newest = later(post.external_id, newest)
                self._store(rule, page.posts, billed=page.billed)
                cursor = page.cursor
                if page.done or page.not_before:
                    break
            if not page.done:
                return  # unfinished: these conversations start from the stored posts again next time
            for conversation in walk.conversation_ids:
                self._watched[(name, conversation)] = (clock, later(newest, memory.get(conversation, (0.0, ""))[1]))
            if page.not_before:
                return
        horizon = clock - WATCH_WINDOW.total_seconds()
        self._watched = {k: v for k, v in self._watched.items() if v[0] > horizon}
