"""X's filtered stream: one connection to GET /2/tweets/search/stream, X matching our rules.

The rules live at X (stream_rules.py keeps them in step with `track`); each streamed
post names the rules it matched (`matching_rules`, by tag), so events carry `rule_ids`
and nothing is matched locally. The connection asks for the fields and expansions
recent search asks for, so a streamed post is the same Post a search finds.

The response is newline-delimited JSON (`\\r\\n` between objects) with a blank line as
keep-alive at least every 20 s. A reader thread (stream_lines.py) feeds the bytes to a queue so `events`
can say "tick" every TICK_SECONDS of quiet (the worker looks at its rules) and call a
connection that sent nothing for SILENCE_SECONDS dropped (an httpx read timeout would end
the response for good). Lines with only `errors` (X's operational disconnect) end the
connection as a drop.

X cannot replay its stream (recovery is an Enterprise feature), so the cursor is
`{"since_id": <newest post id seen>}` and after each connect the gap is read with recent
search: every carried query from REWIND before since_id up to the id of the moment of
connecting (ids are times: milliseconds << 22), newest-first pages followed by next_token.
X does not deliver posts in order: one older than the newest seen may still have been on
its way when the connection dropped, hence the rewind; what it reads again is stored once
(the store drops duplicates) and billed once (X and the meter count a post once a UTC day).
A cursor made for a time (`cursor_at`: the worker's searches filled a gap) is not rewound.
The gap's posts come first, with the cursor the connection started from (a crash mid-gap
reads it again), one event per post with every rule that found it; a streamed post the
gap already yielded is skipped. A gap over GAP_PAGES pages for a query, a since_id past
recent search's 7 days, or a search rate limit raise CursorExpired: the worker's own
searches then fill it, with their cursors and leases.

Reconnecting is as X documents it (`reconnect_delay`): network errors back off linearly
by 250 ms up to 16 s, HTTP errors exponentially from 5 s to 320 s, 429 exponentially from
a minute (or until the reset X names, if later).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from socialdesk.domain import Post
from socialdesk.networks.base import (BilledReads, CursorExpired, RateLimited, SourceRejected, SourceUnavailable, StreamEvent,
                                     TrackedRule)
from socialdesk.networks.x.api import error_text, get, json_body, reset_time
from socialdesk.networks.x.billing import POST_READ, USER_READ
from socialdesk.networks.x.parse import parse_search_body, snowflake_at, snowflake_time
from socialdesk.networks.x.search import RECENT_SEARCH_REACH, SEARCH_PATH, TWEET_FIELDS, USER_FIELDS, field_params
from socialdesk.networks.x.stream_lines import Connection, StreamLine, parse_line
from socialdesk.networks.x.stream_rules import StreamRules

log = logging.getLogger(__name__)

STREAM_PATH = "/2/tweets/search/stream"
TOKEN_SETTING = "SOCIALDESK_X_BEARER_TOKEN"
TICK_SECONDS = 2.0
SILENCE_SECONDS = 30.0  # X sends a keep-alive at least every 20 s
GAP_PAGES = 10  # per query, 100 posts a page; past that the worker's searches fill the gap
STALE_AFTER = timedelta(days=6, hours=12)  # recent search reaches 7 days back: leave room to fill
# Posts are "not delivered in sorted order" (refs/x/docs/consuming-streaming-data.mdx) and 99 % arrive within a
# minute of being made (the same page; the filtered stream's P99 is 6-7 s): a post made more than this before the
# newest one seen and still undelivered at a drop is past X's own bound.
REWIND = timedelta(minutes=1)
CONNECT_TIMEOUT = 10.0
STREAM_FIELDS = {"expansions": "author_id", "tweet.fields": TWEET_FIELDS, "user.fields": USER_FIELDS}


# --- errors and X's reconnect policy ----------------------------------------------------


class StreamRefused(SourceRejected):
    """X answered the connection with an HTTP error that needs a person (401, 403, other 4xx)."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


