"""Adapters for the network contract suite (tests/networks/test_contract.py).

One adapter per network in `registry.names()`: it starts that network's fakes on
127.0.0.1, builds the real `Network` through `registry.build` with `Settings` aliases
pointing at them (a real database engine, `DatabaseCredentials` as the credential
store), makes posts that match a rule, injects faults and reads what the fakes
received. The suite fails for a network without an adapter: add one to `ADAPTERS`.

Everything network-specific the contract needs lives here; the tests only speak
`Network` and this `Adapter` interface.
"""

from __future__ import annotations

import contextlib
import importlib
import itertools
import json
import queue
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Self
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import Engine

from socialdesk.config import Settings
from socialdesk.networks import registry
from socialdesk.networks.base import Network, StoredCredential, Stream, StreamEvent
from socialdesk.store.credentials import DatabaseCredentials

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # 👨‍👩‍👧‍👦 (ZWJ sequence)
COUPLE = "\U0001f469\U0001f3fb\u200d\u2764\ufe0f\u200d\U0001f48b\u200d\U0001f468\U0001f3fc"  # the longest ZWJ
JAPAN = "\U0001f1ef\U0001f1f5"  # 🇯🇵 (regional indicator pair)
ENGLAND = "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"  # tag sequence
THUMBS = "\U0001f44d\U0001f3fd"  # 👍🏽 (skin tone)
LONG_URL = "https://acme.com/help/articles/12345-how-do-i-reset-my-password?utm_source=social&ref=care"

# What every adapter's text samples must cover (contract 5).
TEXT_CATEGORIES = ("ascii", "url", "emoji", "zwj", "flag", "cjk", "combining")


def utcnow() -> datetime:
    return datetime.now(UTC)


def roundtrip(cursor: dict[str, Any]) -> dict[str, Any]:
    """A cursor as the poller stores it (a JSON column) and reads it back."""
    return json.loads(json.dumps(cursor))


def parametrized_cases(module: str, function: str) -> list[tuple[Any, ...]]:
    """The argument tuples of `@pytest.mark.parametrize` on another test (its own fixtures)."""
    test = getattr(importlib.import_module(module), function, None)
    marks = [m for m in getattr(test, "pytestmark", []) if m.name == "parametrize"]
    if not marks:
        raise LookupError(f"{module}.{function} has no parametrize cases to take expected values from; "
                          "update the contract adapter")
    names, values = marks[0].args[0], marks[0].args[1]
    single = isinstance(names, str) and "," not in names
    cases = []
    for value in values:
        value = value.values if hasattr(value, "values") else value  # pytest.param(...)
        cases.append((value[0],) if single and isinstance(value, tuple) and len(value) == 1
                     else (value,) if single else tuple(value))
    return cases


