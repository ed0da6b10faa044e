"""Digest schedules and runs, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from socialdesk.store import digests
from socialdesk.store.db import session_scope

NOW = datetime(2026, 3, 27, 8, 0, tzinfo=UTC)
DAY = datetime(2026, 3, 26, 0, 0, tzinfo=UTC)


def add(engine, spec="daily 09:00", targets=("C0SOCIAL",)) -> int:
    with session_scope(engine) as session:
        row = digests.add_schedule(session=session, spec=spec, targets=list(targets), created_by="U0MIA", now=NOW)
        return row.id


def test_add_list_pause_remove(engine):
    first = add(engine, "Daily 9:00", ["C0SOCIAL", "U0ALICE", "C0SOCIAL"])
    second = add(engine, "weekly Monday 07:30", ["G0PRIVATE", "W0GRID"])
    with session_scope(engine) as session:
        rows = digests.list_schedules(session=session)
    assert [(r.id, r.spec, r.targets, r.paused) for r in rows] == [
        (first, "daily 09:00", ["C0SOCIAL", "U0ALICE"], False),  # canonical spec, targets deduplicated
        (second, "weekly mon 07:30", ["G0PRIVATE", "W0GRID"], False),
    ]
    assert rows[0].created_by == "U0MIA" and rows[0].created_at == NOW

    with session_scope(engine) as session:
        assert digests.set_paused(session=session, schedule_id=first, paused=True) is True
        assert digests.set_paused(session=session, schedule_id=999, paused=True) is False
    with session_scope(engine) as session:
        assert [r.paused for r in digests.list_schedules(session=session)] == [True, False]
        assert digests.set_paused(session=session, schedule_id=first, paused=False) is True
    with session_scope(engine) as session:
        assert digests.get_schedule(session=session, schedule_id=first).paused is False

    with session_scope(engine) as session:
        assert digests.claim_run(session=session, schedule_id=first, period_start=DAY, now=NOW) is not None
    with session_scope(engine) as session:
        assert digests.remove_schedule(session=session, schedule_id=first) is True  # its runs go with it
        assert digests.remove_schedule(session=session, schedule_id=first) is False
    with session_scope(engine) as session:
        assert [r.id for r in digests.list_schedules(session=session)] == [second]
        assert digests.runs(session=session, schedule_id=first) == []


@pytest.mark.parametrize(
    ("spec", "targets", "message"),
    [
        ("hourly 09:00", ["C0SOCIAL"], "not a digest schedule"),
        ("daily 24:00", ["C0SOCIAL"], "not a time of day"),
        ("weekly 09:00", ["C0SOCIAL"], "not a digest schedule"),
        ("daily 09:00", [], "at least one"),
        ("daily 09:00", ["#social-care"], "not a Slack channel or user id"),
        ("daily 09:00", ["D0DIRECT"], "not a Slack channel or user id"),
        ("daily 09:00", ["c0lower"], "not a Slack channel or user id"),
        ("daily 09:00", [f"C{i:04d}" for i in range(21)], "at most 20"),
    ],
)
def test_bad_specs_and_targets_are_refused_with_a_reason(engine, spec, targets, message):
    with session_scope(engine) as session:
        with pytest.raises(ValueError, match=message):
            digests.add_schedule(session=session, spec=spec, targets=targets, created_by="U0MIA", now=NOW)
    with session_scope(engine) as session:
        assert digests.list_schedules(session=session) == []


def test_a_period_is_claimed_once(engine):
    schedule_id = add(engine)
    with session_scope(engine) as session:
        run = digests.claim_run(session=session, schedule_id=schedule_id, period_start=DAY, now=NOW)
        assert run is not None and run.id is not None
        run_id = run.id
    with session_scope(engine) as session:
        # A second replica, or a re-fire: the same period is already taken; the transaction stays usable.
        assert digests.claim_run(session=session, schedule_id=schedule_id, period_start=DAY,
                                 now=NOW + timedelta(seconds=1)) is None
        assert digests.list_schedules(session=session)[0].id == schedule_id
        digests.finish_run(session=session, run_id=run_id, result={"posted": {"C0SOCIAL": "1.0"}, "failed": {}},
                           now=NOW + timedelta(seconds=2))
    with session_scope(engine) as session:
        # The next period is a new run.
        assert digests.claim_run(session=session, schedule_id=schedule_id, period_start=DAY + timedelta(days=1),
                                 now=NOW) is not None
    with session_scope(engine) as session:
        [latest, done] = digests.runs(session=session, schedule_id=schedule_id)
    assert done.id == run_id and done.period_start == DAY and done.finished_at == NOW + timedelta(seconds=2)
    assert done.result == {"posted": {"C0SOCIAL": "1.0"}, "failed": {}}
    assert latest.period_start == DAY + timedelta(days=1) and latest.finished_at is None


def test_a_run_for_a_removed_schedule_is_not_claimed(engine):
    schedule_id = add(engine)
    with session_scope(engine) as session:
        digests.remove_schedule(session=session, schedule_id=schedule_id)
    with session_scope(engine) as session:
        assert digests.claim_run(session=session, schedule_id=schedule_id, period_start=DAY, now=NOW) is None
