"""Mastodon's live posts: one WebSocket to the instance's streaming API, subscribed to what the rules need.

The streaming server lives where `/api/v2/instance` says (`configuration.urls.streaming`,
often another host); `/api/v1/streaming/health` answers "OK" when it is up. One
connection carries several streams (Mastodon's multiplexed WebSocket): we subscribe to
`user:notification` for mentions rules, `hashtag` (tag) for each tag a search rule needs,
and `public` when some search rule is not covered by hashtags (keywords: matched locally
on everything the instance federates). Events: `update` (a new status), `status.update`
(an edit), `delete` (the id of a removed status), `notification` (a mention of the brand).

Mastodon cannot replay a stream. The cursor is `{"since_id": <newest status id seen>}`
(ids are Snowflakes: milliseconds << 16, so one id orders every timeline); after a
(re)connect the gap is read from the REST timelines, after subscribing so nothing falls
between: each tag's timeline and the public one forward with `min_id` (rewound REWIND
for statuses that federated late), mentions newest first back to that time. The server
does not confirm a subscription, so the read waits SETTLE_SECONDS after subscribing, and
a first connection (no cursor) reads from its own start: what came while the
subscriptions were taking effect is not lost. A status read twice is yielded once. Replayed
posts come with the cursor the connection started from, so a crash mid-replay replays
again; the store drops duplicates. A replay of a tag or of the mentions that does not
catch up within REPLAY_PAGES raises CursorExpired: the stream worker fills the gap with
the rules' own searches, then resumes from a cursor for a time, which is not rewound. The
public timeline is read back as far as REPLAY_PAGES only (a busy instance federates more
than that in a minute). While the stream is quiet a "tick" comes every TICK_SECONDS, so the worker
still sees rule changes (and `track` subscribes to them on the open connection).
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI, WebSocketException
from websockets.sync.client import ClientConnection, connect

from socialdesk.domain import Post
from socialdesk.networks.base import (CursorExpired, RateLimited, SourceError, SourceRejected, SourceUnavailable,
                                     StreamEvent, TrackedRule)
from socialdesk.networks.mastodon.api import TOKEN_SETTING, ApiRejected, MastodonApi, parse_time
from socialdesk.networks.mastodon.parse import BadStatus, check_status, is_newer, post_from_status, snowflake_at, time_of
from socialdesk.networks.mastodon.search import branches
from socialdesk.networks.mastodon.threads import Threads
from socialdesk.networks.mastodon.walk import forward_page

log = logging.getLogger(__name__)

PATH = "/api/v1/streaming"
TICK_SECONDS = 2.0
SETTLE_SECONDS = 0.5  # subscriptions are not confirmed: time for the server to act on ours before reading REST
REWIND = timedelta(minutes=1)  # statuses from other servers get ids from their own (earlier) times
REPLAY_PAGES = 10  # per timeline, 40 statuses a page; past that the worker's searches fill the gap
MAX_CURSOR_AGE = timedelta(hours=6)  # older: the gap is too long to read here; the worker searches instead
PAGE = 40  # Mastodon's largest page
MAX_MESSAGE_BYTES = 1 << 20
RECENT_IDS = 10_000  # one status comes once per subscription that carries it (and maybe read by REST): once per connection
NOTIFICATION = ("user:notification",)
PUBLIC = ("public",)


def subscriptions_for(rules: Sequence[TrackedRule]) -> set[tuple[str, ...]]:
    """The streams these rules need: ("user:notification",), ("hashtag", tag), ("public",).

    A search rule reads what its search reads (search.branches): the tags its alternatives
    require, and the public stream for an alternative without one (its words are matched
    locally on everything the instance federates).
    """
    wanted: set[tuple[str, ...]] = set()
    for rule in rules:
        if rule.kind == "mentions":
            wanted.add(NOTIFICATION)
            continue
        try:
            tags, searches = branches(rule.query)
        except SourceRejected:
            continue  # the rule's poll says what is wrong with it
        wanted |= {("hashtag", tag.lower()) for tag in tags}
        if searches:
            wanted.add(PUBLIC)
    return wanted


def _message(action: str, stream: tuple[str, ...]) -> str:
    body = {"type": action, "stream": stream[0]}
    if stream[0] == "hashtag":
        body["tag"] = stream[1]
    return json.dumps(body)


class MastodonStream:
    """The `Stream` of one instance, as the brand account (the token's)."""

    kinds = ("search", "mentions")
    opt_in = False  # every rule is streamed (its hashtags, or the public timeline)
    matches_rules = False  # statuses are matched locally

    def __init__(self, api: MastodonApi, threads: Threads, *, http_get: Callable[[str], Any] | None = None,
                 tick_seconds: float = TICK_SECONDS, connect_timeout: float = 10.0,
                 settle_seconds: float = SETTLE_SECONDS,
                 replay_pages: int = REPLAY_PAGES, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._api, self._threads = api, threads
        self._http_get = http_get
        self._tick, self._connect_timeout, self._replay_pages = tick_seconds, connect_timeout, replay_pages
        self._settle = settle_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._connection: ClientConnection | None = None
        self._wanted: set[tuple[str, ...]] = set()
        self._subscribed: set[tuple[str, ...]] = set()  # on the open connection
        self._recent: OrderedDict[str, None] = OrderedDict()
        self.skipped = 0

    # --- the Stream interface -------------------------------------------------------------

    def track(self, rules: Sequence[TrackedRule]) -> dict[int, str]:
        self._wanted = subscriptions_for(rules)
        with self._lock:
            connection = self._connection
        if connection is not None:
            self._subscribe(connection)
        return {}  # a rule is subscribed to, or matched on the public timeline: none is refused

    def reconnect_wait(self, error: Exception, failures: int) -> float | None:
        return None  # no documented policy: the worker's backoff

    def events(self, cursor: dict[str, Any] | None,
               connected: Callable[[dict[str, Any]], None] = lambda cursor: None) -> Iterator[StreamEvent]:
        """Connect, subscribe, replay the gap since `cursor` from REST, then yield live events.

        Raises SourceUnavailable (unhealthy, refused, dropped), RateLimited (429),
        SourceRejected (the token is refused), CursorExpired (the gap is longer than we read here).
        Ends without raising after close().
        """
        if self._closed.is_set():
            return
        me = self._api.me()["id"]  # mentions are of this account; raises SourceRejected for a bad token
        self._check_health()
        start = dict(cursor) if cursor and cursor.get("since_id") else {"since_id": snowflake_at(self._clock())}
        connection = self._connect()
        if connection is None:
            return
        latest = str(start["since_id"])
        try:
            self._subscribed = set()
            self._recent.clear()  # what the last connection yielded may not have been handled: yield it again
            self._subscribe(connection)
            connected(dict(start))
            if self._closed.wait(self._settle):
                return
            # A cursor the worker made for a time (after its searches filled a gap) is not rewound.
            rewind = bool(cursor and cursor.get("since_id") and not cursor.get("exact"))
            for event in self._replay(str(start["since_id"]), me, rewind=rewind):
                yield StreamEvent("post", dict(start), post=event.post, mention_of=event.mention_of)
            yield StreamEvent("tick", dict(start))
            while True:
                message = self._receive(connection)
                if message is None:
                    return
                if message == "":
                    yield StreamEvent("tick", {"since_id": latest})
                    continue
                event = self._decode(message, me)
                if event is None:
                    continue
                if event.post is not None and is_newer(event.post.external_id, latest):
                    latest = event.post.external_id
                yield StreamEvent(event.kind, {"since_id": latest}, post=event.post,
                                  external_id=event.external_id, mention_of=event.mention_of)
        finally:
            with self._lock:
                self._connection = None
            connection.close()

    def complete(self, posts: Sequence[Post]) -> list[Post]:
        return list(posts)  # statuses carry their accounts

    def identify(self, handles: Sequence[str]) -> dict[str, str]:
        return {}  # posts carry handles: `from:` rules match them as they are

    def cursor_at(self, when: datetime) -> dict[str, Any]:
        return {"since_id": snowflake_at(when), "exact": True}

    def is_stale(self, cursor: dict[str, Any]) -> bool:
        since = time_of(str(cursor.get("since_id") or ""))
        return since is not None and self._clock() - since > MAX_CURSOR_AGE

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            connection = self._connection
        if connection is not None:
            connection.close()

    # --- connecting -----------------------------------------------------------------------

    def _streaming_base(self) -> str:
        return self._api.instance().streaming_url.rstrip("/")

    def _check_health(self) -> None:
        if self._http_get is None:
            return
        url = "http" + self._streaming_base()[len("ws"):] + PATH + "/health"
        try:
            answer = self._http_get(url)
        except Exception as exc:  # noqa: BLE001 - any transport failure: the server is not there
            raise SourceUnavailable(f"Mastodon's streaming server did not answer its health check: "
                                    f"{type(exc).__name__}") from exc
        if answer.status_code != 200:
            raise SourceUnavailable(f"Mastodon's streaming server is not healthy (health check answered "
                                    f"{answer.status_code})")

    def _connect(self) -> ClientConnection | None:
        url = self._streaming_base() + PATH
        try:
            connection = connect(url, additional_headers={"Authorization": f"Bearer {self._api.token}"},
                                 compression=None, max_size=MAX_MESSAGE_BYTES, open_timeout=self._connect_timeout,
                                 close_timeout=2, user_agent_header="socialdesk (Mastodon streaming client)",
                                 legacy=True)  # we own the connection: events() closes it
        except InvalidStatus as exc:
            raise _refusal(url, exc) from exc
        except InvalidURI as exc:
            raise SourceRejected(f"Mastodon's streaming address {url!r} is not valid: {exc}") from exc
        except (WebSocketException, OSError, TimeoutError) as exc:
            raise SourceUnavailable(f"Mastodon streaming {url}: cannot connect: {exc!r}") from exc
        with self._lock:
            if self._closed.is_set():
                connection.close()
                return None
            self._connection = connection
        log.info("Mastodon: connected to %s", url)
        return connection

    def _subscribe(self, connection: ClientConnection) -> None:
        wanted = set(self._wanted)
        try:
            for stream in sorted(self._subscribed - wanted):
                connection.send(_message("unsubscribe", stream))
            for stream in sorted(wanted - self._subscribed):
                connection.send(_message("subscribe", stream))
        except ConnectionClosed:
            return  # the reader sees the drop and reconnects, subscribing again
        if wanted != self._subscribed:
            log.info("Mastodon: streaming %s", ", ".join(":".join(s) for s in sorted(wanted)) or "nothing")
        self._subscribed = wanted

    def _receive(self, connection: ClientConnection) -> str | None:
        """The next message; "" after TICK_SECONDS of quiet; None once close() was called."""
        if self._closed.is_set():
            return None
        try:
            message = connection.recv(timeout=self._tick)
        except TimeoutError:
            return ""
        except ConnectionClosed as exc:
            if self._closed.is_set():
                return None
            raise SourceUnavailable(f"Mastodon streaming connection dropped: {exc}") from exc
        return message if isinstance(message, str) else message.decode("utf-8", "replace")

    # --- reading events -------------------------------------------------------------------

    def _decode(self, message: str, me: str) -> StreamEvent | None:
        try:
            data = json.loads(message)
            event, payload = data["event"], data.get("payload")
            streams = data.get("stream") or []
            if event == "delete":
                return StreamEvent("delete", {}, external_id=str(payload))
            if event not in ("update", "status.update", "notification"):
                return None  # filters_changed, announcements, conversations: nothing for us
            body = json.loads(payload) if isinstance(payload, str) else payload
            if event == "notification":
                if body.get("type") != "mention" or not isinstance(body.get("status"), Mapping):
                    return None
                return self._post_event("post", body["status"], mention=True, me=me, public=False)
            kind = "post" if event == "update" else "update"
            return self._post_event(kind, body, mention=False, me=me, public=bool(streams) and
                                    streams[0] in ("public", "public:local", "public:remote"))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:  # BadStatus is a TypeError
            self._skip("streaming message", exc)
            return None

    def _skip(self, what: str, exc: Exception) -> None:
        """Count a message or status not read; the log says why, never the post's text."""
        self.skipped += 1
        if self.skipped <= 20 or self.skipped % 1000 == 0:
            log.warning("Mastodon: skipped %s (%d so far): %s: %.200s", what, self.skipped, type(exc).__name__, exc)

    def _post_event(self, kind: str, status: Mapping[str, Any], *, mention: bool, me: str,
                    public: bool) -> StreamEvent | None:
        check_status(status)  # before its thread is asked for
        status_id = str(status["id"])
        if kind == "post":
            key = f"{'m' if mention else 's'}{status_id}"  # a mention must reach the mentions rules too
            if key in self._recent:
                return None
            self._recent[key] = None
            if len(self._recent) > RECENT_IDS:
                self._recent.popitem(last=False)
        return StreamEvent(kind, {}, post=self._post(status, public=public), mention_of=me if mention else None)

    def _post(self, status: Mapping[str, Any], *, public: bool = False) -> Post:
        """The post, its conversation the thread's root (asked of the instance unless it is the firehose)."""
        shown = status.get("reblog") if isinstance(status.get("reblog"), Mapping) else status
        if shown.get("in_reply_to_id"):
            root = self._threads.known_root(shown) if public else self._threads.root_of(shown)
            reset = self._api.spent_until()
            if not public and reset is not None and self._threads.known_root(shown) is None:
                # The thread could not be asked: filed under its parent, the reply would miss its case
                # for good. Wait for the budget instead; the replay after it reads the reply again.
                raise RateLimited(f"Mastodon's rate limit is spent until {reset.isoformat()}; the thread of "
                                  f"status {shown['id']} is read after it", reset_at=reset)
        else:
            root = str(shown["id"])
        if root:
            self._threads.remember(str(shown["id"]), root)
        host = self._api.instance().domain
        return post_from_status(status, instance_host=host, conversation_id=root or None)

    # --- the gap since the cursor ---------------------------------------------------------

    def _replay(self, since_id: str, me: str, *, rewind: bool) -> Iterator[StreamEvent]:
        """What the subscribed timelines got since `since_id` (REWIND earlier when resuming), once each."""
        since = (time_of(since_id) or self._clock()) - (REWIND if rewind else timedelta(0))
        floor = snowflake_at(since)
        for stream in sorted(self._subscribed):
            if stream == NOTIFICATION:
                statuses: Iterator[Mapping[str, Any]] = self._mentions_since(since)
            else:
                path = (f"/api/v1/timelines/tag/{stream[1]}" if stream[0] == "hashtag"
                        else "/api/v1/timelines/public")
                statuses = self._timeline_since(path, floor, expire=stream != PUBLIC)
            for status in statuses:
                try:
                    event = self._post_event("post", status, mention=stream == NOTIFICATION, me=me,
                                             public=stream == PUBLIC)
                except BadStatus as exc:  # the rest of the timeline is read; a network error still stops it
                    self._skip(f"status {status.get('id')!s:.40} of {':'.join(stream)}", exc)
                    continue
                if event is not None:
                    yield event

    def _timeline_since(self, path: str, floor: str, *, expire: bool = True) -> Iterator[Mapping[str, Any]]:
        """Statuses after `floor`, oldest first, forward with min_id (a tag never used: none).

        Past REPLAY_PAGES: CursorExpired (`expire`), or, for the public timeline, a warning: a
        busy instance federates more in a minute than can be read back, and keyword rules are
        matched on what the stream carries from now on (the README says so).
        """
        min_id: str | None = floor
        for _ in range(self._replay_pages):
            try:
                page = forward_page(self._api, path, min_id=min_id, limit=PAGE)
            except ApiRejected as exc:
                if exc.status == 404:  # Mastodon's answer for a tag nobody used yet
                    return
                raise
            yield from page.items
            if not page.more:
                return
            min_id = page.min_id
        if not expire:
            log.warning("Mastodon: more than %d pages of %s came while the stream was down; keyword rules "
                        "miss the rest of that gap", self._replay_pages, path)
            return
        raise CursorExpired(f"Mastodon: more than {self._replay_pages} pages of {path} were posted while the "
                            "stream was down; the rules' searches fill the gap")

    def _mentions_since(self, since: datetime) -> Iterator[Mapping[str, Any]]:
        """Mentions made since `since`, oldest first (notification ids are not times: read back by date)."""
        found: list[Mapping[str, Any]] = []
        params: dict[str, str] = {"types[]": "mention", "limit": str(PAGE)}
        for _ in range(self._replay_pages):
            answer = self._api.get("/api/v1/notifications", params)
            page = [n for n in (answer.json or []) if isinstance(n, Mapping) and isinstance(n.get("status"), Mapping)]
            made = [(parse_time(n.get("created_at")) or since, n) for n in page]
            found += [n["status"] for at, n in made if at >= since and n.get("type") == "mention"]
            older = answer.links.get("next", {}).get("max_id")
            if not page or not older or min(at for at, _ in made) < since:
                break
            params = {"types[]": "mention", "limit": str(PAGE), "max_id": older}
        else:
            raise CursorExpired(f"Mastodon: more than {self._replay_pages} pages of mentions came while the stream "
                                "was down; the mentions rules' polls fill the gap")
        yield from sorted(found, key=lambda s: int(s["id"]) if str(s.get("id")).isdigit() else -1)  # -1: skipped later


def _refusal(url: str, exc: InvalidStatus) -> SourceError:
    status = exc.response.status_code
    body = exc.response.body.decode("utf-8", "replace")[:300].strip() if exc.response.body else ""
    message = f"Mastodon streaming {url} refused the connection: HTTP {status} {body}".rstrip()
    if status == 429:
        return RateLimited(message, reset_at=datetime.now(UTC) + timedelta(seconds=60))
    if status in (401, 403):
        return SourceRejected(f"{message}: check {TOKEN_SETTING} (a token of the brand account with the read scope)")
    if 400 <= status < 500:
        return SourceRejected(message)
    return SourceUnavailable(message)
