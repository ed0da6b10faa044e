"""FakeX: an in-memory X API v2 on 127.0.0.1, for tests and the local sandbox.

It answers in the shapes of the real recordings in ../shared/refs/x (see
fake_x_data for each body's provenance). A request goes through what X puts in
front of an endpoint, in X's order: the bearer token (401 from the gateway),
then any injected fault, then the endpoint's 15-minute rate-limit window, then
the endpoint itself.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from socialdesk.networks.x.fake import data as d
from socialdesk.networks.x.fake import query as xq
from socialdesk.networks.x.fake.api import XApi, _Refusal
from socialdesk.networks.x.fake.auth import TOKEN_PATH, USER_CONTEXT_ONLY, OAuth1Keys, XAuthServer, _AuthError
from socialdesk.networks.x.fake.stream import APP_ONLY, APP_ONLY_AUTH, STREAM_PATH, StreamApi, StreamConnection

__all__ = ["FakeX", "OAuth1Keys", "RecordedRequest", "TOKEN_PATH"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # names lower-cased
    body: bytes
    at: float  # time.time() when it arrived

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class _Fault:
    path: str
    method: str | None
    status: int
    body: Any
    headers: dict[str, str]
    times: int
    delay: float
    extra_errors: list | None = None  # merged into the real answer instead of replacing it
    query: dict[str, str] | None = None  # only requests whose query string has these values
    exact: bool = False  # only this path, not the paths under it

    def applies(self, method: str, path: str, query: dict[str, str]) -> bool:
        return ((path == self.path if self.exact else path.startswith(self.path)) and self.method in (None, method)
                and all(query.get(k) == v for k, v in (self.query or {}).items()))

    @property
    def passthrough(self) -> bool:
        return self.extra_errors is not None or (self.status == 200 and self.body is None)


@dataclass
class _Window:
    reset_at: float
    used: int = 0


class FakeX(XApi, StreamApi, XAuthServer):
    """In-memory X API v2 stand-in on 127.0.0.1.

    `with FakeX() as x:` serves GET /2/tweets/search/recent, /2/users/me,
    /2/users/by/username/:u, /2/users/:id/mentions, /2/tweets[/:id],
    POST /2/tweets (as `own_user`), POST /2/oauth2/token and the filtered stream
    (GET /2/tweets/search/stream, GET/POST …/stream/rules: fake/stream.py) at `x.url`;
    `x.requests` records every call.

    Callers: the app bearer token, user tokens from `authorize()` + the token
    endpoint, or OAuth 1.0a signed with `oauth1_keys`. `require_user_context=True`
    refuses the app token on POST /2/tweets and GET /2/users/me as X does (the
    default lets it act as own_user, for tests written before user auth existed).
    `restrict_replies = True` applies X's rule for self-serve apps: replies only to
    posts that mention, quote or answer own_user (else `reply_restriction_body`).
    """

    def __init__(self, *, bearer_token: str = "sandbox-bearer", host: str = "127.0.0.1",
                 port: int = 0, own_username: str = "acmephones", require_user_context: bool = False):
        self.bearer_token = bearer_token
        self.restrict_replies = False
        self.reply_restriction_body: dict = d.REPLY_NOT_ENGAGED
        self.requests: list[RecordedRequest] = []
        self._lock = threading.RLock()
        self._users: dict[str, dict] = {}
        self._user_ids: dict[str, str] = {}  # casefolded username -> id
        self._posts: dict[int, dict] = {}
        self._match_ctx: dict[int, dict] = {}
        self._tokens: dict[str, int] = {}  # pagination token -> exclusive upper id bound
        self._faults: list[_Fault] = []
        self._limits = {key: (limit, 900.0) for key, limit in d.RATE_LIMITS.items()}
        self._windows: dict[str, _Window] = {}
        self._seq = 0
        self._last_auto_id = 0
        self._stopping = threading.Event()
        self._init_auth(require_user_context=require_user_context)
        self._init_stream()
        # Bound now (not in start) so `url` is known before serving begins.
        self._server = ThreadingHTTPServer((host, port), _Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._server.fake = self  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None
        self._own_id = self.add_user(username=own_username, followers=5000, verified=True)["id"]

    # --- lifecycle -------------------------------------------------------------
    def start(self) -> FakeX:
        if self._thread is None:
            # A short poll interval so stop() (and each test's teardown) takes milliseconds.
            self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                            name="FakeX", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes handlers sleeping on an injected delay
        self._end_streams()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> FakeX:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def own_user(self) -> dict:
        """The account POST /2/tweets posts as (constructor's own_username)."""
        with self._lock:
            return copy.deepcopy(self._users[self._own_id])

    # --- content ---------------------------------------------------------------
    def add_user(self, *, username: str, name: str | None = None, followers: int = 10,
                 verified: bool = False, user_id: str | None = None, created_at: datetime | None = None) -> dict:
        """Create (or redefine) a user; returns X's user object with every field.

        `created_at`: when the account was made (default: years ago)."""
        with self._lock:
            uid = self._user_ids.get(username.casefold())
            if uid is None:
                uid = user_id or str(1_500_000_000_000_000_000 + len(self._users))
                while uid in self._users and uid != user_id:
                    uid = str(int(uid) + 1)
                self._users[uid] = {
                    "created_at": "2019-03-14T09:26:53.000Z", "description": "", "id": uid,
                    "name": name or username,
                    "profile_image_url": f"https://pbs.twimg.com/profile_images/{uid}/avatar_normal.jpg",
                    "protected": False,
                    "public_metrics": {"followers_count": followers, "following_count": 0,
                                       "tweet_count": 0, "listed_count": 0},
                    "username": username, "verified": verified,
                }
                self._user_ids[username.casefold()] = uid
            user = self._users[uid]
            user["name"] = name or user["name"]
            user["public_metrics"]["followers_count"] = followers
            user["verified"] = verified
            user["verified_type"] = "blue" if verified else "none"
            if created_at is not None:
                user["created_at"] = d.x_time(created_at)
            return copy.deepcopy(user)

    def post(self, *, username: str, text: str, lang: str = "en", conversation_id: str | None = None,
             in_reply_to: str | None = None, retweet_of: str | None = None, quote_of: str | None = None,
             long_text: str | None = None, created_at: datetime | None = None,
             tweet_id: str | None = None) -> dict:
        """Add a post as X would store it and return it with every field.

        Links become t.co links (entities keep the original as expanded_url). A
        retweet's text is built from the original ("RT @user: …", 140 code points),
        so `text` is ignored for it; `long_text` over 280 makes a note_tweet and,
        when `text` is empty, the truncated `text`. Ids follow created_at like real
        snowflakes; `tweet_id` pins one (e.g. to mirror a recording).
        """
        with self._lock:
            author = self._users[self._ensure_user(username)]
            parent = self._posts.get(int(in_reply_to)) if in_reply_to else None
            original = self._posts.get(int(retweet_of)) if retweet_of else None
            if retweet_of and original is None:
                raise ValueError(f"retweet_of={retweet_of}: post it on this FakeX first")
            tid = self._new_id(created_at, tweet_id)
            when = created_at or (d.time_of(tid) if tweet_id else datetime.now(UTC))
            if original is not None:
                orig_author = self._users[original["author_id"]]["username"]
                text = d.truncate(f"RT @{orig_author}: {d.full_text(original)}", 140)
                lang = original["lang"]
            note_text, note_expanded = d.shorten_urls(long_text or "")
            has_note = bool(long_text) and d.weighted_length(long_text) > 280
            if long_text and not text:
                text = d.truncate_note(note_text) if has_note else note_text
            text, expanded = d.shorten_urls(text)
            # Links already shortened (from long_text or the retweeted post) keep their originals.
            inherited = d.all_entities(original).get("urls", []) if original else []
            expanded |= {u["url"]: u["expanded_url"] for u in inherited} | note_expanded
            post: dict[str, Any] = {
                "author_id": author["id"],
                "conversation_id": conversation_id or (parent["conversation_id"] if parent else str(tid)),
                "created_at": d.x_time(when), "edit_history_tweet_ids": [str(tid)], "id": str(tid),
                "lang": lang, "possibly_sensitive": False,
                "public_metrics": {"retweet_count": 0, "reply_count": 0, "like_count": 0,
                                   "quote_count": 0, "bookmark_count": 0, "impression_count": 0},
                "reply_settings": "everyone", "source": "Twitter Web App", "text": text,
            }
            if ents := d.entities(text, expanded, self._user_id):
                post["entities"] = ents
            refs = [{"type": kind, "id": str(ref)} for kind, ref in
                    (("retweeted", retweet_of), ("quoted", quote_of), ("replied_to", in_reply_to)) if ref]
            if refs:
                post["referenced_tweets"] = refs
            reply_user = parent["author_id"] if parent else self._leading_mention(text) if in_reply_to else None
            if reply_user:
                post["in_reply_to_user_id"] = reply_user
            if has_note:
                post["note_tweet"] = {"text": note_text}
                if note_ents := d.entities(note_text, note_expanded, self._user_id):
                    post["note_tweet"]["entities"] = note_ents
            for ref, metric in ((parent, "reply_count"), (original, "retweet_count"),
                                (self._posts.get(int(quote_of)) if quote_of else None, "quote_count")):
                if ref is not None:
                    ref["public_metrics"][metric] += 1
            author["public_metrics"]["tweet_count"] += 1
            # X's v2 JSON carries text with &, < and > HTML-escaped (see the recordings).
            post["text"] = d.html_escape(post["text"])
            if has_note:
                post["note_tweet"]["text"] = d.html_escape(post["note_tweet"]["text"])
            post = dict(sorted(post.items()))  # X sends keys alphabetically
            self._posts[tid] = post
            self._match_ctx[tid] = self._context(post, original)
            self._publish(tid)
            return copy.deepcopy(post)

    def posts(self) -> list[dict]:
        """Every stored post, oldest first, with its author's `username` and `name` beside (local pages)."""
        with self._lock:
            return [copy.deepcopy(post) | {"username": self._users[post["author_id"]]["username"],
                                           "name": self._users[post["author_id"]]["name"]}
                    for _, post in sorted(self._posts.items())]

    def delete_post(self, tweet_id: str) -> None:
        """The author deleted it: lookups answer X's "Not Found Error", searches no longer find it."""
        with self._lock:
            self._posts.pop(int(tweet_id))
            self._match_ctx.pop(int(tweet_id), None)

    def withhold_post(self, tweet_id: str, country_codes: list[str], *, copyright: bool = False) -> None:
        """Withheld in these countries: the post gains X's `withheld` field (tweet.fields=withheld)."""
        with self._lock:
            self._posts[int(tweet_id)]["withheld"] = {
                "copyright": copyright, "country_codes": [c.upper() for c in country_codes], "scope": "tweet"}

    # --- fault injection -------------------------------------------------------
    def fail_next(self, path: str, *, status: int, body: dict | list | str | None = None,
                  headers: dict | None = None, times: int = 1, delay: float = 0.0,
                  method: str | None = None, rate_headers: bool = True,
                  query: dict[str, str] | None = None, exact: bool = False) -> None:
        """Answer the next `times` requests whose path starts with `path` with this.

        body None gives X's body for the status (429, 401, else about:blank
        problem); status 200 with body None only adds `delay` to the real answer.
        A str body is sent as it is (text/plain unless `headers` name a content-type),
        so a 200 can carry a proxy's HTML page or cut-off JSON. `rate_headers=False`
        leaves X's x-rate-limit-* headers off a 429 (what a proxy in front of X sends).
        `query` narrows the fault to requests carrying these query parameters (one rule's
        search, say `{"query": "acme"}`, and not the follow-up searches beside it); `exact`
        to `path` itself (the stream, not its rules under it).
        """
        hdrs = {k.lower(): str(v) for k, v in (headers or {}).items()}
        if status == 429 and rate_headers:  # X always says when the window reopens
            hdrs.setdefault("x-rate-limit-limit", str(self._limit_for(path, method)))
            hdrs.setdefault("x-rate-limit-remaining", "0")
            hdrs.setdefault("x-rate-limit-reset", str(int(time.time()) + 900))
        with self._lock:
            self._faults.append(_Fault(path, method, status, body, hdrs, times, delay,
                                       query=dict(query) if query else None, exact=exact))

    def refuse_stream_next(self, status: int, *, body: dict | None = None, times: int = 1,
                           headers: dict | None = None) -> None:
        """The next `times` connections to the stream are answered `status` (429, 503, 401 …)."""
        self.fail_next(STREAM_PATH, status=status, body=body, times=times, method="GET", exact=True,
                       headers=headers)

    def rate_limit_next(self, path: str, reset_in_seconds: float, *, times: int = 1,
                        method: str | None = None) -> int:
        """A 429 with X's body and headers; returns the x-rate-limit-reset epoch."""
        reset = math.ceil(time.time() + reset_in_seconds)
        self.fail_next(path, status=429, headers={"x-rate-limit-reset": str(reset)}, times=times, method=method)
        return reset

    def unavailable_next(self, path: str, times: int = 1, *, method: str | None = None) -> None:
        self.fail_next(path, status=503, times=times, method=method)

    def expire_page_tokens(self) -> None:
        """Forget every `next_token` / `pagination_token` handed out so far, as X does with old
        ones: a walk resumed from a stored token gets X's 400 naming the refused parameter."""
        with self._lock:
            self._tokens.clear()

    def partial_error_next(self, path: str, *, errors: list | None = None, times: int = 1,
                           method: str | None = None) -> None:
        """Keep the real 200 answer but add `errors` beside `data` (X's partial error)."""
        with self._lock:
            self._faults.append(_Fault(path, method, 200, None, {}, times, 0.0,
                                       copy.deepcopy(errors or d.PARTIAL_ERRORS)))

    def set_rate_limit(self, path: str, limit: int, *, window_seconds: float = 900.0,
                       method: str = "GET") -> None:
        """Change an endpoint's window (default: X's limits, 15 minutes) and restart it."""
        key = self._route(method, path)[0]
        if key is None:
            raise ValueError(f"no endpoint at {method} {path}")
        with self._lock:
            self._limits[key] = (limit, window_seconds)
            self._windows.pop(key, None)

    def faults_pending(self, path: str = "") -> int:
        """How many injected answers for paths starting with `path` are still to be served
        (0 once a delayed one has been taken: that request is waiting out its delay)."""
        with self._lock:
            return sum(f.times for f in self._faults if f.path.startswith(path) or path.startswith(f.path))

    def requests_to(self, path: str, *, method: str | None = None) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests
                    if (r.path == path or r.path.startswith(path.rstrip("/") + "/"))
                    and (method is None or r.method == method)]

    # --- request handling --------------------------------------------------------
    def _handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes):
        split = urlsplit(raw_path)
        path, query = split.path, dict(parse_qsl(split.query, keep_blank_values=True))
        with self._lock:
            self.requests.append(RecordedRequest(method, path, query, headers, body, time.time()))
        if path != TOKEN_PATH:  # the token endpoint authenticates the client itself
            try:
                caller = self._identify(method, raw_path, headers, body)
            except _AuthError as refused:
                return refused.status, refused.body, {}
            if caller == "app" and self.require_user_context and self._route(method, path)[0] in USER_CONTEXT_ONLY:
                return 403, d.UNSUPPORTED_AUTH, {}
            if caller != "app" and self._route(method, path)[0] in APP_ONLY:
                return 403, APP_ONLY_AUTH, {}
        fault = self._take_fault(method, path, query)
        if fault is not None and fault.delay:
            self._stopping.wait(fault.delay)
        if fault is not None and not fault.passthrough:
            default = {429: d.TOO_MANY_REQUESTS, 401: d.UNAUTHORIZED}.get(fault.status)
            payload = fault.body if fault.body is not None else default or d.generic_problem(fault.status)
            hdrs = dict(fault.headers)
            if isinstance(payload, str):
                hdrs.setdefault("content-type", "text/plain; charset=utf-8")
            return fault.status, payload, hdrs
        route = self._route(method, path)
        if route[0] is None:
            return 404, d.NOT_FOUND_ROUTE, {}
        key, handler, args = route
        with self._lock:
            allowed, rate_headers = self._spend(key)
            if not allowed:
                return 429, d.TOO_MANY_REQUESTS, rate_headers
            try:
                status, payload, extra = handler(query, body, headers, *args)
            except _Refusal as refusal:
                status, payload, extra = refusal.status, refusal.body, {}
        if fault is not None and fault.extra_errors is not None and status == 200:
            payload = {**payload, "errors": payload.get("errors", []) + fault.extra_errors}
        access = "read-write-directmessages" if method != "GET" else "read"
        return status, payload, {"api-version": d.API_VERSION, "x-access-level": access, **rate_headers, **extra}

    def _take_fault(self, method: str, path: str, query: dict[str, str]) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.applies(method, path, query):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _limit_for(self, path: str, method: str | None) -> int:
        key = self._route(method or ("POST" if path == "/2/tweets" else "GET"), path)[0]
        return self._limits.get(key, (450, 0))[0]

    def _spend(self, key: str) -> tuple[bool, dict[str, str]]:
        limit, length = self._limits[key]
        now = time.time()
        window = self._windows.get(key)
        if window is None or now >= window.reset_at:
            window = self._windows[key] = _Window(now + length)
        allowed = window.used < limit
        window.used += allowed
        return allowed, {"x-rate-limit-limit": str(limit),
                         "x-rate-limit-remaining": str(limit - window.used),
                         "x-rate-limit-reset": str(math.ceil(window.reset_at))}

    def _new_id(self, created_at: datetime | None, tweet_id: str | None) -> int:
        if tweet_id is not None:
            if int(tweet_id) in self._posts:
                raise ValueError(f"post {tweet_id} already exists")
            return int(tweet_id)
        self._seq += 1
        tid = d.snowflake(created_at or datetime.now(UTC), self._seq)
        if created_at is None:  # posts made "now" always sort after the ones before them
            tid = self._last_auto_id = max(tid, self._last_auto_id + 1)
        while tid in self._posts:
            tid += 1
        return tid

    def _user_id(self, username: str) -> str | None:
        return self._user_ids.get(username.casefold())

    def _leading_mention(self, text: str) -> str | None:
        word = text.split(maxsplit=1)[0] if text.strip() else ""
        return self._ensure_user(word[1:]) if word.startswith("@") and len(word) > 1 else None

    def _ensure_user(self, username: str) -> str:
        return self._user_ids.get(username.casefold()) or self.add_user(username=username)["id"]

    def _context(self, post: dict, original: dict | None) -> dict:
        """What search matches a post on, fixed when it is made."""
        def names(uid: str | None) -> set[str]:
            user = self._users.get(uid or "")
            return {user["username"], user["id"]} if user else set()

        words = " ".join([d.full_text(post), d.full_text(original) if original else ""])
        return {"words": xq.tokens(words), "author": self._users[post["author_id"]],
                "reply_to_user": names(post.get("in_reply_to_user_id")),
                "retweeted_author": names(original["author_id"]) if original else set()}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as httpx expects

    def version_string(self) -> str:
        return "tsa_f"  # X's front end names itself tsa_*

    def log_message(self, format: str, *args: Any) -> None:
        pass  # tests read FakeX.requests; stderr noise helps nobody

    def _serve(self) -> None:
        fake: FakeX = self.server.fake  # type: ignore[attr-defined]
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            status, payload, extra = fake._handle(self.command, self.path, headers, body)
        except Exception:  # a bug in the fake must show as a 500, not a hung client
            log.exception("FakeX failed on %s %s", self.command, self.path)
            status, payload, extra = 500, d.generic_problem(500), {}
        if isinstance(payload, StreamConnection):
            payload.serve(self, extra)  # until the connection ends
            return
        if isinstance(payload, str):
            data = payload.encode()
        else:
            data = json.dumps(payload, ensure_ascii=False).encode()
            is_problem = isinstance(payload, dict) and payload.get("type") == "about:blank"
            extra = {"content-type": d.PROBLEM_JSON if is_problem else d.JSON, **extra}
        try:
            self.send_response(status)
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout tests)
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve
