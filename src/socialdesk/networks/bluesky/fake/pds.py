"""FakeBluesky: a local XRPC server (a PDS with the AppView calls we use) over `World`.

    with FakeBluesky() as fake:                 # 127.0.0.1, a free port; fake.url
        did = fake.world.add_account("ann.bsky.social", "Ann", followers=50)
        fake.world.add_post(did, "my order is late @brand.bsky.social")
        fake.fail("app.bsky.feed.searchPosts", 503)             # next call answers 503
        fake.fail("com.atproto.repo.createRecord", None, delay=2) # handled, answered 2 s late
        fake.fail("app.bsky.feed.searchPosts", 0)               # connection dropped, no answer

Answers have the recorded shapes (`recorded.json`, the lexicons): createSession and
refreshSession give JWT-shaped tokens whose `exp` is real (access tokens live
`access_ttl` on the world's clock; refresh tokens are single-use); expired access
tokens get 400 ExpiredToken, unknown ones 401 InvalidToken. Every answer carries
`RateLimit-*` headers; `limit(nsid, budget)` makes an endpoint answer 429 once its
budget is spent. `requests()` is the log (method, nsid, query, headers, JSON body).
"""

from __future__ import annotations

import base64
import json
import secrets
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from socialdesk.networks.bluesky.fake.routes import RECORDED, Routes, XrpcError
from socialdesk.networks.bluesky.fake.world import World

_WINDOW = timedelta(seconds=300)  # RateLimit-Policy "3000;w=300"
_LOGIN_LIMIT = 30  # createSession: 30 per 5 minutes per account


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str  # the NSID
    query: dict[str, list[str]]
    headers: dict[str, str]
    json: Any


@dataclass
class _Fault:
    status: int | None  # None: handle the call normally (after `delay`); 0: drop the connection
    body: Any
    times: int
    headers: dict[str, str]
    delay: float


@dataclass
class _Budget:
    remaining: int
    reset_at: datetime | None


