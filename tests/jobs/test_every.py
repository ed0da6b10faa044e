"""jobs.every: a chore due at once, then at most once per interval."""

from __future__ import annotations

from socialdesk.jobs.every import Every


def test_due_at_once_then_an_interval_after_each_time_it_was_done():
    clock = [100.0]
    every = Every(60, clock=lambda: clock[0])
    assert every.due()
    every.done()
    assert not every.due()
    clock[0] += 59.9
    assert not every.due()
    clock[0] += 0.1
    assert every.due()
    every.done()
    clock[0] += 600  # a long sleep: due, then not again until an interval after it was done
    assert every.due()
    every.done()
    assert not every.due()


def test_a_chore_that_failed_is_due_again_at_once():
    every = Every(60, clock=lambda: 5.0)
    assert every.due()  # tried, failed: done() never called
    assert every.due()
