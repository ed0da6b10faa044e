"""The stream worker: one live connection per network, its posts matched locally against every rule.

One replica holds each network's stream (a lease in `streams`, renewed every few
seconds; another replica takes over within LEASE_SECONDS of its death). The worker
owns what the poller owns for polling: backoff, the cursor, logging. A stream only
connects and yields events.

For each event, in order:
- a new post is matched against the network's active search rules (one `RuleIndex`,
  rebuilt when the rules change); a matched post has its author completed (streams may
  carry only an account id), then the rule's filters decide and the poller's store path
  opens its case. A post in a conversation we watch joins that case, matched or not.
- an edit updates nothing yet (cards show the post as first seen);
- a delete of a stored post marks it removed at the source and rewrites its card.
The cursor is stored after what came before it was stored, at most every SAVE_SECONDS
when nothing was stored, so a crash repeats a few seconds of stream (the store drops
duplicates) and loses nothing. Resuming after a gap longer than the stream can rewind
(`Stream.events` raises CursorExpired, or the network says the cursor is stale),
search fills it: every rule is polled once with `gap=True`, then the stream goes live.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from socialdesk.domain import Post
from socialdesk.jobs.poll import Poller
from socialdesk.jobs.removal import RemovalMarker
from socialdesk.matcher import And, FromAuthor, MatchTarget, Not, Or, QueryInvalid, RuleIndex, parse, target_of
from socialdesk.networks.base import CursorExpired, Network, Removal, SourceError, SourceRejected, StreamEvent
from socialdesk.store import ingest
from socialdesk.store import rules as rule_store
from socialdesk.store import streams as store
from socialdesk.store.db import session_scope

log = logging.getLogger(__name__)

LEASE_SECONDS = 30.0  # another replica takes over within this of a holder's death
IDLE_SECONDS = 2.0  # how often a worker without the lease, or without rules, looks again
SAVE_SECONDS = 2.0
RULES_SECONDS = 3.0  # how soon a new or paused rule is seen by the stream
WATCH_SECONDS = 5.0
WATCH_WINDOW = timedelta(days=7)
BACKOFF_START, BACKOFF_MAX = 1.0, 60.0
REJECTED_WAIT = 300.0
GAP_MARGIN = timedelta(minutes=1)  # search a little before the last stored cursor: clocks differ


def backoff(failures: int) -> float:
    """1 s, 2 s, 4 s … up to a minute between reconnects."""
    return min(BACKOFF_START * 2 ** max(failures - 1, 0), BACKOFF_MAX)


class StreamWorker:
    """Runs one network's stream in a thread of its own."""

    def __init__(self, *, engine: Engine, network: Network, poller: Poller, clock: Callable[[], datetime],
                 removed: RemovalMarker | None = None, holder: str | None = None,
                 lease_seconds: float = LEASE_SECONDS) -> None:
        assert network.stream is not None
        self._engine, self._network, self._poller, self._now = engine, network, poller, clock
        self._stream = network.stream
        self._removed = removed
        self._holder = holder or f"{uuid.uuid4().hex[:12]}"
        self._lease_seconds = lease_seconds
        self._renew_every = lease_seconds / 3
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._rules: dict[int, Any] = {}
        self._rules_key: tuple = ()
        self._index = RuleIndex([])
        self._rules_at = self._watch_at = self._saved_at = self._renewed_at = 0.0
        self._watched: set[str] = set()
        self._authors: dict[str, str] = {}  # account id → handle, for the `from:` terms of the rules
        self._live = False  # connected and past any gap: the poller may leave search rules to us
        self._connected = False  # this connection got as far as its first event
        self.events_seen = 0

    @property
    def name(self) -> str:
        return self._network.name

    @property
    def live(self) -> bool:
        return self._live

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"stream-{self.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._stream.close()
        if self._thread is not None:
            self._thread.join(timeout)
        with session_scope(self._engine) as session:
            store.release_lease(session=session, network=self.name, holder=self._holder)

    # --- the loop ---------------------------------------------------------------------

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            self._live = False
            if not self._load_rules(force=True) or not self._take_lease():
                self._stop.wait(IDLE_SECONDS)
                continue
            self._connected = False
            try:
                self._stream_once()
                failures = 0
            except CursorExpired as exc:
                log.warning("%s stream: %s; filling the gap with search", self.name, exc)
                self._fill_gap(reset=True)
            except SourceRejected as exc:
                failures += 1
                self._failed(exc, REJECTED_WAIT)
            except SourceError as exc:
                failures = 1 if self._connected else failures + 1  # a drop after a good connection: at once
                self._failed(exc, backoff(failures) if failures > 1 else 0.0, quiet=failures > 2)
            except Exception:  # noqa: BLE001 - the worker must outlive one bad event; the log says which
                failures += 1
                log.exception("%s stream: unexpected error; reconnecting", self.name)
                self._stop.wait(backoff(failures))

    def _stream_once(self) -> None:
        with session_scope(self._engine) as session:
            state = store.stream_state(session=session, network=self.name)
            cursor = state.cursor if state is not None else None
        stale = getattr(self._stream, "is_stale", None)
        if cursor is not None and stale is not None and stale(cursor):
            log.warning("%s stream: stopped too long ago to resume; filling the gap with search", self.name)
            self._fill_gap(reset=True)
            cursor = None

        def connected(start: dict[str, Any]) -> None:
            self._connected = self._live = True
            with session_scope(self._engine) as session:
                store.record_connection(session=session, network=self.name, holder=self._holder, now=self._now())
                if cursor is None:  # from the live tip: whoever resumes after us starts here
                    store.save_cursor(session=session, network=self.name, holder=self._holder, cursor=start,
                                      now=self._now())
            log.info("%s stream: connected%s", self.name, " (resuming)" if cursor else "")

        for event in self._stream.events(cursor, connected):
            if self._stop.is_set():
                return
            stored = self._handle(event)
            if not self._checkpoint(event.cursor, stored):
                log.warning("%s stream: another replica holds the stream now; stopping here", self.name)
                return

    def _handle(self, event: StreamEvent) -> bool:
        """Act on one event; True when something was stored (the cursor must be saved now)."""
        self.events_seen += 1
        if event.kind == "post" and event.post is not None:
            return self._post(event.post)
        if event.kind == "delete" and event.external_id and self._removed is not None:
            return self._delete(event.external_id)
        return False

    def _post(self, post: Post) -> bool:
        self._load_rules()
        if not self._rules:
            matched = []
        elif post.author.handle:
            matched = self._index.match(target_of(post))
        else:  # the event names only the account id: `from:` rules know theirs
            handle = self._authors.get(post.author.external_id, "")
            matched = self._index.match(MatchTarget.of(post.text, lang=post.lang, author_handle=handle))
        watched = bool(post.conversation_id) and post.conversation_id in self._watching()
        if not matched and not watched:
            return False
        [post] = self._stream.complete([post])
        opened: list[int] = []
        for rule_id in matched:
            opened += self._poller.store_matches(self._rules[rule_id], [post])
        if watched and not matched:
            self._poller.store_follow_ups([post])
        if opened and post.conversation_id:
            self._watched.add(post.conversation_id)
        return True

    def _delete(self, external_id: str) -> bool:
        with session_scope(self._engine) as session:  # reads only: most deletes are of posts we never saw
            known = ingest.known_post_ids(session=session, network=self.name, external_ids=[external_id])
        if not known:
            return False
        assert self._removed is not None
        self._removed.apply(Removal(deleted=[external_id]), self._now())
        return True

    def _checkpoint(self, cursor: dict[str, Any], stored: bool) -> bool:
        """Save the cursor (now if something was stored, else now and then) and renew the lease."""
        clock = time.monotonic()
        if not stored and clock - self._saved_at < SAVE_SECONDS and clock - self._renewed_at < self._renew_every:
            return True
        now = self._now()
        with session_scope(self._engine) as session:
            if clock - self._renewed_at >= self._renew_every:
                if not store.take_lease(session=session, network=self.name, holder=self._holder, now=now,
                                        seconds=self._lease_seconds):
                    return False
                self._renewed_at = clock
            saved = store.save_cursor(session=session, network=self.name, holder=self._holder, cursor=cursor, now=now)
        self._saved_at = clock
        return saved

    # --- rules, conversations, lease, gaps ----------------------------------------------

    def _load_rules(self, *, force: bool = False) -> bool:
        """Rebuild the index when the network's rules changed; False when it has none."""
        clock = time.monotonic()
        if not force and clock - self._rules_at < RULES_SECONDS:
            return bool(self._rules)
        self._rules_at = clock
        with session_scope(self._engine) as session:
            rules = store.streamed_rules(session=session, network=self.name)
        key = tuple(sorted((r.id, r.query, r.channel_id, r.lang, r.include_reposts) for r in rules))
        if key != self._rules_key:
            compiled = []
            for rule in rules:
                try:
                    compiled.append((rule.id, parse(rule.query)))
                except QueryInvalid as exc:
                    log.warning("%s stream: rule %s is not matched: %s", self.name, rule.id, exc)
            self._index = RuleIndex(compiled)
            self._rules_key = key
            handles = sorted({h for _, query in compiled for h in from_handles(query.root)})
            self._authors = {did: handle for handle, did in self._stream.identify(handles).items()} if handles else {}
            log.info("%s stream: matching %d rule(s)", self.name, len(compiled))
        self._rules = {r.id: r for r in rules}
        return bool(rules)

    def _watching(self) -> set[str]:
        clock = time.monotonic()
        if clock - self._watch_at >= WATCH_SECONDS:
            with session_scope(self._engine) as session:
                self._watched = store.watched_conversations(session=session, network=self.name,
                                                            active_since=self._now() - WATCH_WINDOW)
            self._watch_at = clock
        return self._watched

    def _take_lease(self) -> bool:
        with session_scope(self._engine) as session:
            taken = store.take_lease(session=session, network=self.name, holder=self._holder, now=self._now(),
                                     seconds=self._lease_seconds)
        if taken:
            self._renewed_at = time.monotonic()
        return taken

    def _fill_gap(self, *, reset: bool) -> None:
        """Search what the stream cannot replay (since its cursor was stored), then go live from its tip."""
        with session_scope(self._engine) as session:
            state = store.stream_state(session=session, network=self.name)
            since = state.cursor_at if state is not None else None
            if since is not None and self._network.search_since is not None:
                start = self._network.search_since(since.replace(tzinfo=since.tzinfo or UTC) - GAP_MARGIN)
                for rule_id in self._rules:
                    rule_store.reset_cursor_walk(session=session, rule_id=rule_id, cursor=start)
        if since is not None:
            for rule_id in list(self._rules):
                self._poller.poll_rule(rule_id, gap=True)
        if reset:
            with session_scope(self._engine) as session:
                store.save_cursor(session=session, network=self.name, holder=self._holder, cursor=None,
                                  now=self._now())

    def _failed(self, exc: Exception, wait: float, *, quiet: bool = False) -> None:
        self._live = False
        with session_scope(self._engine) as session:
            store.record_connection(session=session, network=self.name, holder=self._holder, now=self._now(),
                                    error=str(exc))
        log.log(logging.DEBUG if quiet else logging.WARNING, "%s stream: %s; reconnecting in %.0f s",
                self.name, exc, wait)
        self._stop.wait(wait)


def from_handles(node: Any) -> set[str]:
    """The handles a query's `from:` terms name."""
    if isinstance(node, FromAuthor):
        return {node.handle}
    if isinstance(node, And | Or):
        return {h for child in node.children for h in from_handles(child)}
    if isinstance(node, Not):
        return from_handles(node.child)
    return set()


def stream_workers(networks: Sequence[Network], *, removed_for: Callable[[str], RemovalMarker],
                   **parts: Any) -> list[StreamWorker]:
    """A worker for each network that has a stream configured."""
    return [StreamWorker(network=network, removed=removed_for(network.name), **parts)
            for network in networks if network.stream is not None]