class Adapter:
    """What the contract suite needs to know about one network and its fakes."""

    name: str
    page_size: ClassVar[dict[str, int]]  # page size each source asks for (checked against the fake)
    has_stream: bool
    credential_setting: str  # the setting a bad-credentials error must name
    connection_faults: tuple[str, ...]  # "drop", "timeout": what the fake can do to a connection
    length_checked_locally: bool  # an over-length reply is refused before any request (else: the API says so)
    # The `http` client timeout that makes a "timeout" fault a timeout.
    short_timeout: float = 0.5
    reads_before_reply = 0  # requests a reply makes before it is counted (to learn whom it answers)

    def __enter__(self) -> Self:
        raise NotImplementedError

    def __exit__(self, *exc: object) -> None:
        raise NotImplementedError

    # --- building ----------------------------------------------------------------------
    def aliases(self) -> dict[str, Any]:
        """Settings aliases pointing the network at the fakes, signed in."""
        raise NotImplementedError

    def bad_credentials(self) -> dict[str, Any]:
        """Aliases overriding the credentials with wrong ones."""
        raise NotImplementedError

    def no_credentials(self) -> dict[str, Any]:
        raise NotImplementedError

    def prepare(self, settings: Settings, engine: Engine, http: httpx.Client) -> None:
        """What an admin does before the app runs (e.g. `socialdesk auth <network>`)."""

    def build(self, engine: Engine, http: httpx.Client, **overrides: Any) -> Network:
        settings = Settings(_env_file=None, **{**self.aliases(), **overrides})
        self.prepare(settings, engine, http)
        networks = registry.build(settings, http=http, clock=utcnow,
                                  credentials=lambda name: DatabaseCredentials(engine, name))
        return networks[self.name]

    # --- content -----------------------------------------------------------------------
    def query(self, kind: str) -> str:
        """A rule query of `kind` that `post(kind)` matches."""
        raise NotImplementedError

    def post(self, kind: str, *, reply_to: str | None = None) -> str:
        """Make a post (by a customer) that a rule of `kind` finds; returns its external id."""
        raise NotImplementedError

    @contextlib.contextmanager
    def same_instant(self) -> Iterator[None]:
        """Posts made inside share one timestamp, at the network's own resolution."""
        raise NotImplementedError
        yield

    def reply_parent(self, reply_id: str) -> str | None:
        """The external id of the post the reply `reply_id` answers, as the fake stored it."""
        raise NotImplementedError

    def sent_text(self, text: str, post: Any) -> str:
        """What the network posts when the agent writes `text` in reply to `post` (as written, mostly)."""
        return text

    def brand_posts(self) -> int:
        """How many posts the brand account has on the fake."""
        raise NotImplementedError

    # --- faults and what the fake received ----------------------------------------------
    def requested_page_size(self, kind: str) -> int:
        raise NotImplementedError

    def rate_limit_next(self, kind: str) -> datetime:
        """The next fetch of `kind` answers 429; returns the reset its headers say."""
        raise NotImplementedError

    def unavailable_next(self, kind: str) -> None:
        raise NotImplementedError

    def break_connection_next(self, kind: str, fault: str) -> None:
        raise NotImplementedError

    def create_requests(self) -> int:
        """Requests that reached the fake's create-a-post endpoint so far."""
        raise NotImplementedError

    def all_requests(self) -> int:
        raise NotImplementedError

    def fail_create_next(self, status: int) -> None:
        raise NotImplementedError

    def fake_accepts(self, text: str) -> bool:
        """POST `text` to the fake's create endpoint directly: True created, False refused as too long."""
        raise NotImplementedError

    def drop_stream_connections(self) -> None:
        raise NotImplementedError

    # --- text ----------------------------------------------------------------------------
    def text_cases(self) -> dict[str, list[tuple[str, int]]]:
        """Samples by category (TEXT_CATEGORIES and more) with the network's documented count."""
        raise NotImplementedError


# --- X --------------------------------------------------------------------------------------


