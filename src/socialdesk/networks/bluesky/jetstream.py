"""Bluesky's live posts from Jetstream: one WebSocket per deployment, resumable by time_us.

We speak the Jetstream v1 wire (`wss://<instance>/subscribe`): JSON text messages
`{"did", "time_us", "kind": "commit" | "identity" | "account", ...}` (the captured
examples are in fake/golden_v1.jsonl), query parameters `wantedCollections`,
`wantedDids` and `cursor` (unix microseconds). No compression: v1 zstd needs Jetstream's
custom dictionary, and permessage-deflate is never negotiated.

Cursors are `{"time_us": int}`: the newest `time_us` seen so far (never moving back).
On reconnect we ask for `time_us - REWIND`, because (from the Jetstream specs in
../shared/refs/bluesky/jetstream/) delivery is at-least-once, never exactly-once,
cursors are instance-local (switching instances means "rewinding a margin and
re-deduping"), and `time_us` is not monotonic on the wire: the ten captured events are
up to 1.54 s out of order. Replayed events come again; the store dedupes on the post URI.

Every event the server sends moves the cursor, but only posts (create → "post",
update → "update") and their deletes ("delete") matter here. Everything else
(identity, account, other collections) becomes a "tick", at most one per TICK_EVERY of
stream time, so the worker can store its cursor without a write per identity event.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from websockets.exceptions import (
    ConnectionClosed,
    InvalidStatus,
    InvalidURI,
    WebSocketException,
)
from websockets.sync.client import ClientConnection, connect

from socialdesk.domain import Post
from socialdesk.networks.base import (
    CursorExpired,
    RateLimited,
    SourceRejected,
    SourceUnavailable,
    StreamEvent,
    TrackedRule,
)
from socialdesk.networks.bluesky.parse import POST_COLLECTION, at_uri, post_from_record

__all__ = [
    "DEFAULT_URL", "MAX_CURSOR_AGE", "REWIND", "SILENCE_TIMEOUT", "TICK_EVERY",
    "Decoded", "JetstreamStream", "MalformedMessage", "cursor_is_stale", "decode_message", "rewind_cursor",
]

log = logging.getLogger(__name__)

DEFAULT_URL = "wss://jetstream2.us-east.bsky.network/subscribe"

# Resume this far before the stored cursor: more than 3x the 1.54 s disorder seen in the
# captured events, and enough to cover two instances witnessing one event at different times.
REWIND = timedelta(seconds=5)

# How old a stored cursor may be before the gap must be filled by search instead. The
# shipped Jetstream references state no retention period for any instance. What they do
# say: a timestamp cursor below an instance's retention floor is clamped up to the floor
# (the v2 wire announces it with an #info OutdatedCursor frame; v1 says nothing), so an
# older cursor loses events silently. Unconfirmed, we assume a day, well short of the
# few days often quoted for the public instances: past it, search fills the gap.
MAX_CURSOR_AGE = timedelta(hours=24)

# On the real firehose posts arrive several times a second: a minute of nothing is a stall.
# Pass silence_timeout=None (or more) when wantedDids narrows the stream to a few accounts.
SILENCE_TIMEOUT = 60.0

TICK_EVERY = timedelta(seconds=5)  # of stream time, between two "tick" events

# A message larger than this closes the connection, and resuming would hit it again and
# again; records are far smaller (the v2 client reads up to 32 MiB frames, with CBOR).
MAX_MESSAGE_BYTES = 16 * 2**20

_LOG_FIRST_SKIPS = 10  # then one line per 1,000 skipped messages


class MalformedMessage(ValueError):
    """A message that is not a Jetstream event we can read (it is skipped, and counted)."""


@dataclass(frozen=True, slots=True)
class Decoded:
    """One message, understood: kind is "post", "update", "delete" or "tick"."""

    kind: str
    time_us: int
    post: Post | None = None
    external_id: str | None = None


def decode_message(message: str | bytes) -> Decoded:
    """One Jetstream v1 message → what it means for us. Raises MalformedMessage.

    Unknown kinds and collections are ticks (forward compatible, as the specs ask);
    only a post commit has to have the shape we read.
    """
    try:
        data = json.loads(message)
    except (ValueError, TypeError) as exc:  # UnicodeDecodeError is a ValueError
        raise MalformedMessage(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise MalformedMessage(f"not an object: {type(data).__name__}")
    time_us = data.get("time_us")
    if type(time_us) is not int or time_us <= 0:
        if data.get("name") == "OutdatedCursor" or str(data.get("$type", "")).endswith("#info"):
            raise MalformedMessage(f"info frame {data.get('name')!r}: {data.get('message')!r}")
        raise MalformedMessage("no integer time_us")
    commit = data.get("commit")
    if data.get("kind") != "commit" or not isinstance(commit, dict) or commit.get("collection") != POST_COLLECTION:
        if data.get("kind") == "commit" and not isinstance(commit, dict):
            raise MalformedMessage("commit without a commit object")
        return Decoded("tick", time_us)
    did, rkey, operation = data.get("did"), commit.get("rkey"), commit.get("operation")
    if not isinstance(did, str) or not did.startswith("did:") or not isinstance(rkey, str) or not rkey:
        raise MalformedMessage(f"post commit without did/rkey: did={did!r} rkey={rkey!r}")
    if operation == "delete":
        return Decoded("delete", time_us, external_id=at_uri(did, rkey))
    if operation not in ("create", "update"):
        raise MalformedMessage(f"unknown operation {operation!r}")
    record, cid = commit.get("record"), commit.get("cid")
    if not isinstance(record, dict) or not isinstance(cid, str):
        raise MalformedMessage(f"{operation} without a record and cid")
    try:
        post = post_from_record(did=did, rkey=rkey, cid=cid, record=record, author=None,
                                indexed_at=_iso(time_us))
    except (ValueError, TypeError, KeyError, AttributeError) as exc:  # a record of the wrong shape
        raise MalformedMessage(f"unreadable post record: {exc!r}") from exc
    return Decoded("post" if operation == "create" else "update", time_us, post=post)


def rewind_cursor(cursor: dict[str, Any] | None) -> int | None:
    """The `cursor` query value for a stored cursor: its time_us minus REWIND, or None (live tip)."""
    time_us = _time_us(cursor)
    if time_us is None:
        return None
    return max(1, time_us - _us(REWIND))


def cursor_is_stale(cursor: dict[str, Any] | None, now: datetime | None = None) -> bool:
    """Whether resuming from `cursor` may have lost events (older than MAX_CURSOR_AGE)."""
    time_us = _time_us(cursor)
    if time_us is None:
        return False
    now_us = int((now or datetime.now(UTC)).timestamp() * 1_000_000)
    return now_us - time_us > _us(MAX_CURSOR_AGE)


class JetstreamStream:
    """The `Stream` of Bluesky posts from one Jetstream instance.

    `complete(posts)` fills in the authors of matched posts (profiles.Profiles.complete:
    batched getProfiles, cached). `close()` (from any thread) ends the current `events()`
    and every later call: it is for shutdown.
    """

    kinds = ("search",)  # the firehose: every post, matched locally; mentions are polled (notifications)
    opt_in = False
    matches_rules = False

    def __init__(self, url: str = DEFAULT_URL, *, complete: Callable[[Sequence[Post]], list[Post]],
                 resolve_handle: Callable[[str], str | None] = lambda handle: None,
                 dids: Sequence[str] = (), silence_timeout: float | None = SILENCE_TIMEOUT,
                 connect_timeout: float = 10.0, tick_every: timedelta = TICK_EVERY) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("ws", "wss") or not parts.netloc:
            raise ValueError(f"a Jetstream URL is ws:// or wss://…/subscribe, not {url!r}")
        self.url = url
        self._complete = complete
        self._resolve_handle = resolve_handle
        self._dids = list(dids)
        self._silence_timeout = silence_timeout
        self._connect_timeout = connect_timeout
        self._tick_us = _us(tick_every)
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._connection: ClientConnection | None = None
        self.received = 0  # messages read, over this object's life
        self.skipped = 0  # of which malformed or unexpected

    def subscribe_url(self, cursor: dict[str, Any] | None) -> str:
        """The URL `events(cursor)` connects to (rewound cursor, filters)."""
        parts = urlsplit(self.url)
        query = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("wantedCollections", "wantedDids", "cursor")]
        query.append(("wantedCollections", POST_COLLECTION))
        query += [("wantedDids", did) for did in self._dids]
        start = rewind_cursor(cursor)
        if start is not None:
            query.append(("cursor", str(start)))
        return urlunsplit(parts._replace(query=urlencode(query)))

    def events(self, cursor: dict[str, Any] | None,
               connected: Callable[[dict[str, Any]], None] = lambda cursor: None) -> Iterator[StreamEvent]:
        """Connect from `cursor` (None: the live tip) and yield events until the connection ends.

        Raises SourceUnavailable (refused, dropped, silent for silence_timeout, 5xx),
        RateLimited (429), SourceRejected (other 4xx; CursorExpired for CursorTooOld).
        Ends without raising after close(). `connected(cursor)` is called once the handshake is
        done, with where this connection starts (the live tip's time when `cursor` is None).
        """
        if self._closed.is_set():
            return
        connection = self._connect(self.subscribe_url(cursor))
        if connection is None:
            return
        latest = _time_us(cursor) or 0  # the cursor we hand out never moves back
        last_yielded = 0
        try:
            connected(dict(cursor) if cursor else {"time_us": int(time.time() * 1_000_000)})
            while True:
                message = self._receive(connection)
                if message is None:
                    return
                self.received += 1
                try:
                    decoded = decode_message(message)
                except MalformedMessage as exc:
                    self._skip(exc, message)
                    continue
                latest = max(latest, decoded.time_us)
                if decoded.kind == "tick" and last_yielded and latest - last_yielded < self._tick_us:
                    continue
                last_yielded = latest
                yield StreamEvent(decoded.kind, {"time_us": latest}, post=decoded.post,
                                  external_id=decoded.external_id)
        finally:
            with self._lock:
                self._connection = None
            connection.close()

    def track(self, rules: Sequence[TrackedRule]) -> dict[int, str]:
        """Nothing to subscribe to: the firehose carries every post."""
        return {}

    def reconnect_wait(self, error: Exception, failures: int) -> float | None:
        return None  # Jetstream documents no policy: the worker's backoff

    def complete(self, posts: Sequence[Post]) -> list[Post]:
        """The posts with their authors' profiles (events carry only the DID): `complete` given."""
        return self._complete(posts) if posts else []

    def identify(self, handles: Sequence[str]) -> dict[str, str]:
        """Handles → DIDs (commit events carry only the author's DID)."""
        return {h: did for h in handles if (did := self._resolve_handle(h))}

    def cursor_at(self, when: datetime) -> dict[str, Any]:
        return {"time_us": int(when.timestamp() * 1_000_000)}

    def is_stale(self, cursor: dict[str, Any]) -> bool:
        return cursor_is_stale(cursor)

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            connection = self._connection
        if connection is not None:
            connection.close()  # the reader's recv() then raises ConnectionClosedOK

    # --- the connection -----------------------------------------------------------------

    def _connect(self, url: str) -> ClientConnection | None:
        shown = url.split("?", 1)[0]
        try:
            connection = connect(url, compression=None, max_size=MAX_MESSAGE_BYTES,
                                 open_timeout=self._connect_timeout, close_timeout=2,
                                 user_agent_header="socialdesk (Jetstream client)",
                                 legacy=True)  # we own the connection: events() closes it
        except InvalidStatus as exc:
            raise _refusal(shown, exc) from exc
        except InvalidURI as exc:
            raise SourceRejected(f"Jetstream URL {shown!r} is not valid: {exc}") from exc
        except (WebSocketException, OSError, TimeoutError) as exc:  # refused, reset, bad handshake
            raise SourceUnavailable(f"Jetstream {shown}: cannot connect: {exc!r}") from exc
        with self._lock:
            if self._closed.is_set():  # close() came while we were connecting
                connection.close()
                return None
            self._connection = connection
        log.info("Jetstream: connected to %s", url)
        return connection

    def _receive(self, connection: ClientConnection) -> str | bytes | None:
        """The next message; None once close() was called (even if messages are still queued)."""
        if self._closed.is_set():
            return None
        try:
            return connection.recv(timeout=self._silence_timeout)
        except TimeoutError:
            raise SourceUnavailable(f"Jetstream sent nothing for {self._silence_timeout:g} s") from None
        except ConnectionClosed as exc:
            if self._closed.is_set():
                return None
            raise SourceUnavailable(f"Jetstream connection dropped: {exc}") from exc

    def _skip(self, exc: MalformedMessage, message: str | bytes) -> None:
        self.skipped += 1
        if self.skipped <= _LOG_FIRST_SKIPS or self.skipped % 1000 == 0:
            log.warning("Jetstream: skipped message %d of %d (%s): %.120r", self.skipped, self.received, exc, message)


def _refusal(url: str, exc: InvalidStatus) -> Exception:
    status = exc.response.status_code
    body = exc.response.body.decode("utf-8", "replace")[:300] if exc.response.body else ""
    message = f"Jetstream {url} refused the connection: HTTP {status} {body.strip()}".rstrip()
    if status == 429:
        retry_after = exc.response.headers.get("Retry-After", "")
        wait = int(retry_after) if retry_after.isdigit() else 60
        return RateLimited(message, reset_at=datetime.now(UTC) + timedelta(seconds=wait))
    if status == 400 and "CursorTooOld" in body:
        return CursorExpired(message)
    if 400 <= status < 500:
        return SourceRejected(message)
    return SourceUnavailable(message)


def _time_us(cursor: dict[str, Any] | None) -> int | None:
    value = (cursor or {}).get("time_us")
    return value if type(value) is int and value > 0 else None


def _us(delta: timedelta) -> int:
    return int(delta.total_seconds() * 1_000_000)


def _iso(time_us: int) -> str:
    return datetime.fromtimestamp(time_us / 1_000_000, UTC).isoformat().replace("+00:00", "Z")
