"""The conversations a stream watches: so a customer's next post joins its case, matched or not.

The watched set (conversations of cases active within WATCH_WINDOW) is read from the
store again every WATCH_SECONDS; a matched post's conversation is watched at once (its
case may have been opened by search a moment before, so the stream's copy opened
nothing). Replies in conversations not watched yet are kept for REPLIES_KEPT and looked
at again after each read, for cases opened elsewhere (by a poll, on another replica)
just before their customer answered; those that turn out watched are stored as
follow-ups (`Poller.store_follow_ups`).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Engine

from socialdesk.domain import Post
from socialdesk.jobs.poll import Poller
from socialdesk.networks.base import Network
from socialdesk.store import streams as store
from socialdesk.store.db import read_scope

WATCH_SECONDS = 5.0
WATCH_WINDOW = timedelta(days=7)
REPLIES_KEPT = 2 * WATCH_SECONDS + 1.0  # two reads of the watched set: one committed after the first is in the second
REPLIES_KEPT_MAX = 5_000  # a firehose carries tens of replies a second: bounded memory whatever the rate


class WatchedConversations:
    """One network stream's watched conversations, and the replies kept until they may be watched."""

    def __init__(self, *, engine: Engine, network: Network, poller: Poller, clock: Callable[[], datetime]) -> None:
        assert network.stream is not None
        self._engine, self._network, self._poller, self._now = engine, network, poller, clock
        self._stream = network.stream
        self._at = 0.0  # time.monotonic() of the last read of the watched set
        self._watched: set[str] = set()
        self._replies: deque[tuple[float, Post]] = deque(maxlen=REPLIES_KEPT_MAX)  # not watched when they came

    @property
    def name(self) -> str:
        return self._network.name

    def watches(self, post: Post) -> bool:
        """Whether the post is in a conversation watched (as of the last read, or matched since)."""
        return bool(post.conversation_id) and post.conversation_id in self._watched

    def watch(self, conversation_id: str) -> None:
        """Watch a matched post's conversation now, not at the next read (its case may be search's)."""
        self._watched.add(conversation_id)

    def keep(self, post: Post) -> None:
        """Keep a reply not watched yet: its case may be opened elsewhere before the next reads."""
        if post.conversation_id and post.conversation_id != post.external_id:
            self._replies.append((time.monotonic(), post))

    def join_kept(self) -> bool:
        """Read the watched set again when due and store the kept replies it now covers; True when there were any."""
        return self._join(self._watching())

    def _watching(self) -> list[Post]:
        """Read the watched set again when due; the kept replies it now covers (taken out of the keep)."""
        clock = time.monotonic()
        if clock - self._at < WATCH_SECONDS:  # read at call time: tests patch it here
            return []
        with read_scope(self._engine) as session:
            self._watched = store.watched_conversations(session=session, network=self.name,
                                                        active_since=self._now() - WATCH_WINDOW)
        self._at = clock
        late = [post for _, post in self._replies if post.conversation_id in self._watched]
        self._replies = deque(((t, p) for t, p in self._replies  # looked at once more, then given up
                               if p.conversation_id not in self._watched and clock - t <= REPLIES_KEPT),
                              maxlen=REPLIES_KEPT_MAX)
        return late

    def _join(self, posts: list[Post]) -> bool:
        """Store kept replies whose conversations turned out to be watched; True when there were any."""
        if not posts:
            return False
        self._poller.store_follow_ups(self._stream.complete(posts))
        return True
