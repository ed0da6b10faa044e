"""FakeX: an in-memory X API v2 on 127.0.0.1, for tests and the local sandbox.

It answers in the shapes of the real recordings in ../shared/refs/x (see
fake_x_data for each body's provenance). A request goes through what X puts in
front of an endpoint, in X's order: the bearer token (401 from the gateway),
then any injected fault, then the endpoint's 15-minute rate-limit window, then
the endpoint itself.

This module holds FakeX itself (its state, lifecycle and that request path) and
the HTTP handler; the rest is mixed in: users and posts (fake/content.py), fault
injection (fake/faults.py), rate-limit windows (fake/limits.py), auth
(fake/auth.py), the endpoints (fake/api.py) and the filtered stream (fake/stream.py).
"""

from __future__ import annotations

import copy
import json
import logging
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from socialdesk.networks.x.fake import data as d
from socialdesk.networks.x.fake.api import XApi, _Refusal
from socialdesk.networks.x.fake.auth import TOKEN_PATH, USER_CONTEXT_ONLY, OAuth1Keys, XAuthServer, _AuthError
from socialdesk.networks.x.fake.content import Content
from socialdesk.networks.x.fake.faults import Faults
from socialdesk.networks.x.fake.limits import RateLimits
from socialdesk.networks.x.fake.stream import APP_ONLY, APP_ONLY_AUTH, StreamApi, StreamConnection

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


class FakeX(Content, Faults, RateLimits, XApi, StreamApi, XAuthServer):
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
        self._init_faults()
        self._init_limits()
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

    # --- recorded requests -------------------------------------------------------
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
