"""The one interface every network implements.

A network is a package under `socialdesk.networks`; nothing outside those packages
names one. The rest of the code sees a `Network`: what it is called and how it counts
text (`NetworkInfo`, pure), and the parts it has when configured (sources by kind, a
stream, a replier, a removal check, a follow-up search). The errors they raise are in
networks/errors.py.

The poller and the stream worker own scheduling, backoff, cursors and logging; a source
only fetches one page (or streams until its connection drops). Cursors are opaque to
them: a dict of JSON values the network alone reads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from socialdesk.domain import Post

# The errors moved to networks/errors.py; re-exported so every `from socialdesk.networks.base import` still works.
from socialdesk.networks.errors import (  # noqa: F401  (re-exported)
    AuthError,
    AuthMissing,
    AuthRefused,
    AuthUnavailable,
    CursorExpired,
    NetworkError,
    RateLimited,
    ReplyFailed,
    SourceError,
    SourceRejected,
    SourceUnavailable,
)

# --- what a network fetches -------------------------------------------------------------


@dataclass(frozen=True)
class BilledReads:
    """Resources a network bills for, as one request returned them (or one write made).

    `kind` is a key of the network's `Billing.rates` ("post", "user", …, the network's own
    names); `ids` the resources (a network that bills a resource once a day is charged once
    for an id seen twice that day: the meter drops repeats). `rule_id`: the rule the read
    was for; the poller and stream worker fill it in (a source does not know its rule).
    """

    kind: str
    ids: tuple[str, ...]
    rule_id: int | None = None


@dataclass(frozen=True)
class Billing:
    """How a network bills the reads it reports (`Page.billed`, `StreamEvent.billed`, `SentReply.billed`).

    `rates`: dollars per resource by kind; `labels`: what a person calls each kind ("post reads");
    `caps`: the most resources of a kind the plan allows a month (X: 3 M post reads);
    `monthly_budget`: the operator's limit for the whole network (dollars a month, None: none).
    Networks without billing leave `Network.billing` None and report nothing.
    """

    rates: Mapping[str, float]
    labels: Mapping[str, str]
    caps: Mapping[str, int] = field(default_factory=dict)
    monthly_budget: float | None = None


@dataclass
class Page:
    """One fetched page and the cursor to store with it.

    `cursor` is what to pass to the next fetch; `done` says the source is caught up
    (no more pages until new posts arrive). `not_before`, when set, is the earliest
    time the network allows the next request (its quota is spent).
    """

    posts: list[Post]
    cursor: dict[str, Any]
    done: bool
    not_before: datetime | None = None
    warnings: list[str] = field(default_factory=list)
    billed: list[BilledReads] = field(default_factory=list)  # what the network charges for this page


class Source(Protocol):
    """Search (a rule's query) or mentions (of our account): one page at a time."""

    def fetch(self, query: str, cursor: dict[str, Any] | None) -> Page:
        """The next page for `query` after `cursor` (None: a new rule, its newest page only)."""
        ...


@dataclass(frozen=True)
class StreamEvent:
    """One thing a stream said. `cursor` is where to resume once this event is handled.

    kind: "post" (new), "update" (edited: `post` is the new version), "delete"
    (`external_id` was removed at the source), "tick" (nothing to do; the cursor moved,
    or time passed: the worker looks at its rules again).
    `mention_of`: the post came as a mention of this account id (the network said so, as
    a notification): it goes to the mentions rules naming that account.
    `rule_ids`: the network matched the post to these rules itself (a stream that
    `matches_rules`); the worker stores it under those of them it carries, unmatched locally.
    """

    kind: str
    cursor: dict[str, Any]
    post: Post | None = None
    external_id: str | None = None
    mention_of: str | None = None
    rule_ids: tuple[int, ...] | None = None
    billed: tuple[BilledReads, ...] = ()  # what the network charges for this event


@dataclass(frozen=True)
class TrackedRule:
    """A rule the stream must carry: what it subscribes to follows from these (`Stream.track`)."""

    kind: str  # "search" or "mentions"
    query: str
    rule_id: int | None = None  # a network that matches rules itself tags its events with this


class Stream(Protocol):
    """A live connection to the network's firehose (one per deployment, not per rule).

    `kinds`: the rule kinds its events carry ("search"; "mentions" when the network streams
    notifications). Rules of those kinds are matched on the stream and not polled while it is live.
    `opt_in`: it carries only the rules marked `stream` (`rules add --stream`); the others are polled.
    `matches_rules`: the network matches posts against the rules it was given (`track`) and
    tags each event with their ids (`StreamEvent.rule_ids`): nothing is matched locally.
    """

    kinds: tuple[str, ...]
    opt_in: bool
    matches_rules: bool

    def track(self, rules: Sequence[TrackedRule]) -> dict[int, str]:
        """The active rules the stream carries, each time they change (and before the first connect).

        A firehose takes everything and ignores this; a stream of subscriptions (hashtags,
        notifications) subscribes to what the rules need, on the open connection too; a network
        that matches rules itself is given them (by `rule_id`). Returns the rules the network
        refused (rule id → its reason, for a person): those are polled instead. Called from the
        thread that iterates `events`; raises SourceError when the network could not be told.
        """
        ...

    def reconnect_wait(self, error: Exception, failures: int) -> float | None:
        """Seconds to wait before reconnecting after `error`, the `failures`-th in a row, as the
        network documents it; None: the worker's own backoff."""
        ...

    def events(self, cursor: dict[str, Any] | None,
               connected: Callable[[dict[str, Any]], None] = lambda cursor: None) -> Iterator[StreamEvent]:
        """Connect (resuming from `cursor`, rewinding as the network needs) and yield events.

        `connected(start)` is called once the connection is up, before any event arrives, with
        a cursor for where it starts (so a replica taking over resumes there, not at its own start).

        Raises SourceUnavailable when the connection drops or cannot be made,
        SourceRejected when the server refuses it. The caller reconnects.
        """
        ...

    def complete(self, posts: Sequence[Post]) -> list[Post]:
        """The posts with their authors filled in (streams may carry only an account id)."""
        ...

    def identify(self, handles: Sequence[str]) -> dict[str, str]:
        """The account ids of these handles (for `from:` rules: events may carry only the id)."""
        ...

    def is_stale(self, cursor: dict[str, Any]) -> bool:
        """Whether the stream can no longer replay from `cursor` (search must fill the gap)."""
        ...

    def cursor_at(self, when: datetime) -> dict[str, Any]:
        """A cursor that replays the stream from `when` (recent enough to replay)."""
        ...

    def close(self) -> None:
        """Drop the connection (from another thread); `events` then ends or raises."""
        ...


@dataclass(frozen=True)
class SentReply:
    id: str
    url: str
    text: str
    billed: tuple[BilledReads, ...] = ()  # what the network charges for posting it


class Replier(Protocol):
    def reply(self, text: str, in_reply_to: str, *, idempotency_key: str) -> SentReply:
        """Post `text` publicly as the brand in reply to post `in_reply_to` (its external id).

        Raises ReplyFailed; never retries a request that may have reached the network.
        """
        ...


@dataclass(frozen=True)
class Removal:
    """What the network said about some posts: deleted ids, withheld ids with their countries."""

    deleted: list[str]
    withheld: dict[str, list[str]] = field(default_factory=dict)
    billed: tuple[BilledReads, ...] = ()  # what the network charges for the lookup


class RemovalCheck(Protocol):
    """Which stored posts are gone at the source (the network's terms say hide them)."""

    batch_size: int

    def check(self, external_ids: Sequence[str]) -> Removal:
        """Raises SourceError (RateLimited with its reset) when the network cannot say."""
        ...


@dataclass(frozen=True)
class ConversationWalk:
    """One search for new posts in some conversations; fetch it with the search source."""

    query: str
    cursor: dict[str, Any]
    conversation_ids: list[str]


class FollowUps(Protocol):
    """Searches for a customer's later posts in conversations we watch."""

    def walks(self, floors: Mapping[str, str], now: datetime) -> list[ConversationWalk]:
        """`floors` maps a conversation id to the newest post id seen in it."""
        ...


class CredentialStore(Protocol):
    """Where a network keeps the brand account's tokens (the database, shared by replicas)."""

    def load(self, *, lock: bool = False) -> StoredCredential | None:
        """`lock`: hold the row (across replicas) until `save` or `release`: refresh tokens are single-use."""
        ...

    def save(self, credential: StoredCredential) -> None: ...

    def release(self) -> None:
        """End a `load(lock=True)` without saving (no-op when nothing is held)."""
        ...

    def delete(self) -> bool: ...


@dataclass(frozen=True)
class StoredCredential:
    access_token: str
    refresh_token: str | None = None
    expires_at: datetime | None = None
    account_id: str | None = None
    account_handle: str | None = None


# --- what a network is ------------------------------------------------------------------


@dataclass
class LocalPlay:
    """A network played on 127.0.0.1 for `socialdesk sandbox` and `socialdesk demo`.

    Its fakes are running; `settings` (Settings aliases) point the app at them; `rules`
    are the story's saved searches as (kind, query, every seconds); `play()` starts the
    story's later posts and `stop()` stops everything it started. `page` is (label, url) of
    the page showing what the brand's account posted there, as its customers see it.
    """

    name: str
    settings: dict[str, Any]
    rules: list[tuple[str, str, int]]
    endpoints: list[tuple[str, str]]  # (what, address), for the banner
    waiting: int  # posts there before the app starts
    later: int  # posts the story makes while it runs
    play: Callable[[], None]
    stop: Callable[[], None]
    page: tuple[str, str] | None = None


@dataclass(frozen=True)
class NetworkInfo:
    """What the rest of the app may know about a network without configuring it (pure)."""

    name: str  # the id stored in rules and posts: "x", …
    label: str  # shown to people
    icon: str  # an emoji or glyph on the card
    text_limit: int  # the longest reply, counted by `text_length`
    text_length: Callable[[str], int]
    text_hint: str  # how the network counts, for the reply modal
    query_max_length: int
    kinds: tuple[str, ...]  # rule kinds it has: "search", "mentions"
    post_url_example: str  # for "Mark as replied": what a link to a post looks like
    query_hint: str  # the query syntax, for the rule editor
    poll_hint: str = ""
    profile_url: Callable[[str], str] = lambda handle: ""
    conversation_url: Callable[[str, str], str | None] = lambda conversation_id, post_url: None
    reply_link_id: Callable[[str], str | None] = lambda url: None  # the post id a pasted link names
    compose_url: Callable[[str, str], str | None] = lambda text, in_reply_to: None  # the network's own composer
    redact_link: Callable[[str], str | None] = lambda url: None  # a link without the account name, or None
    handle_link_pattern: str = ""  # regex (with {handle}) of links naming an account, for `forget`
    is_newer: Callable[[str, str], bool] = lambda a, b: a > b  # post id a is newer than b
    setting_hint: Mapping[str, str] = field(default_factory=dict)  # rule kind → what to set when unconfigured
    local_match: bool = False  # its rules are in socialdesk's query language, matched on each post (matcher)
    mentions_query: str = r"$^"  # regex a mentions rule's query (our account's id) matches
    mentions_query_example: str = ""
    # Its stream carries only the rules marked `stream` (`rules add --stream`), at most this many,
    # each query at most this long. 0 and 0: no such stream (every rule is streamed, or none is).
    stream_rules_max: int = 0
    stream_query_max_length: int = 0

    @property
    def opt_in_stream(self) -> bool:
        """Whether rules are marked to be streamed (`--stream`) here."""
        return bool(self.stream_rules_max or self.stream_query_max_length)
    # What a reply to this author starts with, written into the reply box (so the count includes it).
    reply_opening: Callable[[str], str] = lambda handle: ""


@dataclass
class Network:
    """A configured network: its description and the parts its settings allow."""

    info: NetworkInfo
    sources: dict[str, Source] = field(default_factory=dict)  # by rule kind: "search", "mentions"
    stream: Stream | None = None
    replier: Replier | None = None
    removal: RemovalCheck | None = None
    follow_ups: FollowUps | None = None
    search_since: Callable[[datetime], dict[str, Any]] | None = None  # a search cursor for posts since then
    # How far back its search reaches: a gap (a stream down, polls stopped) older than this loses the
    # posts before it, and the poller and stream worker record that (an ops alert). None: no limit.
    gap_limit: timedelta | None = None
    # A connected stream whose cursor has not moved for this long is behind (a firehose ticks every few
    # seconds). None: its stream may be quiet for hours (only matching posts move it): never "behind".
    stream_behind_after: timedelta | None = None
    brand_handle: Callable[[], str | None] = lambda: None  # the account replies go out as, if known
    reply_not_configured: str = ""
    # How replies are counted where the limit is the server's own (an instance's setting): `info`
    # with the server's limit and count. None: `info` as it is.
    reply_rules: Callable[[], NetworkInfo] | None = None
    billing: Billing | None = None  # the network bills per read (its sources report `billed`); None: free
    # `socialdesk doctor`: one cheap call that proves the configured credentials work; returns what it
    # found, for a person ("signed in as @acme"); raises NetworkError whose message says what to fix.
    # None: nothing is configured to check (`missing` says what to set).
    check: Callable[[], str] | None = None

    @property
    def name(self) -> str:
        return self.info.name

    def text_rules(self) -> NetworkInfo:
        """`info` with the limit and the count replies are held to here (the server's, when it sets them)."""
        return self.reply_rules() if self.reply_rules is not None else self.info

    def missing(self, kind: str) -> str:
        """Why a rule of `kind` cannot run here, and what to set."""
        return self.info.setting_hint.get(kind) or f"{self.info.label} has no {kind} source configured"