class XAdapter(Adapter):
    name = "x"
    page_size: ClassVar[dict[str, int]] = {"search": 100, "mentions": 100}
    has_stream = True  # the filtered stream (X matches the rules: `track` gives it them by id)
    credential_setting = "SOCIALDESK_X_BEARER_TOKEN"
    connection_faults = ("timeout",)  # FakeX can delay an answer and drop its stream, not a request
    length_checked_locally = False  # X's API refuses it (400 "Your Tweet text is too long")
    TOKEN = "contract-bearer"
    WORD = "acmecontract"

    def __enter__(self) -> Self:
        from socialdesk.networks.x.fake.server import FakeX

        # As X does: the app token may search, only a user token may post.
        self.fake = FakeX(bearer_token=self.TOKEN, own_username="acmephones", require_user_context=True).start()
        self._n = itertools.count()
        self._instant: datetime | None = None
        self._user_token: str | None = None
        return self

    def __exit__(self, *exc: object) -> None:
        self.fake.stop()

    def aliases(self) -> dict[str, Any]:
        url = self.fake.url
        return {"SOCIALDESK_X_API_URL": url, "SOCIALDESK_X_BEARER_TOKEN": self.TOKEN,
                "SOCIALDESK_X_AUTHORIZE_URL": url + "/i/oauth2/authorize",
                "SOCIALDESK_X_CLIENT_ID": self.fake.client_id,
                "SOCIALDESK_X_CLIENT_SECRET": self.fake.client_secret}

    def bad_credentials(self) -> dict[str, Any]:
        return {"SOCIALDESK_X_BEARER_TOKEN": "not-the-bearer-token"}

    def no_credentials(self) -> dict[str, Any]:
        return {"SOCIALDESK_X_BEARER_TOKEN": None}

    def _exchange(self, settings: Settings, http: httpx.Client):
        from socialdesk.networks.x import auth

        verifier, challenge = auth.new_pkce()
        landed = self.fake.approve(auth.authorize_url(settings, state=auth.new_state(), challenge=challenge))
        code = parse_qs(urlsplit(landed).query)["code"][0]
        return auth.exchange_code(http, settings, code=code, verifier=verifier)

    def prepare(self, settings: Settings, engine: Engine, http: httpx.Client) -> None:
        """What `socialdesk auth x` leaves in the database: the brand's OAuth 2.0 tokens."""
        tokens = self._exchange(settings, http)
        own = self.fake.own_user
        DatabaseCredentials(engine, "x").save(StoredCredential(
            access_token=tokens.access_token, refresh_token=tokens.refresh_token, expires_at=tokens.expires_at,
            account_id=own["id"], account_handle=own["username"]))

    def _mentions_path(self) -> str:
        return f"/2/users/{self.fake.own_user['id']}/mentions"

    def _path(self, kind: str) -> str:
        from socialdesk.networks.x.search import SEARCH_PATH

        return {"search": SEARCH_PATH, "mentions": self._mentions_path()}[kind]

    def query(self, kind: str) -> str:
        return {"search": self.WORD, "mentions": f"user:{self.fake.own_user['id']}"}[kind]

    def post(self, kind: str, *, reply_to: str | None = None) -> str:
        n = next(self._n)
        text = {"search": f"{self.WORD} my phone broke #{n}", "mentions": f"@acmephones help please #{n}"}[kind]
        return self.fake.post(username=f"cust{n % 3}", text=text, in_reply_to=reply_to,
                              created_at=self._instant)["id"]

    @contextlib.contextmanager
    def same_instant(self) -> Iterator[None]:
        """One created_at (X's ids then differ only in their sequence bits, as in a busy millisecond)."""
        self._instant = utcnow()
        try:
            yield
        finally:
            self._instant = None

    def reply_parent(self, reply_id: str) -> str | None:
        answer = httpx.get(f"{self.fake.url}/2/tweets/{reply_id}", params={"tweet.fields": "referenced_tweets"},
                           headers={"Authorization": f"Bearer {self.TOKEN}"}).json()
        refs = (answer.get("data") or {}).get("referenced_tweets") or []
        return next((r["id"] for r in refs if r["type"] == "replied_to"), None)

    def brand_posts(self) -> int:
        return self.fake.own_user["public_metrics"]["tweet_count"]

    def requested_page_size(self, kind: str) -> int:
        return int(self.fake.requests_to(self._path(kind))[-1].query["max_results"])

    def rate_limit_next(self, kind: str) -> datetime:
        reset = self.fake.rate_limit_next(self._path(kind), 120)  # x-rate-limit-reset, epoch seconds
        return datetime.fromtimestamp(reset, UTC)

    def unavailable_next(self, kind: str) -> None:
        self.fake.unavailable_next(self._path(kind))

    def break_connection_next(self, kind: str, fault: str) -> None:
        assert fault == "timeout"
        self.fake.fail_next(self._path(kind), status=200, delay=self.short_timeout * 6)  # answered too late

    def create_requests(self) -> int:
        return len(self.fake.requests_to("/2/tweets", method="POST"))

    def all_requests(self) -> int:
        return len(self.fake.requests)

    def fail_create_next(self, status: int) -> None:
        self.fake.fail_next("/2/tweets", status=status, method="POST")

    def fake_accepts(self, text: str) -> bool:
        if self._user_token is None:
            settings = Settings(_env_file=None, **self.aliases())
            with httpx.Client(timeout=5) as http:
                self._user_token = self._exchange(settings, http).access_token
        answer = httpx.post(f"{self.fake.url}/2/tweets", json={"text": text},
                            headers={"Authorization": f"Bearer {self._user_token}"})
        if answer.status_code == 201:
            return True
        assert answer.status_code == 400 and "too long" in answer.text, answer.text
        return False

    def drop_stream_connections(self) -> None:
        self.fake.drop_stream()

    def text_cases(self) -> dict[str, list[tuple[str, int]]]:
        """X's weighted count (twitter-text v3): links 23, emoji sequences 2, CJK 2, NFC first.

        The per-category samples are X's documented weights; the `derived` ones are the
        cases tests/networks/x/test_text.py checks (many from twitter-text's conformance).
        """
        source = "tests.networks.x.test_text"
        derived = parametrized_cases(source, "test_emoji_in_text") + parametrized_cases(source, "test_link_edges")
        derived += [(emoji, 2) for (emoji,) in parametrized_cases(source, "test_each_emoji_counts_two")]
        derived += [(url, 23) for (url,) in parametrized_cases(source, "test_a_link_counts_23_whatever_its_length")]
        return {
            "ascii": [("Hello, world!", 13), ("a" * 280, 280), ("", 0)],
            "url": [(LONG_URL, 23), (f"see {LONG_URL} now", 4 + 23 + 4), ("acme.com/help", 23),
                    ("a https://acme.com/x b acme.com/help", 2 * 23 + 5)],
            "emoji": [("😡", 2), (THUMBS, 2), ("Thanks! 🙏", 8 + 2)],
            "zwj": [(FAMILY, 2), (COUPLE, 2), ("🏳\ufe0f\u200d🌈", 2)],
            "flag": [(JAPAN, 2), (JAPAN + "\U0001f1fa\U0001f1f8", 4), (ENGLAND, 2)],
            "cjk": [("日本語", 6), ("안녕하세요", 10), ("Hello こんにちは", 6 + 10)],
            "combining": [("e\u0301", 1), ("Cafe\u0301", 4), ("A\u0301x", 2)],
            "derived": [(str(t), int(e)) for t, e in derived],
        }


