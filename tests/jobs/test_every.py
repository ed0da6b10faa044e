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


def test_run_does_a_due_chore_once_and_a_failed_one_again():
    clock = [0.0]
    every, done = Every(60, clock=lambda: clock[0]), []
    every.run(lambda: done.append(1))
    every.run(lambda: done.append(2))
    assert done == [1]

    def failing() -> None:
        raise OSError("database is locked")

    clock[0] += 60
    try:
        every.run(failing)
    except OSError:
        pass
    every.run(lambda: done.append(3))  # the failed one left it due
    assert done == [1, 3]