class StreamServerError(SourceUnavailable):
    """X answered the connection with a 5xx (an HTTP error, not a network one: X's backoff differs)."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


NETWORK_STEP, NETWORK_MAX = 0.25, 16.0
HTTP_START, HTTP_MAX = 5.0, 320.0
RATE_START, RATE_MAX = 60.0, 960.0
RESET_MAX = 3600.0  # a reset further off than this is not waited for in one go


def reconnect_delay(error: Exception, failures: int, *, now: datetime | None = None) -> float | None:
    """Seconds before reconnecting after `error`, the `failures`-th in a row, as X documents it.

    None for what X's policy does not cover (a gap handed to the worker's searches, our bugs).
    """
    failures = max(failures, 1)
    if isinstance(error, RateLimited):
        wait = min(RATE_START * 2 ** (failures - 1), RATE_MAX)
        until_reset = (error.reset_at - (now or datetime.now(UTC))).total_seconds()
        return max(wait, min(until_reset, RESET_MAX))
    if isinstance(error, CursorExpired):
        return None
    if isinstance(error, StreamRefused | StreamServerError | SourceRejected):
        return min(HTTP_START * 2 ** (failures - 1), HTTP_MAX)
    if isinstance(error, SourceUnavailable):
        return min(NETWORK_STEP * failures, NETWORK_MAX)
    return None


# --- the Stream ---------------------------------------------------------------------------


class XStream:
    """The `Stream` of X's filtered stream, with an app bearer token."""

    kinds = ("search",)
    matches_rules = True

    def __init__(self, *, http: httpx.Client, api_url: str, bearer_token: str, opt_in: bool = True,
                 tick_seconds: float = TICK_SECONDS, silence_seconds: float = SILENCE_SECONDS,
                 gap_pages: int = GAP_PAGES, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.opt_in = opt_in
        self._http, self._api_url, self._token = http, api_url.rstrip("/"), bearer_token
        self._headers = {"Authorization": f"Bearer {bearer_token}"}
        self._rules = StreamRules(http=http, api_url=api_url, bearer_token=bearer_token)
        self._tick, self._silence, self._gap_pages = tick_seconds, silence_seconds, gap_pages
        self._clock = clock
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._connection: Connection | None = None
        self._synced: dict[str, tuple[int, ...]] | None = None  # what X was last made to carry
        self._refused: dict[int, str] = {}
        self._carried: dict[str, tuple[int, ...]] = {}  # query → rule ids, as X carries them

    # --- the Stream interface -------------------------------------------------------------

    def track(self, rules: Sequence[TrackedRule]) -> dict[int, str]:
        wanted: dict[str, set[int]] = {}
        for rule in rules:
            if rule.kind in self.kinds and rule.rule_id is not None and rule.query.strip():
                wanted.setdefault(rule.query, set()).add(rule.rule_id)
        want = {query: tuple(sorted(ids)) for query, ids in wanted.items()}
        if want != self._synced:  # X is asked only when the rules changed
            self._refused = self._rules.sync(want)
            self._synced = want
            self._carried = {q: kept for q, ids in want.items()
                             if (kept := tuple(i for i in ids if i not in self._refused))}
        return dict(self._refused)

    def reconnect_wait(self, error: Exception, failures: int) -> float | None:
        return reconnect_delay(error, failures, now=self._clock())

    def events(self, cursor: dict[str, Any] | None,
               connected: Callable[[dict[str, Any]], None] = lambda cursor: None) -> Iterator[StreamEvent]:
        """Connect, fill the gap since `cursor` with recent search, then yield what X streams.

        Raises SourceUnavailable (a drop, silence, 5xx), RateLimited (429, too many
        connections), SourceRejected (the token is refused), CursorExpired (a gap longer than
        read here). Ends without raising after close().
        """
        if self._closed.is_set():
            return
        since = str((cursor or {}).get("since_id") or "")
        if since and not since.isdigit():
            raise CursorExpired(f"X's stream cannot resume from {since!r}; the rules' searches fill the gap")
        if since and self._clock() - snowflake_time(since) > RECENT_SEARCH_REACH:
            raise CursorExpired("X's recent search reaches 7 days back, the stream's cursor is older; "
                                "the rules' searches fill the gap")
        connection = self._connect()
        if connection is None:
            return
        try:
            until = snowflake_at(self._clock())  # X ids are times: the gap ends where the stream begins
            start = dict(cursor) if since else {"since_id": str(until)}
            connected(dict(start))
            latest = int(start["since_id"])
            filled: set[str] = set()
            if since:
                for post, rule_ids in self._gap(self._rewound(start), str(until)):
                    filled.add(post.external_id)
                    yield StreamEvent("post", dict(start), post=post, rule_ids=rule_ids, billed=billed(post))
                latest = max(latest, until - 1)
            yield StreamEvent("tick", {"since_id": str(latest)})
            quiet_since = time.monotonic()
            for line in connection.lines(tick=self._tick, silence=self._silence):
                decoded = self._decode(line) if line else None
                if decoded is not None and decoded.disconnect:
                    raise SourceUnavailable(f"X ended the stream: {decoded.disconnect}")
                post = decoded.post if decoded is not None else None
                if post is not None and post.external_id not in filled:
                    latest = max(latest, int(post.external_id))
                    if decoded.rule_ids:  # only other tools' rules matched it: not ours
                        quiet_since = time.monotonic()
                        yield StreamEvent("post", {"since_id": str(latest)}, post=post, rule_ids=decoded.rule_ids,
                                          billed=billed(post))
                        continue
                if time.monotonic() - quiet_since >= self._tick:
                    quiet_since = time.monotonic()
                    yield StreamEvent("tick", {"since_id": str(latest)})
        finally:
            with self._lock:
                if self._connection is connection:
                    self._connection = None
            connection.close()

    def complete(self, posts: Sequence[Post]) -> list[Post]:
        return list(posts)  # the stream carries the author expansion

    def identify(self, handles: Sequence[str]) -> dict[str, str]:
        return {}  # X matches `from:` itself

    def is_stale(self, cursor: dict[str, Any]) -> bool:
        since = str(cursor.get("since_id") or "")
        return since.isdigit() and self._clock() - snowflake_time(since) > STALE_AFTER

    def cursor_at(self, when: datetime) -> dict[str, Any]:
        return {"since_id": str(snowflake_at(when)), "exact": True}  # searched up to then: no rewind

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            connection = self._connection
        if connection is not None:
            connection.end()

    # --- connecting -----------------------------------------------------------------------

    def _connect(self) -> Connection | None:
        url = self._api_url + STREAM_PATH
        # A client of its own: closing it from another thread touches nothing else.
        client = httpx.Client(timeout=httpx.Timeout(CONNECT_TIMEOUT, read=self._silence + 5.0),
                              headers={"User-Agent": "socialdesk (X filtered stream)"})
        try:
            response = client.send(client.build_request("GET", url, params=STREAM_FIELDS, headers=self._headers),
                                   stream=True)
        except httpx.TimeoutException as exc:
            client.close()
            raise SourceUnavailable(f"X's stream did not answer in time ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            client.close()
            raise SourceUnavailable(f"could not reach X's stream: {exc}") from exc
        if response.status_code != 200:
            try:
                response.read()
            except httpx.HTTPError:
                pass
            client.close()
            raise _refusal(response)
        connection = Connection(client, response)
        with self._lock:
            if self._closed.is_set():
                connection.close()
                return None
            self._connection = connection
        log.info("X: connected to the filtered stream")
        return connection

    def _decode(self, line: bytes) -> StreamLine | None:
        try:
            return parse_line(line)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("X stream: skipped a line that is not a post (%s): %.120r", exc, line)
            return None

    # --- the gap since the cursor ---------------------------------------------------------

    def _rewound(self, cursor: dict[str, Any]) -> str:
        """Where the gap's search starts: REWIND before the newest id seen (within search's reach)."""
        since = str(cursor["since_id"])
        if cursor.get("exact"):
            return since
        oldest = self._clock() - RECENT_SEARCH_REACH
        return str(snowflake_at(max(snowflake_time(since) - REWIND, oldest)))

    def _gap(self, since_id: str, until_id: str) -> list[tuple[Post, tuple[int, ...]]]:
        """Posts of the carried queries between the two ids, oldest first, each with every rule that found it."""
        found: dict[str, Post] = {}
        rules: dict[str, set[int]] = {}
        for query, rule_ids in self._carried.items():
            if self._closed.is_set():
                break
            for post in self._search(query, since_id, until_id):
                found.setdefault(post.external_id, post)
                rules.setdefault(post.external_id, set()).update(rule_ids)
        if found:
            log.info("X stream: %d post(s) of the gap read with recent search", len(found))
        return [(found[i], tuple(sorted(rules[i]))) for i in sorted(found, key=int)]

    def _search(self, query: str, since_id: str, until_id: str) -> Iterator[Post]:
        url = self._api_url + SEARCH_PATH
        params: dict[str, Any] = {"query": query, "since_id": since_id, "until_id": until_id, **field_params(100)}
        for _ in range(self._gap_pages):
            try:
                response = get(self._http, url, params, self._headers, what="search of the stream's gap")
            except RateLimited as exc:
                raise CursorExpired(f"X's search limit is spent while filling the stream's gap ({exc}); "
                                    "the rules' searches fill it") from exc
            except CursorExpired:
                raise
            except SourceRejected as exc:  # this query cannot be searched (longer than search allows …)
                log.warning("X stream: the gap of %.60r cannot be searched: %s", query, exc)
                return
            posts, meta, _ = parse_search_body(json_body(response))
            yield from posts
            if not meta.get("next_token"):
                return
            params = {**params, "next_token": meta["next_token"]}
        raise CursorExpired(f"X: more than {self._gap_pages} pages for {query!r} were posted while the stream "
                            "was down; the rules' searches fill the gap")


def billed(post: Post) -> tuple[BilledReads, ...]:
    """What X charges for a streamed (or gap-searched) post: the post, and its author (the one expansion)."""
    author = post.author.external_id
    user = (BilledReads(USER_READ, (author,)),) if author and author != "unknown" else ()
    return (BilledReads(POST_READ, (post.external_id,)), *user)


def _refusal(response: httpx.Response) -> Exception:
    status = response.status_code
    text = error_text(response)
    if status == 429:
        now = datetime.now(UTC)
        if _connection_issue(response) == "TooManyConnections":
            # The slot frees when the other connection ends: the window's reset says nothing about that.
            return RateLimited(f"X's stream allows one connection and another is open: {text}",
                               reset_at=now + timedelta(seconds=RATE_START))
        return RateLimited(f"X's stream: rate limit reached: {text}", reset_at=reset_time(response, now))
    if status in (401, 403):
        return StreamRefused(f"X refused the stream's credentials ({status}: {text}); check {TOKEN_SETTING} "
                             "and the app's access to the filtered stream", status=status)
    if status >= 500:
        return StreamServerError(f"X's stream answered {status}: {text}", status=status)
    return StreamRefused(f"X refused the stream connection ({status}): {text}", status=status)


def _connection_issue(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("connection_issue") or "") if isinstance(body, Mapping) else ""
