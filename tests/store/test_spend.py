"""store.spend: each resource billed once per network, UTC day and kind; counts per rule and day; pruning."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

from socialdesk.store import spend
from socialdesk.store.db import session_scope

RATES = {"post": 0.005, "user": 0.010}
NOON = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def record(engine, reads, *, rule_id=1, now=NOON, network="n"):
    with session_scope(engine) as session:
        return spend.record(session=session, network=network, rule_id=rule_id, reads=reads, rates=RATES, now=now)


def month(engine, start=date(2026, 12, 1), end=date(2027, 1, 1)):
    with session_scope(engine) as session:
        return spend.spent(session=session, start=start, end=end)


def test_a_resource_is_billed_once_a_utc_day_whichever_rule_reads_it(engine):
    assert record(engine, {"post": ["1", "2", "2"], "user": ["u1"]}) == {"post": 2, "user": 1}
    # The same posts again, by another rule, later that day: free. A new one is billed to that rule.
    assert record(engine, {"post": ["1", "2", "3"], "user": ["u1"]}, rule_id=2,
                  now=NOON + timedelta(hours=11, minutes=59)) == {"post": 1}
    # After midnight UTC they are billed again.
    assert record(engine, {"post": ["1"]}, now=NOON + timedelta(hours=12)) == {"post": 1}
    rows = {(s.rule_id, s.kind): (s.reads, round(s.cost, 6)) for s in month(engine)}
    assert rows == {(1, "post"): (3, 0.015), (1, "user"): (1, 0.01), (2, "post"): (1, 0.005)}


def test_an_id_holding_nul_is_billed_without_it(engine):
    """Billed in the page's transaction: PostgreSQL refusing the id would fail the page."""
    assert record(engine, {"post": ["7\x00", "7"]}) == {"post": 1}


def test_kinds_without_a_rate_and_other_networks_are_apart(engine):
    assert record(engine, {"post": ["1"], "dm": ["d1"]}) == {"post": 1}  # no rate: not billed
    assert record(engine, {"post": ["1"]}, network="m") == {"post": 1}  # another network bills its own
    assert record(engine, {"post": []}) == {}
    with session_scope(engine) as session:
        assert spend.seen_count(session=session, network="n") == {"post": 1}


def test_no_rule_is_counted_as_rule_zero(engine):
    record(engine, {"post": ["9"]}, rule_id=None)
    assert [(s.rule_id, s.reads) for s in month(engine)] == [(spend.NO_RULE, 1)]


def test_many_resources_in_one_call_are_all_counted(engine):
    ids = [str(i) for i in range(1234)]  # more than one INSERT's worth
    assert record(engine, {"post": ids}) == {"post": 1234}
    assert record(engine, {"post": ids}) == {}


def test_two_replicas_recording_the_same_page_bill_it_once(engine):
    ids = [str(i) for i in range(300)]
    results: list[dict[str, int]] = []
    errors: list[BaseException] = []

    def one() -> None:
        try:
            results.append(record(engine, {"post": ids}))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sum(r.get("post", 0) for r in results) == 300
    assert [(s.reads) for s in month(engine)] == [300]


def test_replicas_billing_overlapping_resources_in_any_order_do_not_deadlock(engine):
    """Two rules polled at once on two replicas share authors: each transaction waits for the other's
    rows in one order (sorted), so PostgreSQL never has to abort one of them."""
    ids = [str(i) for i in range(200)]
    errors: list[BaseException] = []

    def one(order: list[str], kinds: tuple[str, str], rule_id: int) -> None:
        try:
            for _ in range(5):
                with session_scope(engine) as session:
                    spend.record(session=session, network="n", rule_id=rule_id, rates=RATES, now=NOON,
                                 reads={kinds[0]: order, kinds[1]: order})
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(ids, ("post", "user"), 1)),
               threading.Thread(target=one, args=(ids[::-1], ("user", "post"), 2))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sum(s.reads for s in month(engine)) == 400


def test_the_month_is_summed_over_its_days_only(engine):
    record(engine, {"post": ["a"]}, now=datetime(2026, 11, 30, 23, 59, tzinfo=UTC))
    record(engine, {"post": ["a", "b"]}, now=datetime(2026, 12, 1, 0, 0, tzinfo=UTC))
    record(engine, {"post": ["c"]}, now=datetime(2026, 12, 31, 23, 59, tzinfo=UTC))
    [december] = month(engine)
    assert december.reads == 3


def test_pruning_forgets_the_days_before_the_month_one_day_at_a_time(engine):
    record(engine, {"post": ["a", "b"]}, now=datetime(2026, 11, 29, 10, tzinfo=UTC))
    record(engine, {"post": ["a"]}, now=datetime(2026, 11, 30, 10, tzinfo=UTC))
    record(engine, {"post": ["a"]}, now=datetime(2026, 12, 1, 10, tzinfo=UTC))
    with session_scope(engine) as session:
        assert spend.prune_seen(session=session, before=date(2026, 12, 1)) == 2
        assert spend.prune_seen(session=session, before=date(2026, 12, 1)) == 1
        assert spend.prune_seen(session=session, before=date(2026, 12, 1)) == 0
        assert spend.seen_count(session=session, network="n") == {"post": 1}
    # What was spent stays counted (only the de-duplication rows go).
    assert sum(s.reads for s in month(engine, start=date(2026, 11, 1))) == 4


def test_the_day_is_utcs_whatever_zone_the_clock_gives(engine):
    from datetime import timezone

    late = datetime(2026, 12, 2, 1, 0, tzinfo=timezone(timedelta(hours=5)))  # 20:00 UTC on 1 December
    assert record(engine, {"post": ["1"]}, now=late) == {"post": 1}
    assert record(engine, {"post": ["1"]}, now=datetime(2026, 12, 1, 23, 0, tzinfo=UTC)) == {}  # that UTC day
    assert [s.reads for s in month(engine, end=date(2026, 12, 2))] == [1]
    with session_scope(engine) as session:
        assert spend.seen_count(session=session, network="n", day=date(2026, 12, 1)) == {"post": 1}
