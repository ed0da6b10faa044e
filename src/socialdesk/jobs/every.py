"""A chore a job does now and then (pruning its old rows), not on each of its runs."""

from __future__ import annotations

import time
from collections.abc import Callable

HOURLY = 3600.0


class Every:
    """`due()` is True at most once per `seconds` of `clock` (monotonic), the first time at once."""

    def __init__(self, seconds: float = HOURLY, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._seconds, self._clock = seconds, clock
        self._next = 0.0

    def due(self) -> bool:
        now = self._clock()
        if now < self._next:
            return False
        self._next = now + self._seconds
        return True