# --- Bluesky -------------------------------------------------------------------------------


class TickingClock:
    """The fake world's clock: real time, moved on by at least 1 ms per post.

    Bluesky times are in milliseconds; posts made in one burst would otherwise share
    one, and "the newest page" of a new rule would depend on how the fake breaks ties.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._now = utcnow()
        self.frozen = False

    def __call__(self) -> datetime:
        with self._lock:
            if not self.frozen:
                self._now = max(self._now, utcnow())
            return self._now

    def tick(self) -> None:
        with self._lock:
            if not self.frozen:
                self._now = max(self._now, utcnow()) + timedelta(milliseconds=1)


class BlueskyAdapter(Adapter):
    name = "bluesky"
    page_size: ClassVar[dict[str, int]] = {"search": 50, "mentions": 50}
    has_stream = True
    credential_setting = "SOCIALDESK_BLUESKY_APP_PASSWORD"
    connection_faults = ("drop", "timeout")
    length_checked_locally = True  # BlueskyReplier counts graphemes before any request
    HANDLE = "brand.bsky.social"
    PASSWORD = "brand-app-password"
    WORD = "acmecontract"
    NSID: ClassVar[dict[str, str]] = {"search": "app.bsky.feed.searchPosts", "mentions": "app.bsky.notification.listNotifications"}
    CREATE = "com.atproto.repo.createRecord"

    def __enter__(self) -> Self:
        from socialdesk.networks.bluesky.fake.jetstream import FakeJetstream
        from socialdesk.networks.bluesky.fake.pds import FakeBluesky
        from socialdesk.networks.bluesky.fake.world import World

        self.clock = TickingClock()
        self.world = World(brand_handle=self.HANDLE, brand_password=self.PASSWORD, clock=self.clock)
        self.fake = FakeBluesky(self.world).start()
        self.jetstream = FakeJetstream().start()
        self._unsubscribe = self.world.subscribe(self.jetstream.publish)  # every commit goes out on the stream
        self.customers = [self.world.add_account(f"cust{i}.bsky.social", f"Customer {i}", followers=10 + i)
                          for i in range(3)]
        self._n = itertools.count()
        return self

    def __exit__(self, *exc: object) -> None:
        self._unsubscribe()
        self.jetstream.stop()
        self.fake.stop()

    def aliases(self) -> dict[str, Any]:
        return {"SOCIALDESK_BLUESKY_HANDLE": self.HANDLE, "SOCIALDESK_BLUESKY_APP_PASSWORD": self.PASSWORD,
                "SOCIALDESK_BLUESKY_SERVICE_URL": self.fake.url,
                "SOCIALDESK_BLUESKY_JETSTREAM_URL": self.jetstream.url}

    def bad_credentials(self) -> dict[str, Any]:
        return {"SOCIALDESK_BLUESKY_APP_PASSWORD": "not-the-app-password"}

    def no_credentials(self) -> dict[str, Any]:
        return {"SOCIALDESK_BLUESKY_APP_PASSWORD": None}

    def query(self, kind: str) -> str:
        return {"search": self.WORD, "mentions": self.world.brand_did}[kind]

    def post(self, kind: str, *, reply_to: str | None = None) -> str:
        n = next(self._n)
        text = {"search": f"{self.WORD} my phone broke #{n}", "mentions": f"@{self.HANDLE} help please #{n}"}[kind]
        self.clock.tick()
        return self.world.add_post(self.customers[n % 3], text, reply_to=reply_to)["uri"]

    @contextlib.contextmanager
    def same_instant(self) -> Iterator[None]:
        """The world's clock stands still: posts share createdAt and indexedAt (milliseconds)."""
        self.clock.tick()
        self.clock.frozen = True
        try:
            yield
        finally:
            self.clock.frozen = False

    def reply_parent(self, reply_id: str) -> str | None:
        post = self.world.posts.get(reply_id)
        return ((post.record.get("reply") or {}).get("parent") or {}).get("uri") if post else None

    def brand_posts(self) -> int:
        return sum(1 for p in self.world.posts.values() if p.did == self.world.brand_did)

    def requested_page_size(self, kind: str) -> int:
        return int(self.fake.requests(self.NSID[kind])[-1].query["limit"][0])

    def rate_limit_next(self, kind: str) -> datetime:
        reset = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=120)
        self.fake.limit(self.NSID[kind], 0, reset_at=reset)  # 429 with RateLimit-Reset (epoch seconds)
        return reset

    def unavailable_next(self, kind: str) -> None:
        self.fake.fail(self.NSID[kind], 503)

    def break_connection_next(self, kind: str, fault: str) -> None:
        if fault == "drop":
            self.fake.fail(self.NSID[kind], 0)
        else:
            self.fake.fail(self.NSID[kind], None, delay=self.short_timeout * 3)

    def create_requests(self) -> int:
        return len(self.fake.requests(self.CREATE))

    def all_requests(self) -> int:
        return len(self.fake.requests())

    def fail_create_next(self, status: int) -> None:
        self.fake.fail(self.CREATE, status)

    def fake_accepts(self, text: str) -> bool:
        base = f"{self.fake.url}/xrpc/"
        with httpx.Client(timeout=5) as http:
            session = http.post(base + "com.atproto.server.createSession",
                                json={"identifier": self.HANDLE, "password": self.PASSWORD}).json()
            record = {"$type": "app.bsky.feed.post", "text": text,
                      "createdAt": utcnow().strftime("%Y-%m-%dT%H:%M:%S.000Z")}
            answer = http.post(base + self.CREATE, json={"repo": session["did"], "collection": "app.bsky.feed.post",
                                                         "record": record},
                               headers={"Authorization": f"Bearer {session['accessJwt']}"})
        if answer.status_code == 200:
            return True
        assert answer.status_code == 400 and "longer than" in answer.text, answer.text
        return False

    def drop_stream_connections(self) -> None:
        self.jetstream.drop_connections()

    def text_cases(self) -> dict[str, list[tuple[str, int]]]:
        """Bluesky counts graphemes (UAX #29 extended clusters: `app.bsky.feed.post` maxGraphemes).

        `derived` are the cases tests/networks/bluesky/test_text.py checks.
        """
        derived = parametrized_cases("tests.networks.bluesky.test_text",
                                     "test_grapheme_length_counts_extended_clusters")
        return {
            "ascii": [("Hello, world!", 13), ("a" * 300, 300), ("", 0)],
            "url": [(LONG_URL, len(LONG_URL)), (f"see {LONG_URL} now", len(LONG_URL) + 8),
                    ("acme.com/help", 13)],
            "emoji": [("😡", 1), (THUMBS, 1), ("Thanks! 🙏", 8 + 1)],
            "zwj": [(FAMILY, 1), (COUPLE, 1), ("🏳\ufe0f\u200d🌈", 1)],
            "flag": [(JAPAN, 1), (JAPAN + "\U0001f1fa\U0001f1f8", 2), (ENGLAND, 1)],
            "cjk": [("日本語", 3), ("안녕하세요", 5), ("Hello こんにちは", 6 + 5)],
            "combining": [("e\u0301", 1), ("Cafe\u0301", 4), ("A\u0301x", 2), ("a\u0308\u0301\u0323", 1)],
            "derived": [(str(t), int(e)) for t, e in derived],
        }


