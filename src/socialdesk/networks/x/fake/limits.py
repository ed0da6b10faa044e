"""FakeX's rate limits: each endpoint's 15-minute window, as X counts and reports it.

A mixin over FakeX: it keeps each endpoint's limit and window (`_init_limits`); FakeX
supplies `_route` (fake/api.py) and `_lock`. A request meets its endpoint's window after
the bearer token and any injected fault (fake/faults.py), and gets X's x-rate-limit-*
headers from it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from socialdesk.networks.x.fake import data as d


@dataclass
class _Window:
    reset_at: float
    used: int = 0


class RateLimits:
    """Windows per endpoint key (fake/api.py's `_route`); X's limits by default (fake/data.py)."""

    def _init_limits(self) -> None:
        self._limits = {key: (limit, 900.0) for key, limit in d.RATE_LIMITS.items()}
        self._windows: dict[str, _Window] = {}

    def set_rate_limit(self, path: str, limit: int, *, window_seconds: float = 900.0,
                       method: str = "GET") -> None:
        """Change an endpoint's window (default: X's limits, 15 minutes) and restart it."""
        key = self._route(method, path)[0]
        if key is None:
            raise ValueError(f"no endpoint at {method} {path}")
        with self._lock:
            self._limits[key] = (limit, window_seconds)
            self._windows.pop(key, None)

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
