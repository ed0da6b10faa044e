"""A proxy in front of the Slack emulator that can answer 429 like Slack does.

The emulator has no Slack rate limiting; this adds it for the tests: the next N
calls to a method get `429 Too Many Requests` with `Retry-After`, and every call's
arrival time is recorded. Methods the emulator lacks can be answered here instead
(`answer`): with a fixed response, or by a function of the call (e.g.
`apps.connections.open` from tests.support.socket_mode, a fresh URL each call).
`hold_next` lets a call through to the emulator but keeps its answer back until
`release()`: the message is in Slack and the app does not know it yet (a crash then
lands exactly between "posted" and "ts recorded").
"""

from __future__ import annotations

import threading
import time
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from tests.support.http import local


@dataclass(frozen=True)
class Call:
    method: str
    at: float  # time.monotonic() on arrival
    status: int
    params: dict = field(default_factory=dict)  # the request, decoded (JSON or form)
    response: dict = field(default_factory=dict)


class SlackProxy:
    def __init__(self, upstream_api_url: str) -> None:
        self.upstream = upstream_api_url
        self.calls: list[Call] = []
        self._limits: dict[str, list[int]] = {}  # method -> [times, retry_after]
        self._canned: dict[str, dict | Callable[[dict, str], dict]] = {}
        # Added to every answer passed on from the emulator: headers Slack sends and it does not (x-oauth-scopes).
        self.response_headers: dict[str, str] = {}
        self._holds: dict[str, int] = {}  # method -> how many more calls to hold
        self._held: list[str] = []  # methods of the calls whose answers are held now
        self._released = threading.Event()
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                method = self.path.rsplit("/", 1)[-1]
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                canned = proxy._canned.get(method)
                if canned is not None:  # a method the emulator lacks (user groups, apps.connections.open)
                    params = _decode(body, self.headers.get("Content-Type", ""))
                    if callable(canned):
                        canned = canned(params, self.headers.get("Authorization", ""))
                    payload = json.dumps(canned).encode()
                    proxy._note(method, 200, params, canned)
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                retry_after = proxy._take_limit(method)
                if retry_after is not None:
                    proxy._note(method, 429)
                    payload = b'{"ok":false,"error":"ratelimited"}'
                    self.send_response(429)
                    self.send_header("Retry-After", str(retry_after))
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() in ("authorization", "content-type")}
                upstream = local().post(proxy.upstream + method, content=body, headers=headers, timeout=30)
                proxy._note(method, upstream.status_code, _decode(body, self.headers.get("Content-Type", "")),
                            _json(upstream.content))
                if proxy._hold(method):
                    try:
                        self._answer(upstream)
                    except OSError:  # the app died while its answer was held: nobody to tell
                        pass
                    return
                self._answer(upstream)

            def _answer(self, upstream: httpx.Response) -> None:
                self.send_response(upstream.status_code)
                self.send_header("Content-Type", upstream.headers.get("content-type", "application/json"))
                for name, value in proxy.response_headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(upstream.content)))
                self.end_headers()
                self.wfile.write(upstream.content)

        # Slack takes a burst of concurrent calls; http.server queues only 5 connections by default
        # (the rest are reset, and the app's retries would make a test measure the proxy).
        Server = type("Server", (ThreadingHTTPServer,), {"request_queue_size": 128, "daemon_threads": True})
        self._server = Server(("127.0.0.1", 0), Handler)
        # Polled every 50 ms, not 500: a test's teardown waits that long for the shutdown.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/"

    def __enter__(self) -> SlackProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()

    def answer(self, method: str, response: dict | Callable[[dict, str], dict]) -> None:
        """Answer `method` with `response` (Slack's shape) instead of the emulator; a callable
        gets the decoded request and its Authorization header and returns the response."""
        self._canned[method] = response

    def rate_limit(self, method: str, *, retry_after: int, times: int = 1) -> None:
        with self._lock:
            self._limits[method] = [times, retry_after]

    def hold_next(self, method: str, *, times: int = 1) -> None:
        """Forward the next `times` calls to `method`, then keep their answers until `release()`."""
        with self._lock:
            self._holds[method] = times
            self._released.clear()

    def held(self, method: str) -> int:
        """How many calls to `method` are in the emulator and waiting for their answer here."""
        with self._lock:
            return self._held.count(method)

    def release(self) -> None:
        """Send the held answers (to whoever is still there) and hold nothing more."""
        with self._lock:
            self._holds.clear()
            self._released.set()

    def _hold(self, method: str) -> bool:
        """Hold this call's answer if asked to (until `release()`, a minute at most); True if it was held."""
        with self._lock:
            if self._holds.get(method, 0) <= 0:
                return False
            self._holds[method] -= 1
            self._held.append(method)
        try:
            self._released.wait(60)
        finally:
            with self._lock:
                self._held.remove(method)
        return True

    def times_of(self, method: str, status: int | None = 200) -> list[float]:
        return [c.at for c in self.calls if c.method == method and (status is None or c.status == status)]

    def _take_limit(self, method: str) -> int | None:
        with self._lock:
            limit = self._limits.get(method)
            if not limit or limit[0] <= 0:
                return None
            limit[0] -= 1
            return limit[1]

    def _note(self, method: str, status: int, params: dict | None = None, response: dict | None = None) -> None:
        with self._lock:
            self.calls.append(Call(method, time.monotonic(), status, params or {}, response or {}))

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]


def _decode(body: bytes, content_type: str) -> dict:
    if "json" in content_type:
        return _json(body)
    params = dict(parse_qsl(body.decode(errors="replace")))
    for key in ("view", "blocks", "metadata"):
        if key in params:
            params[key] = _json(params[key].encode())
    return params


def _json(raw: bytes) -> dict:
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {"value": value}