class MastodonAdapter(Adapter):
    name = "mastodon"
    page_size: ClassVar[dict[str, int]] = {"search": 40, "mentions": 40}
    has_stream = True
    credential_setting = "SOCIALDESK_MASTODON_TOKEN"
    connection_faults = ("drop", "timeout")
    length_checked_locally = True  # MastodonReplier counts with the instance's rules before sending
    reads_before_reply = 1  # the customer's status: its visibility and its author's address start the reply
    WORD = "acmecontract"
    PATH: ClassVar[dict[str, str]] = {"search": "/api/v1/timelines/tag/:hashtag", "mentions": "/api/v1/notifications"}
    CREATE = "/api/v1/statuses"

    def __enter__(self) -> Self:
        from socialdesk.networks.mastodon.fake.rest import FakeMastodon

        self.clock = TickingClock()
        self.fake = FakeMastodon(clock=self.clock).start()
        self.world = self.fake.world
        self.customers = [self.world.add_account(f"cust{i}", f"Customer {i}", domain="other.example",
                                                 followers=10 + i) for i in range(3)]
        self._n = itertools.count()
        return self

    def __exit__(self, *exc: object) -> None:
        self.fake.stop()

    def aliases(self) -> dict[str, Any]:
        return {"SOCIALDESK_MASTODON_URL": self.fake.url, "SOCIALDESK_MASTODON_TOKEN": self.world.brand_token}

    def bad_credentials(self) -> dict[str, Any]:
        return {"SOCIALDESK_MASTODON_TOKEN": "not-the-token"}

    def no_credentials(self) -> dict[str, Any]:
        return {"SOCIALDESK_MASTODON_TOKEN": None}

    def query(self, kind: str) -> str:
        return {"search": f"#{self.WORD}", "mentions": self.world.brand.id}[kind]

    def post(self, kind: str, *, reply_to: str | None = None) -> str:
        n = next(self._n)
        text = {"search": f"#{self.WORD} my phone broke, case {n}",
                "mentions": f"@{self.world.brand.username}@{self.world.domain} help please, case {n}"}[kind]
        self.clock.tick()
        return str(self.world.add_status(self.customers[n % 3], text, reply_to=reply_to)["id"])

    def sent_text(self, text: str, post: Any) -> str:
        return f"@{post.author.handle} {text}"  # a reply starts with the customer's address, as Mastodon's own do

    @contextlib.contextmanager
    def same_instant(self) -> Iterator[None]:
        """The world's clock stands still: statuses share created_at (ids still differ in their low bits)."""
        self.clock.tick()
        self.clock.frozen = True
        try:
            yield
        finally:
            self.clock.frozen = False

    def reply_parent(self, reply_id: str) -> str | None:
        status = self.world.statuses.get(reply_id)
        return status.get("in_reply_to_id") if status else None

    def brand_posts(self) -> int:
        return sum(1 for s in self.world.statuses.values() if s["account"]["id"] == self.world.brand.id)

    def requested_page_size(self, kind: str) -> int:
        return int(self.fake.requests(self.PATH[kind])[-1].query["limit"][0])

    def rate_limit_next(self, kind: str) -> datetime:
        reset = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=120)
        self.fake.limit(self.PATH[kind], 0, reset_at=reset)  # 429 with X-RateLimit-Reset (an ISO time)
        return reset

    def unavailable_next(self, kind: str) -> None:
        self.fake.fail(self.PATH[kind], 503)

    def break_connection_next(self, kind: str, fault: str) -> None:
        if fault == "drop":
            self.fake.fail(self.PATH[kind], 0)
        else:
            self.fake.fail(self.PATH[kind], None, delay=self.short_timeout * 3)

    def create_requests(self) -> int:
        return len(self.fake.requests(self.CREATE, method="POST"))

    def all_requests(self) -> int:
        return len(self.fake.requests())

    def fail_create_next(self, status: int) -> None:
        self.fake.fail(self.CREATE, status, method="POST")

    def fake_accepts(self, text: str) -> bool:
        with httpx.Client(timeout=5) as http:
            answer = http.post(f"{self.fake.url}{self.CREATE}", data={"status": text},
                               headers={"Authorization": f"Bearer {self.world.brand_token}"})
        if answer.status_code == 200:
            return True
        assert answer.status_code == 422 and "character limit" in answer.text, answer.text
        return False

    def drop_stream_connections(self) -> None:
        self.fake.streaming.drop_connections()

    def text_cases(self) -> dict[str, list[tuple[str, int]]]:
        """Mastodon counts graphemes, a link as 23 and a mention as its local part (the instance says so).

        `derived` are the cases tests/networks/mastodon/test_text.py checks.
        """
        derived = parametrized_cases("tests.networks.mastodon.test_text", "test_text_length_counts_as_mastodon")
        return {
            "ascii": [("Hello, world!", 13), ("a" * 500, 500), ("", 0)],
            "url": [(LONG_URL, 23), (f"see {LONG_URL} now", 23 + 8), ("acme.com/help", 13)],
            "emoji": [("😡", 1), (THUMBS, 1), ("Thanks! 🙏", 8 + 1)],
            "zwj": [(FAMILY, 1), (COUPLE, 1), ("🏳\ufe0f\u200d🌈", 1)],
            "flag": [(JAPAN, 1), (JAPAN + "\U0001f1fa\U0001f1f8", 2), (ENGLAND, 1)],
            "cjk": [("日本語", 3), ("안녕하세요", 5), ("Hello こんにちは", 6 + 5)],
            "combining": [("e\u0301", 1), ("Cafe\u0301", 4), ("A\u0301x", 2), ("a\u0308\u0301\u0323", 1)],
            "derived": [(str(t), int(e)) for t, e in derived],
        }