def jwt(payload: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    return f"{part({'typ': 'at+jwt', 'alg': 'ES256K'})}.{part(payload)}.{secrets.token_urlsafe(32)}"


class FakeBluesky:
    def __init__(self, world: World | None = None, *, brand_handle: str = "brand.bsky.social",
                 brand_password: str = "brand-app-password", access_ttl: timedelta = timedelta(hours=2),
                 host: str = "127.0.0.1", port: int = 0) -> None:
        self.world = world or World(brand_handle=brand_handle, brand_password=brand_password)
        self.access_ttl = access_ttl
        self.reject_cursors = False  # answer any `cursor` with 400 InvalidRequest
        self.ignore_reasons = False  # listNotifications as older servers: every reason listed
        self._lock = threading.Lock()
        self._faults: dict[str, list[_Fault]] = {}
        self._budgets: dict[str, _Budget] = {}
        self._log: list[RecordedRequest] = []
        self._access: dict[str, tuple[str, datetime]] = {}  # token → (did, expires)
        self._refresh: dict[str, str] = {}  # unused refresh token → did
        self._logins: list[datetime] = []
        self._routes = Routes(self)
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> FakeBluesky:
        if self._thread is None:
            self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                            name="fake-bluesky", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> FakeBluesky:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # --- faults, limits, log -----------------------------------------------------------

    def fail(self, path: str, status: int | None, body: Any = None, times: int = 1,
             headers: dict[str, str] | None = None, delay: float = 0) -> None:
        """The next `times` calls to `path` (an NSID) fail so (see the module docstring)."""
        with self._lock:
            self._faults.setdefault(_nsid(path), []).append(_Fault(status, body, times, dict(headers or {}), delay))

    def limit(self, path: str, budget: int, *, reset_at: datetime | None = None) -> None:
        """`path` answers `budget` more calls, then 429 until `reset_at` (default: 5 minutes on)."""
        with self._lock:
            self._budgets[_nsid(path)] = _Budget(budget, reset_at)

    def requests(self, path: str | None = None, *, method: str | None = None) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self._log if (path is None or r.path == _nsid(path))
                    and (method is None or r.method == method)]

    def expire_access_tokens(self) -> None:
        """Every access token issued so far is expired from now on (the server's view)."""
        with self._lock:
            past = self.world.clock() - timedelta(seconds=1)
            self._access = {t: (did, past) for t, (did, _) in self._access.items()}

    def revoke_refresh_tokens(self) -> None:
        with self._lock:
            self._refresh.clear()

    # --- sessions (used by Routes) ----------------------------------------------------

    def issue_session(self, did: str) -> dict[str, Any]:
        now = self.world.clock()
        expires = now + self.access_ttl
        access = jwt({"scope": "com.atproto.access", "sub": did, "aud": "did:web:fake.pds.local",
                      "iat": int(now.timestamp()), "exp": int(expires.timestamp())})
        refresh = jwt({"scope": "com.atproto.refresh", "sub": did, "aud": "did:web:fake.pds.local",
                       "jti": secrets.token_urlsafe(16), "iat": int(now.timestamp()),
                       "exp": int((now + timedelta(days=90)).timestamp())})
        with self._lock:
            self._access[access] = (did, expires)
            self._refresh[refresh] = did
        account = self.world.accounts[did]
        return {"accessJwt": access, "refreshJwt": refresh, "handle": account.handle, "did": did,
                "email": f"{account.handle}@example.com", "emailConfirmed": True, "active": True}

    def count_login(self) -> None:
        now = self.world.clock()
        with self._lock:
            self._logins = [t for t in self._logins if t > now - _WINDOW]
            if len(self._logins) >= _LOGIN_LIMIT:
                reset = int((self._logins[0] + _WINDOW).timestamp())
                raise XrpcError(429, "RateLimitExceeded", "Rate Limit Exceeded",
                                {"RateLimit-Limit": str(_LOGIN_LIMIT), "RateLimit-Remaining": "0",
                                 "RateLimit-Reset": str(reset), "RateLimit-Policy": f"{_LOGIN_LIMIT};w=300"})
            self._logins.append(now)

    def take_refresh(self, token: str) -> str:
        with self._lock:
            did = self._refresh.pop(token, None)
        if did is None:
            raise XrpcError(400, "ExpiredToken", "Token has been revoked")
        return did

    def caller(self, headers: dict[str, str]) -> str:
        """The DID whose access token authorizes this call."""
        token = headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not token:
            raise XrpcError(401, "AuthMissing", "Authentication Required")
        with self._lock:
            entry = self._access.get(token)
        if entry is None:
            raise XrpcError(401, "InvalidToken", "Token could not be verified")
        if self.world.clock() >= entry[1]:
            raise XrpcError(400, "ExpiredToken", "Token has expired")
        return entry[0]

    # --- one request -------------------------------------------------------------------

    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes
               ) -> tuple[int | None, Any, dict[str, str], float]:
        """(status, JSON body, headers, delay); status None drops the connection."""
        parts = urlsplit(raw_path)
        nsid = _nsid(parts.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            payload = None
        with self._lock:
            self._log.append(RecordedRequest(method, nsid, query, dict(headers), payload))
            fault = self._take_fault(nsid)
        if fault is not None and fault.status is not None:
            if fault.status == 0:
                return None, None, {}, fault.delay
            error = fault.body if fault.body is not None else {"error": "InternalServerError" if fault.status >= 500
                                                               else "InvalidRequest", "message": "injected fault"}
            return fault.status, error, {**self._rate_headers(nsid, spend=False), **fault.headers}, fault.delay
        delay = fault.delay if fault is not None else 0.0
        try:
            limited = self._spend(nsid)
            if limited is not None:
                return 429, {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}, limited, delay
            status, answer = self._routes.dispatch(method, nsid, query, headers, payload)
            return status, answer, self._rate_headers(nsid, spend=False), delay
        except XrpcError as exc:
            return exc.status, {"error": exc.error, "message": exc.message}, \
                {**self._rate_headers(nsid, spend=False), **exc.headers}, delay

    def _take_fault(self, nsid: str) -> _Fault | None:
        queue = self._faults.get(nsid) or []
        if not queue:
            return None
        fault = queue[0]
        fault.times -= 1
        if fault.times <= 0:
            queue.pop(0)
        return fault

    def _spend(self, nsid: str) -> dict[str, str] | None:
        """None when the call may go on; the 429's headers when its budget is spent."""
        with self._lock:
            budget = self._budgets.get(nsid)
            if budget is None:
                return None
            if budget.remaining <= 0:
                return self._rate_headers(nsid, spend=False)
            budget.remaining -= 1
            return None

    def _rate_headers(self, nsid: str, *, spend: bool) -> dict[str, str]:
        now = self.world.clock()
        budget = self._budgets.get(nsid)
        if budget is not None:
            reset = budget.reset_at or (now + _WINDOW)
            return {"RateLimit-Limit": "3000", "RateLimit-Remaining": str(max(budget.remaining, 0)),
                    "RateLimit-Reset": str(int(reset.timestamp())), "RateLimit-Policy": "3000;w=300"}
        headers = dict(RECORDED["rate_limit_headers"])
        headers["RateLimit-Reset"] = str(int((now + _WINDOW).timestamp()))
        return headers


def _nsid(path: str) -> str:
    return path.split("?", 1)[0].removeprefix("/xrpc/").strip("/")


def _handler_for(fake: FakeBluesky) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet in tests
            pass

        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, answer, extra, delay = fake.handle(method, self.path, headers, body)
            if delay:
                time.sleep(delay)
            if status is None:  # a dropped connection: no status line at all
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            data = json.dumps(answer).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

    return Handler


__all__ = ["FakeBluesky", "RecordedRequest", "World", "jwt"]
