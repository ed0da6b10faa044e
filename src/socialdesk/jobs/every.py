"""A chore a job does now and then (pruning its old rows), not on each of its runs."""

from __future__ import annotations

import time
from collections.abc import Callable

HOURLY = 3600.0


class Every:
    """Due at once, then `seconds` of `clock` (monotonic) after each `done()`: a chore that failed
    (the database was locked) is due again on the next run, not an interval later."""

    def __init__(self, seconds: float = HOURLY, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._seconds, self._clock = seconds, clock
        self._next = 0.0

    def due(self) -> bool:
        return self._clock() >= self._next

    def done(self) -> None:
        self._next = self._clock() + self._seconds

    def run(self, chore: Callable[[], object]) -> None:
        """`chore()` if it is due, then done; if it raises, it stays due (and the error goes on)."""
        if self.due():
            chore()
            self.done()