ADAPTERS: dict[str, Callable[[], Adapter]] = {"x": XAdapter, "bluesky": BlueskyAdapter, "mastodon": MastodonAdapter}


# --- reading a stream with bounded waits ---------------------------------------------------

_END = object()


class StreamReader:
    """`stream.events(cursor)` in a thread, so the test waits with timeouts instead of blocking."""

    def __init__(self, stream: Stream, cursor: dict[str, Any] | None) -> None:
        self.stream, self.cursor = stream, cursor
        self.started: list[dict[str, Any]] = []
        self.error: BaseException | None = None
        self._connected = threading.Event()
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="contract-stream", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for event in self.stream.events(self.cursor, connected=self._on_connected):
                self._queue.put(event)
        except BaseException as exc:  # noqa: BLE001 - the test looks at it
            self.error = exc
        finally:
            self._connected.set()
            self._queue.put(_END)

    def _on_connected(self, cursor: dict[str, Any]) -> None:
        self.started.append(cursor)
        self._connected.set()

    def wait_connected(self, timeout: float = 5.0) -> bool:
        return self._connected.wait(timeout) and bool(self.started)

    def read_until(self, wanted: set[str], timeout: float = 5.0) -> list[StreamEvent]:
        """Events until every id in `wanted` came as a post (or the time or the stream ran out)."""
        events: list[StreamEvent] = []
        seen: set[str] = set()
        deadline = time.monotonic() + timeout
        while not wanted <= seen:
            try:
                item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if item is _END:
                self._queue.put(_END)
                break
            events.append(item)
            if item.post is not None:
                seen.add(item.post.external_id)
        return events

    def join(self, timeout: float = 5.0) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()


def post_ids(events: list[StreamEvent]) -> list[str]:
    return [e.post.external_id for e in events if e.kind == "post" and e.post is not None]


def walk(fetch: Callable[[dict[str, Any] | None], Any], cursor: dict[str, Any] | None,
         max_pages: int = 20) -> tuple[list[str], dict[str, Any]]:
    """Pages from `cursor` until `done`, storing each cursor: (ids in order, the last cursor)."""
    ids: list[str] = []
    for _ in range(max_pages):
        page = fetch(cursor)
        ids += [p.external_id for p in page.posts]
        cursor = roundtrip(page.cursor)
        if page.done:
            return ids, cursor
    raise AssertionError(f"the walk did not finish in {max_pages} pages")
