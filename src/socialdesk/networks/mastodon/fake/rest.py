"""FakeMastodon: a local Mastodon REST API (and its streaming server) over a MastodonWorld.

    with FakeMastodon() as fake:                   # 127.0.0.1, free ports; fake.url, fake.streaming.url
        ann = fake.world.add_account("ann", "Ann", domain="other.example")
        fake.world.add_status(ann, "my #acmephones X3 is dead @acmecare@mastodon.example")
        fake.fail("/api/v1/timelines/tag/:hashtag", 503)          # the next call answers 503
        fake.fail("/api/v1/statuses", None, delay=2)              # handled, answered 2 s late
        fake.fail("/api/v1/notifications", 0)                     # connection dropped, no answer
        fake.limit("/api/v1/notifications", 0)                    # 429 until the reset

Every answer carries X-RateLimit-Limit / -Remaining / -Reset (an ISO time with microseconds,
as recorded): 300 requests per 5 minutes per caller, windows ending on the 5 minutes as
Mastodon's do, and for POST /api/v1/statuses also 300 per 3 hours (the headers name the
limit closest to running out). A spent limit answers 429 {"error": "Too many requests"}.
The token is `world.brand_token` (Authorization: Bearer, or `access_token`); without one,
the public methods answer as to anyone and the others 401. `requests()` is the log.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, unquote, urlsplit

from socialdesk.networks.mastodon.fake.routes import Answer, ApiError, Request, Routes
from socialdesk.networks.mastodon.fake.streaming import FakeStreaming
from socialdesk.networks.mastodon.fake.templates import RECORDED
from socialdesk.networks.mastodon.fake.world import MastodonWorld

LIMIT = 300
_WINDOWS = {"all": timedelta(minutes=5), "statuses": timedelta(hours=3)}  # rate-limits.md, statuses per account


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str  # as requested, e.g. /api/v1/timelines/tag/acme
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    form: dict[str, str] | None  # a form body (last value of each name)
    json: Any
    route: str | None = None  # the route pattern it matched, e.g. /api/v1/timelines/tag/:hashtag


@dataclass
class _Fault:
    method: str | None
    status: int | None  # None: handle normally after `delay`; 0: drop the connection
    body: Any
    times: int
    delay: float
    after_handling: bool


@dataclass
class _Window:
    period: timedelta
    used: int = 0
    reset_at: datetime | None = None


@dataclass
class _Budget:
    remaining: int
    reset_at: datetime


def iso_micro(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class FakeMastodon:
    def __init__(self, world: MastodonWorld | None = None, **world_kwargs: Any) -> None:
        self.world = world or MastodonWorld(**world_kwargs)
        self.streaming = FakeStreaming(self.world)
        self._lock = threading.Lock()
        self._faults: dict[str, list[_Fault]] = {}
        self._budgets: dict[str, _Budget] = {}
        self._windows: dict[tuple[str, str], _Window] = {}
        self._log: list[RecordedRequest] = []
        self._routes = Routes(self)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._open: set[socket.socket] = set()
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> FakeMastodon:
        if self._thread is None:
            self.streaming.start()
            self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                            name="fake-mastodon", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
            self.streaming.stop()
        with self._lock:
            sockets, self._open = list(self._open), set()
        for sock in sockets:  # keep-alive connections would otherwise outlive the server
            _cut(sock)
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # --- faults, limits, log -----------------------------------------------------------

    def fail(self, path: str, status: int | None, body: Any = None, times: int = 1, delay: float = 0.0, *,
             method: str | None = None, after_handling: bool = False) -> None:
        """The next `times` calls to route `path` fail so: `status` 0 drops the connection, None answers
        normally after `delay`. `body`: JSON, or a str sent as HTML. `after_handling`: the call takes
        effect first (a status is posted) and only its answer is replaced (a reply whose answer was lost)."""
        with self._lock:
            self._faults.setdefault(path, []).append(_Fault(method, status, body, times, delay, after_handling))

    def limit(self, path: str, remaining: int, *, reset_at: datetime | None = None) -> None:
        """Route `path` answers `remaining` more calls, then 429 until `reset_at` (default: the window's end).
        `path` "*" sets the caller's 300-per-5-minutes window itself."""
        now = self.world.clock()
        with self._lock:
            if path == "*":
                window = self._window("all", self.world.brand.id, now)
                window.used = LIMIT - remaining
                window.reset_at = reset_at or window.reset_at
            else:
                self._budgets[path] = _Budget(remaining, reset_at or _window_end(now, _WINDOWS["all"]))

    def requests(self, path: str | None = None, *, method: str | None = None) -> list[RecordedRequest]:
        """The log; `path` matches a route pattern or the requested path."""
        with self._lock:
            return [r for r in self._log if (path is None or path in (r.route, r.path))
                    and (method is None or r.method == method)]

    # --- one request -------------------------------------------------------------------

    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes
               ) -> tuple[int | None, Any, dict[str, str], float]:
        """(status, body, headers, delay); status None drops the connection."""
        parts = urlsplit(raw_path)
        path = unquote(parts.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        form, payload = _body(headers.get("content-type", ""), body)
        matched = self._routes.match(method, path)
        route = matched[0] if matched else None
        token = headers.get("authorization", "").removeprefix("Bearer ").strip() or \
            (query.get("access_token") or [""])[0]
        caller = self.world.token_owner(token)
        with self._lock:
            self._log.append(RecordedRequest(method, path, query, dict(headers),
                                             {k: v[-1] for k, v in form.items()} if form and payload is None else None,
                                             payload, route))
            fault = self._take_fault(route or path, method)
        delay = fault.delay if fault else 0.0
        if fault is not None and fault.status is not None and not fault.after_handling:
            return self._faulted(fault, route, caller)
        limited = self._spend(route, method, caller)
        if limited is not None:
            return 429, dict(RECORDED["errors"]["too_many_requests"]), limited, delay
        request = Request(method, path, matched[1] if matched else {}, query,
                          _as_lists(payload) if isinstance(payload, dict) else form, headers, caller)
        try:
            answer = self._routes.dispatch(route, method, request) if route else None
            if answer is None:
                raise ApiError(404, dict(RECORDED["errors"]["not_found"]))
        except ApiError as exc:
            answer = Answer(exc.status, exc.body)
        if fault is not None and fault.status is not None:
            return self._faulted(fault, route, caller)
        return answer.status, answer.body, {**self._rate_headers(route, method, caller), **answer.headers}, delay

    def _faulted(self, fault: _Fault, route: str | None, caller: Any) -> tuple[int | None, Any, dict[str, str], float]:
        if fault.status == 0:
            return None, None, {}, fault.delay
        assert fault.status is not None
        body = fault.body if fault.body is not None else {"error": HTTPStatus(fault.status).phrase}
        return fault.status, body, self._rate_headers(route, "GET", caller), fault.delay

    def _take_fault(self, key: str, method: str) -> _Fault | None:
        queue = self._faults.get(key) or []
        for fault in queue:
            if fault.method is None or fault.method == method:
                fault.times -= 1
                if fault.times <= 0:
                    queue.remove(fault)
                return fault
        return None

    # --- rate limits -------------------------------------------------------------------

    def _buckets(self, route: str | None, method: str) -> list[str]:
        return ["all", "statuses"] if (route, method) == ("/api/v1/statuses", "POST") else ["all"]

    def _window(self, bucket: str, who: str, now: datetime) -> _Window:
        window = self._windows.setdefault((bucket, who), _Window(_WINDOWS[bucket]))
        if window.reset_at is None or now >= window.reset_at:
            window.used, window.reset_at = 0, _window_end(now, window.period)
        return window

    def _spend(self, route: str | None, method: str, caller: Any) -> dict[str, str] | None:
        """None when the call may go on, else the 429's headers."""
        now = self.world.clock()
        who = caller.id if caller is not None else "anonymous"
        with self._lock:
            budget = self._budgets.get(route or "")
            if budget is not None and now >= budget.reset_at:
                del self._budgets[route or ""]
                budget = None
            windows = [self._window(b, who, now) for b in self._buckets(route, method)]
            if (budget is not None and budget.remaining <= 0) or any(w.used >= LIMIT for w in windows):
                return self._rate_headers(route, method, caller, locked=True)
            if budget is not None:
                budget.remaining -= 1
            for window in windows:
                window.used += 1
        return None

    def _rate_headers(self, route: str | None, method: str, caller: Any, *, locked: bool = False) -> dict[str, str]:
        if not locked:
            with self._lock:
                return self._rate_headers(route, method, caller, locked=True)
        now = self.world.clock()
        who = caller.id if caller is not None else "anonymous"
        budget = self._budgets.get(route or "")
        if budget is not None:
            remaining, reset = budget.remaining, budget.reset_at
        else:  # the limit closest to running out, as Mastodon reports it
            windows = [self._window(b, who, now) for b in self._buckets(route, method)]
            window = min(windows, key=lambda w: LIMIT - w.used)
            remaining, reset = LIMIT - window.used, window.reset_at or now
        return {"X-RateLimit-Limit": str(LIMIT), "X-RateLimit-Remaining": str(max(remaining, 0)),
                "X-RateLimit-Reset": iso_micro(reset)}


def _window_end(now: datetime, period: timedelta) -> datetime:
    """Mastodon's windows end on multiples of the period (13:53:15.9 → 13:55:00.9 for 5 minutes)."""
    seconds = int(period.total_seconds())
    return now + timedelta(seconds=seconds - int(now.timestamp()) % seconds)


def _body(content_type: str, body: bytes) -> tuple[dict[str, list[str]], Any]:
    if not body:
        return {}, None
    if "json" in content_type:
        try:
            return {}, json.loads(body)
        except ValueError:
            return {}, None
    return parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True), None


