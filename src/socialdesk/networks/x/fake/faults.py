"""FakeX's fault injection: answers a test asks for in place of X's real ones.

A mixin over FakeX: it keeps the pending faults (`_init_faults`); FakeX supplies `_lock`,
the page tokens `_tokens` and `_limit_for` (fake/limits.py). `_take_fault` is what a
request meets after the bearer token and before the endpoint's rate-limit window.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass
from typing import Any

from socialdesk.networks.x.fake import data as d
from socialdesk.networks.x.fake.stream import STREAM_PATH


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


class Faults:
    """What tests call to make FakeX fail (429s, 503s, delays, partial errors, odd bodies)."""

    def _init_faults(self) -> None:
        self._faults: list[_Fault] = []

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

    def faults_pending(self, path: str = "") -> int:
        """How many injected answers for paths starting with `path` are still to be served
        (0 once a delayed one has been taken: that request is waiting out its delay)."""
        with self._lock:
            return sum(f.times for f in self._faults if f.path.startswith(path) or path.startswith(f.path))

    def _take_fault(self, method: str, path: str, query: dict[str, str]) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.applies(method, path, query):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
        return None
