"""Filling a stream's gap with search: what a dropped stream cannot replay.

When a stream resumes after longer than it can rewind (CursorExpired, or a stale
cursor), `GapFiller` searches what it missed: each carried rule's walk starts where the
stored cursor was and must catch up (`Poller.fill_gap`, under the rule's lease); until
every one has, `fill` raises GapNotFilled and the worker tries again after a backoff,
each walk going on from where it stopped. Then the stream resumes from when the search
began, which it can replay, so nothing between the two is lost. A gap that began longer
ago than the network's search reaches back (`Network.gap_limit`) is recorded on the
stream's row once (source health, an ops alert).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from socialdesk.jobs.poll import Poller
from socialdesk.jobs.stream_rules import StreamRules
from socialdesk.logs import about
from socialdesk.networks.base import Network, SourceUnavailable
from socialdesk.store import streams as store
from socialdesk.store.db import session_scope

log = logging.getLogger("socialdesk.jobs.stream")  # the stream worker's own lines, as before the split

GAP_MARGIN = timedelta(minutes=1)  # search a little before the last stored cursor: clocks differ


class GapNotFilled(SourceUnavailable):
    """Search has not caught up with what the stream missed (a rate limit, an outage): try again later."""


class GapFiller:
    """One network's stream gap: when its search began, and which rules' walks have begun and caught up."""

    def __init__(self, *, engine: Engine, network: Network, poller: Poller, carried: StreamRules,
                 clock: Callable[[], datetime], holder: str, stop: threading.Event) -> None:
        assert network.stream is not None
        self._engine, self._network, self._poller, self._carried, self._now = engine, network, poller, carried, clock
        self._stream = network.stream
        self._holder, self._stop = holder, stop
        self._started: datetime | None = None  # a gap is being filled: search began then
        self._done: set[int] = set()  # rules whose gap walk caught up
        self._tried: set[int] = set()  # rules whose gap walk has begun

    @property
    def name(self) -> str:
        return self._network.name

    @property
    def pending(self) -> bool:
        """Whether a gap is being filled (the stream must not resume until it is)."""
        return self._started is not None

    def begin(self) -> None:
        """A gap to fill: its search begins now, unless one already being filled began earlier."""
        self._started = self._started or self._now()

    def fill(self, *, since: datetime | None) -> dict[str, Any] | None:
        """Search what the stream cannot replay (since its cursor was stored); the cursor to stream from.

        Every rule's walk must catch up (a rate limit or an outage leaves it for the next
        try, after a backoff); then the stream resumes from when the search began, which
        it can replay, so nothing between the two is lost.
        """
        assert self._started is not None
        start = self._network.search_since(since - GAP_MARGIN) if since and self._network.search_since else None
        if since is not None and not self._tried:
            self._note(since)
        rules = self._carried.carried
        for rule_id in list(rules):
            if self._stop.is_set():
                raise SourceUnavailable("stopping")
            if rule_id in self._done:
                continue
            fresh = rule_id not in self._tried  # the first try starts the walk at the gap; later ones go on
            if self._poller.fill_gap(rule_id, start=start if fresh else None):
                self._done.add(rule_id)
            self._tried.add(rule_id)
        missing = set(rules) - self._done
        if missing:
            raise GapNotFilled(f"the gap is not filled yet for rule(s) {', '.join(map(str, sorted(missing)))}")
        resume = self._stream.cursor_at(self._started)
        with session_scope(self._engine) as session:
            store.save_cursor(session=session, network=self.name, holder=self._holder, cursor=resume, now=self._now())
        log.info("%s stream: gap filled by search for %d rule(s)", self.name, len(self._done),
                 extra=about(network=self.name))
        self._started, self._done, self._tried = None, set(), set()
        return resume

    def _note(self, since: datetime) -> None:
        """The gap began longer ago than the network's search reaches back: the posts before that are lost.
        Recorded on the stream's row (source health, an ops alert) once per gap."""
        limit, now = self._network.gap_limit, self._now()
        if limit is None or now - since <= limit:
            return
        with session_scope(self._engine) as session:
            store.record_gap(session=session, network=self.name, start=since, end=now - limit, now=now)
        log.warning("%s stream: down since %s, longer ago than search reaches back (%s): posts before %s cannot be "
                    "read", self.name, since.isoformat(timespec="minutes"), limit,
                    (now - limit).isoformat(timespec="minutes"), extra=about(network=self.name))