def _as_lists(payload: dict[str, Any]) -> dict[str, list[str]]:
    out = {}
    for key, value in payload.items():
        values = value if isinstance(value, list) else [value]
        out[key] = ["true" if v is True else "false" if v is False else "" if v is None else str(v) for v in values]
    return out


def _cut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _handler_for(fake: FakeMastodon) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a real instance behind nginx

        def log_message(self, format: str, *args: Any) -> None:  # quiet in tests
            pass

        def setup(self) -> None:
            super().setup()
            # Headers and body go out as two writes: without this, Nagle and delayed ACKs add ~40 ms a call.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with fake._lock:
                fake._open.add(self.connection)

        def finish(self) -> None:
            with fake._lock:
                fake._open.discard(self.connection)
            try:
                super().finish()
            except OSError:
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
                _cut(self.connection)
                return
            if isinstance(answer, str):
                data = answer.encode()
                kind = "text/plain; charset=utf-8" if answer == "OK" else "text/html; charset=utf-8"
            else:
                data, kind = json.dumps(answer, ensure_ascii=False).encode(), "application/json; charset=utf-8"
            try:
                self.send_response(status)
                self.send_header("Content-Type", kind)
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

        def do_DELETE(self) -> None:
            self._serve("DELETE")

    return Handler


__all__ = ["FakeMastodon", "MastodonWorld", "RecordedRequest"]
