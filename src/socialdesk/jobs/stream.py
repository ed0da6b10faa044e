"""The stream worker: one live connection per network, its posts matched to the rules it carries.

One replica holds each network's stream (a lease in `streams`, renewed every few
seconds; another replica takes over within LEASE_SECONDS of its death). The worker
owns what the poller owns for polling: backoff, the cursor, logging. A stream only
connects and yields events.

Which rules the stream carries, and which of them a post belongs to, is `StreamRules`
(jobs/stream_rules.py): matched locally, or tagged by a network that matches its rules itself.

For each event, in order:
- a new post goes to the rules it matched; a matched post has its author completed (streams may
  carry only an account id), then the rule's filters decide and the poller's store path opens its
  case. A post in a conversation we watch joins that case, matched or not (jobs/stream_watch.py).
- a post that came as a mention of our account (`mention_of`) goes to the mentions
  rules naming that account (streams whose `kinds` include "mentions");
- an edit of a stored post rewrites its text and its card (or thread message);
- a delete of a stored post marks it removed at the source and rewrites its card.
An event whose handling fails with anything but a database, Slack or network error
(`NOT_THE_EVENT`) is skipped, logged by its id and counted: resuming from the cursor would
only meet it again. Those errors stop the connection instead, and it resumes from the cursor.
The cursor is stored after what came before it was stored, at most every SAVE_SECONDS
when nothing was stored, so a crash repeats a few seconds of stream (the store drops
duplicates) and loses nothing. Resuming after a gap longer than the stream can rewind
(`Stream.events` raises CursorExpired, or the stream says the cursor is stale), search
fills it (`GapFiller`, jobs/stream_gaps.py): each rule's walk starts where the stored
cursor was and must catch up (`Poller.fill_gap`, under the rule's lease); then the
stream resumes from when that search began. A heartbeat thread renews the lease
whatever the stream is doing; card refreshes for deletions go to Slack from a thread
of their own.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import httpx
from slack_sdk.errors import SlackClientError
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from socialdesk.domain import Post
from socialdesk.logs import about
from socialdesk.jobs.edits import EditMarker
from socialdesk.jobs.poll import Poller
from socialdesk.jobs.removal import RemovalMarker
from socialdesk.jobs.stream_gaps import GapFiller, GapNotFilled
from socialdesk.jobs.stream_rules import StreamRules
from socialdesk.jobs.stream_watch import WatchedConversations
from socialdesk.metrics import Metrics
from socialdesk.networks.base import (BilledReads, CursorExpired, Network, NetworkError, RateLimited, Removal,
                                     SourceError, SourceRejected, StreamEvent)
from socialdesk.store import ingest
from socialdesk.store import streams as store
from socialdesk.store.db import as_utc, read_scope, session_scope

log = logging.getLogger(__name__)

LEASE_SECONDS = 20.0  # another replica takes over within this (and IDLE_SECONDS) of a holder's death: under 30 s
IDLE_SECONDS = 2.0  # how often a worker without the lease, or without rules, looks again
# A connection that delivered only ticks (some streams tick right after connecting) is good
# once it has lasted this long: one that keeps dropping at once backs off instead.
GOOD_CONNECTION_SECONDS = 30.0
SAVE_SECONDS = 2.0
BACKOFF_START, BACKOFF_MAX = 1.0, 60.0
REJECTED_WAIT = 300.0
RATE_LIMIT_MAX_WAIT = 900.0
# What handling an event may fail with that is not the event's fault: the worker stops and resumes
# from the cursor, so the event is handled again once the database, Slack or the network is back.
# Anything else is the event (or our code meeting it) and is skipped: retrying would meet it forever.
NOT_THE_EVENT = (SQLAlchemyError, NetworkError, SlackClientError, httpx.HTTPError, OSError)


def backoff(failures: int) -> float:
    """1 s, 2 s, 4 s … up to a minute between reconnects."""
    return min(BACKOFF_START * 2 ** max(failures - 1, 0), BACKOFF_MAX)


class StreamWorker:
    """Runs one network's stream in a thread of its own."""

    def __init__(self, *, engine: Engine, network: Network, poller: Poller, clock: Callable[[], datetime],
                 removed: RemovalMarker | None = None, edited: EditMarker | None = None,
                 holder: str | None = None, lease_seconds: float = LEASE_SECONDS,
                 metrics: Metrics | None = None) -> None:
        assert network.stream is not None
        self._engine, self._network, self._poller, self._now = engine, network, poller, clock
        self._metrics = metrics or Metrics()
        self._stream = network.stream
        self._removed, self._edited = removed, edited
        self._holder = holder or f"{uuid.uuid4().hex[:12]}"
        self._lease_seconds = lease_seconds
        self._stop = threading.Event()
        self._held = threading.Event()  # we hold the lease (the heartbeat keeps it, or clears this)
        self._thread: threading.Thread | None = None
        self._heartbeat: threading.Thread | None = None
        # Card refreshes for deletions go through Slack (paced, retried): not on the stream's thread.
        self._slack_work = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"stream-{network.name}-slack")
        self._carried = StreamRules(engine=engine, network=network.name, stream=self._stream, clock=clock,
                                    leave_out=poller.paused_by_budget if network.billing is not None else None)
        self._saved_at = 0.0
        self._saved_cursor: dict[str, Any] | None = None  # what the last save stored (saving it again says nothing)
        self._watch = WatchedConversations(engine=engine, network=network, poller=poller, clock=clock)
        self._gaps = GapFiller(engine=engine, network=network, poller=poller, carried=self._carried, clock=clock,
                               holder=self._holder, stop=self._stop)
        self._got_event = False  # this connection delivered something (a drop after that retries at once)
        self._connected_at = 0.0  # time.monotonic() when this connection came up
        # Where a first connection began (the live tip), kept before it is stored: a retry after
        # storing it failed resumes there, not at a later tip (what came between would be lost).
        self._began_at: dict[str, Any] | None = None
        self.events_seen = 0
        # The newest post time seen (never ahead of our clock): stream lag is now minus this.
        self._newest_at: datetime | None = None

    @property
    def holds_lease(self) -> bool:
        """Whether this replica holds the network's stream right now."""
        return self._held.is_set()

    @property
    def newest_event_at(self) -> datetime | None:
        """When the newest post this worker has seen was made (capped at now): what stream lag is counted from."""
        return self._newest_at

    @property
    def name(self) -> str:
        return self._network.name

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"stream-{self.name}", daemon=True)
        self._heartbeat = threading.Thread(target=self._beat, name=f"stream-{self.name}-lease", daemon=True)
        self._thread.start()
        self._heartbeat.start()

    def stop_soon(self) -> None:
        """Ask the worker to stop, without waiting for it (`stop` waits): a stop can tell every worker at once."""
        if not self._stop.is_set():
            self._stop.set()
            self._stream.close()

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop within `timeout`; the lease is given up only once the thread has ended."""
        self.stop_soon()
        deadline = time.monotonic() + timeout
        for thread in (self._thread, self._heartbeat):
            if thread is not None:
                thread.join(max(0.0, deadline - time.monotonic()))
        ended = not any(t is not None and t.is_alive() for t in (self._thread, self._heartbeat))
        self._slack_work.shutdown(wait=False, cancel_futures=True)
        if ended:
            with session_scope(self._engine) as session:
                store.release_lease(session=session, network=self.name, holder=self._holder)
            self._held.clear()
        return ended

    # --- the loop ---------------------------------------------------------------------

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            wait = 0.0
            try:
                if not self._carried.load(force=True, tell=False) or not self._take_lease():
                    wait = IDLE_SECONDS
                elif not self._load_rules(force=True):
                    wait = IDLE_SECONDS
                else:
                    self._got_event = False
                    try:
                        self._stream_once()
                    finally:
                        self._connected_at = 0.0  # no connection up now
                    failures = 0
            except CursorExpired as exc:
                self._metrics.network_error(self.name, exc)
                log.warning("%s stream: %s; filling the gap with search", self.name, exc,
                            extra=about(network=self.name))
                self._gaps.begin()
                failures += 1
                wait = backoff(failures) if failures > 1 else 0.0  # at once, but never in a tight loop
            except RateLimited as exc:
                failures += 1
                wait = self._failed(exc, failures, min(max((exc.reset_at - self._now()).total_seconds(),
                                                           BACKOFF_START), RATE_LIMIT_MAX_WAIT))
            except SourceRejected as exc:
                failures += 1
                wait = self._failed(exc, failures, REJECTED_WAIT)
            except SourceError as exc:
                failures = 1 if self._got_event else failures + 1  # a drop after a good while: soon
                wait = self._failed(exc, failures, backoff(failures), quiet=failures > 2)
            except Exception as exc:  # noqa: BLE001 - the worker outlives one bad event or a database hiccup
                self._metrics.network_error(self.name, exc)
                failures += 1
                log.exception("%s stream: unexpected error; starting again", self.name, extra=about(network=self.name))
                wait = backoff(failures)
            self._stop.wait(wait)

    def _beat(self) -> None:
        """Renew the lease every third of its length, whatever the stream is doing; and see a quiet
        connection that has held long enough as good (a stream may send nothing for a long while)."""
        while not self._stop.wait(self._lease_seconds / 3):
            if not self._held.is_set():
                continue
            try:
                if not self._renew():
                    log.warning("%s stream: another replica holds the stream now; stopping here", self.name,
                                extra=about(network=self.name))
                    self._held.clear()
                up = self._connected_at
                if up and not self._got_event and time.monotonic() - up >= GOOD_CONNECTION_SECONDS:
                    self._proved_good()
            except Exception:  # noqa: BLE001 - a missed renewal is retried; the lease outlasts two of them
                log.exception("%s stream: could not renew the lease", self.name, extra=about(network=self.name))

    def _proved_good(self) -> None:
        """This connection delivered a post or held for a good while: a drop after this is a new incident
        (retried soon), and the failing run, if any, is over (source health)."""
        self._got_event = True
        with session_scope(self._engine) as session:
            store.record_healthy(session=session, network=self.name, holder=self._holder)

    def _stream_once(self) -> None:
        with session_scope(self._engine) as session:
            state = store.stream_state(session=session, network=self.name)
            cursor = state.cursor if state is not None else None
            cursor_at = state.cursor_at if state is not None else None
        self._saved_cursor = dict(cursor) if cursor is not None else None
        if cursor is None and self._began_at is not None:
            cursor = dict(self._began_at)
        if cursor is None:  # a first connection: from the rules' last polls, so nothing between is lost
            polled = [as_utc(r.last_polled_at) for r in self._carried.carried.values() if r.last_polled_at is not None]
            cursor = self._stream.cursor_at(min(polled)) if polled else None
        if cursor is not None and self._stream.is_stale(cursor) and not self._gaps.pending:
            log.warning("%s stream: stopped too long ago to resume; filling the gap with search", self.name,
                        extra=about(network=self.name))
            self._gaps.begin()
        if self._gaps.pending:
            cursor = self._gaps.fill(since=as_utc(cursor_at) if cursor_at else None)

        def connected(start: dict[str, Any]) -> None:
            self._connected_at = time.monotonic()
            if cursor is None:
                self._began_at = dict(start)
            with session_scope(self._engine) as session:
                store.record_connection(session=session, network=self.name, holder=self._holder, now=self._now())
                if cursor is None:  # from the live tip: whoever resumes after us starts here
                    store.save_cursor(session=session, network=self.name, holder=self._holder, cursor=start,
                                      now=self._now())
            log.info("%s stream: connected%s", self.name, " (resuming)" if cursor else "",
                     extra=about(network=self.name))

        for event in self._stream.events(cursor, connected):
            if self._stop.is_set():
                return
            if not self._held.is_set():
                log.warning("%s stream: the lease was lost; reconnecting when it is ours again", self.name,
                            extra=about(network=self.name))
                return
            if not self._got_event and (event.kind != "tick"
                                        or time.monotonic() - self._connected_at >= GOOD_CONNECTION_SECONDS):
                self._proved_good()
            try:
                stored = self._handle(event)
            except NOT_THE_EVENT:
                raise
            except Exception as exc:  # noqa: BLE001 - one event we cannot handle must not stall the stream
                self._skip(event, exc)
                stored = False
            if not self._checkpoint(event.cursor, stored):
                log.warning("%s stream: another replica holds the stream now; stopping here", self.name,
                            extra=about(network=self.name))
                self._held.clear()
                return

    def _load_rules(self, *, force: bool = False) -> bool:
        """The carried rules, read again when due; a rule the stream just began to carry is searched
        from where its polling stopped (the poller left it as soon as it was marked, before the stream
        had it). One not caught up yet (a rate limit) is tried again at the next load."""
        carried = self._carried.load(force=force)
        for rule_id in sorted(self._carried.newly_carried):
            if self._stop.is_set():
                break
            if self._poller.fill_gap(rule_id, start=None):
                self._carried.newly_carried.discard(rule_id)
                log.info("%s stream: rule %s is carried now; searched from where its polling stopped",
                         self.name, rule_id, extra=about(network=self.name, rule_id=rule_id))
        return carried

    def _handle(self, event: StreamEvent) -> bool:
        """Act on one event; True when something was stored (the cursor must be saved now)."""
        self.events_seen += 1
        if event.post is not None:
            self._seen(event.post, new=event.kind == "post")
        if event.kind == "post" and event.post is not None:
            return self._post(event.post, mention_of=event.mention_of, rule_ids=event.rule_ids, billed=event.billed)
        if event.billed:
            self._poller.bill(self.name, None, event.billed)
        if event.kind == "update" and event.post is not None and self._edited is not None:
            return self._update(event.post)
        if event.kind == "delete" and event.external_id and self._removed is not None:
            return self._delete(event.external_id)
        if event.kind == "tick":
            self._load_rules()  # a quiet stream still sees new and paused rules (and subscribes to them)
            return self._watch.join_kept()  # and kept replies whose case was opened meanwhile
        return False

    def _skip(self, event: StreamEvent, exc: Exception) -> None:
        """Count and log an event skipped; its id and where it failed, not the error's text (it may quote the post)."""
        self._metrics.stream_event_skipped(self.name, exc)
        frames = traceback.extract_tb(exc.__traceback__)
        where = f" at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}" if frames else ""
        event_id = event.post.external_id if event.post is not None else event.external_id
        log.error("%s stream: skipped %s event %.200s: %s%s", self.name, event.kind, event_id, type(exc).__name__, where,
                  extra=about(network=self.name))

    def _seen(self, post: Post, *, new: bool) -> None:
        """Count a new post and keep the newest post time (a post dated ahead of our clock counts as now)."""
        made = min(as_utc(post.created_at), self._now())
        if self._newest_at is None or made > self._newest_at:
            self._newest_at = made
        if new:
            self._metrics.fetched(self.name, None, 1, via="stream")

    def _post(self, post: Post, *, mention_of: str | None = None, rule_ids: Sequence[int] | None = None,
              billed: Sequence[BilledReads] = ()) -> bool:
        self._load_rules()
        matched = self._carried.match(post, mention_of=mention_of, rule_ids=rule_ids)
        if billed:  # charged to the first rule it matched (the network bills it once, whichever asked)
            self._poller.bill(self.name, matched[0] if matched else None, billed)
        joined = self._watch.join_kept()
        watched = self._watch.watches(post)
        if not matched and not watched:
            self._watch.keep(post)  # a reply, if it is one: its case may yet be opened elsewhere
            return joined
        [post] = self._stream.complete([post])
        opened: list[int] = []
        for rule_id in matched:
            opened += self._poller.store_matches(self._carried.carried[rule_id], [post])
        if watched and not opened:  # a customer's answer, whether or not a rule's words (and filters) took it
            self._poller.store_follow_ups([post])
        if matched and post.conversation_id:  # opened now, or stored by search a moment ago
            self._watch.watch(post.conversation_id)
        return True

    def _update(self, post: Post) -> bool:
        assert self._edited is not None
        [post] = self._stream.complete([post])
        edited = self._edited.mark(post, self._now())
        if edited is None:
            return False
        self._slack_work.submit(self._edited.refresh, edited, post)
        return True

    def _delete(self, external_id: str) -> bool:
        with read_scope(self._engine) as session:  # most deletes are of posts we never saw: no write lock
            known = ingest.known_post_ids(session=session, network=self.name, external_ids=[external_id])
        if not known:
            return False
        assert self._removed is not None
        for post in self._removed.mark(Removal(deleted=[external_id]), self._now()):
            self._slack_work.submit(self._removed.refresh, post)
        return True

    def _checkpoint(self, cursor: dict[str, Any], stored: bool) -> bool:
        """Save the cursor: at once after something was stored, else now and then."""
        clock = time.monotonic()
        if cursor == self._saved_cursor:
            return True  # saving it again would only move cursor_at, where a gap search would start
        if not stored and clock - self._saved_at < SAVE_SECONDS:
            return True
        with session_scope(self._engine) as session:
            saved = store.save_cursor(session=session, network=self.name, holder=self._holder, cursor=cursor,
                                      now=self._now())
        self._saved_at, self._saved_cursor = clock, dict(cursor)
        return saved

    def _take_lease(self) -> bool:
        if self._held.is_set():
            return True
        if self._renew():
            self._held.set()
            return True
        return False

    def _renew(self) -> bool:
        with session_scope(self._engine) as session:
            return store.take_lease(session=session, network=self.name, holder=self._holder, now=self._now(),
                                    seconds=self._lease_seconds)

    def _failed(self, exc: Exception, failures: int, wait: float, *, quiet: bool = False) -> float:
        """Log the failure, note it for whoever looks (and for the poller: not live); the wait.

        The network's own reconnect policy, where it documents one (`Stream.reconnect_wait`),
        else `wait`, at least BACKOFF_START."""
        # The network's policy is for its connections; a gap search not done yet is ours to pace.
        documented = None if isinstance(exc, GapNotFilled) else self._stream.reconnect_wait(exc, failures)
        wait = documented if documented is not None else max(wait, BACKOFF_START)
        if not isinstance(exc, GapNotFilled):  # the gap's searches count their own failures (the poller's)
            self._metrics.network_error(self.name, exc)
            if isinstance(exc, RateLimited):
                self._metrics.rate_limit_wait(self.name, wait)
        log.log(logging.DEBUG if quiet else logging.WARNING, "%s stream: %s; reconnecting in %.3g s",
                self.name, exc, wait)
        try:
            with session_scope(self._engine) as session:
                store.record_connection(session=session, network=self.name, holder=self._holder, now=self._now(),
                                        error=str(exc))
        except Exception:  # noqa: BLE001 - the database may be what failed; the log has it
            log.exception("%s stream: could not record the failure", self.name, extra=about(network=self.name))
        return wait


def stream_workers(networks: Sequence[Network], *, removed_for: Callable[[str], RemovalMarker],
                   edited: EditMarker | None = None, **parts: Any) -> list[StreamWorker]:
    """A worker for each network that has a stream configured."""
    return [StreamWorker(network=network, removed=removed_for(network.name), edited=edited, **parts)
            for network in networks if network.stream is not None]
