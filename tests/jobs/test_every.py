"""jobs.every: a chore due at once, then at most once per interval."""

from __future__ import annotations

from socialdesk.jobs.every import Every


def test_due_at_once_then_once_per_interval():
    clock = [100.0]
    every = Every(60, clock=lambda: clock[0])
    assert every.due() and not every.due()
    clock[0] += 59.9
    assert not every.due()
    clock[0] += 0.1
    assert every.due() and not every.due()
    clock[0] += 600  # a long sleep: due once, not once per interval missed
    assert every.due() and not every.due()
