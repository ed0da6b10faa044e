"""The spend meter (socialdesk.spend): budgets read from text, budgets that pause rules, the alert conditions,
the month's usage and projection. Real databases; the network is X's description with its billing."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from socialdesk.networks.base import BilledReads, Billing, Network
from socialdesk.networks.x import network as x
from socialdesk.networks.x.settings import XSettings
from socialdesk.spend import NO_RULE, BudgetInvalid, Meter, month_fraction, month_of, parse_budget, rule_state, summary, usage_text
from socialdesk.store import rules as rule_store
from socialdesk.store.db import session_scope
from tests.support.db import engine  # noqa: F401  (fixture)

NOON = datetime(2026, 12, 11, 12, 0, tzinfo=UTC)  # 10.5 days into a 31-day month


@pytest.mark.parametrize("text,dollars", [("50/month", 50.0), ("$50/month", 50.0), ("12.50/month", 12.5),
                                          ("50", 50.0), ("50 / mo", 50.0), ("none", None), ("OFF", None)])
def test_a_budget_is_dollars_a_month(text, dollars):
    assert parse_budget(text) == dollars


@pytest.mark.parametrize("text", ["50/week", "fifty", "-5/month", "0/month", "50/month/month", ""])
def test_a_budget_that_cannot_be_read_says_how_to_write_one(text):
    with pytest.raises(BudgetInvalid, match=r"write dollars a month, like 50/month"):
        parse_budget(text)


def test_the_month_is_the_utc_calendar_month():
    assert month_of(datetime(2026, 12, 31, 23, 59, tzinfo=UTC)) == (date(2026, 12, 1), date(2027, 1, 1))
    assert month_of(datetime(2027, 2, 10, tzinfo=UTC)) == (date(2027, 2, 1), date(2027, 3, 1))
    assert month_fraction(NOON) == pytest.approx(10.5 / 31)
    assert month_fraction(datetime(2026, 12, 1, 0, 0, 1, tzinfo=UTC)) == pytest.approx(1 / (31 * 24))  # an hour at least


def networks(budget: float | None = None) -> dict[str, Network]:
    billing = x.billing(XSettings(SOCIALDESK_X_MONTHLY_BUDGET=budget) if budget else XSettings())
    return {"x": Network(info=x.INFO, billing=billing)}


def add_rule(engine, *, budget: float | None = None, network: str = "x") -> int:
    with session_scope(engine) as session:
        return rule_store.add_rule(session=session, network=network, query="acme", channel_id="C1", every_seconds=60,
                                   lang=None, include_reposts=False, now=NOON, monthly_budget=budget).id


def read(engine, meter: Meter, rule_id: int | None, posts: int, *, start: int = 0, now: datetime = NOON) -> None:
    with session_scope(engine) as session:
        meter.record(session=session, network="x", rule_id=rule_id, now=now,
                     reads=[BilledReads("post", tuple(f"{rule_id}-{i}" for i in range(start, start + posts)))])


def paused(engine, meter: Meter, now: datetime = NOON) -> set[int]:
    with session_scope(engine) as session:
        return meter.paused_by_budget(session=session, now=now)


def conditions(engine, meter: Meter, now: datetime = NOON):
    with session_scope(engine) as session:
        return meter.budget_conditions(session=session, now=now)


def test_a_rule_pauses_at_its_budget_until_the_month_turns_or_it_is_raised(engine):
    meter = Meter(networks())
    capped, free = add_rule(engine, budget=1.0), add_rule(engine)
    read(engine, meter, capped, 199)  # $0.995
    read(engine, meter, free, 1000)
    assert paused(engine, meter) == set()
    read(engine, meter, capped, 1, start=199)  # $1.00: the budget is spent
    assert paused(engine, meter) == {capped}
    assert paused(engine, meter, datetime(2027, 1, 1, tzinfo=UTC)) == set()  # a new month
    with session_scope(engine) as session:
        rule_store.set_budget(session=session, rule_id=capped, monthly_budget=2.0)
    assert paused(engine, meter) == set()


def test_the_networks_budget_pauses_all_its_rules(engine):
    meter = Meter(networks(budget=5.0))
    one, two = add_rule(engine), add_rule(engine)
    other = add_rule(engine, network="bluesky")  # a network that does not bill is never paused
    read(engine, meter, one, 600)
    read(engine, meter, None, 399)  # replies and lookups count toward the network's budget too
    assert paused(engine, meter) == set()
    read(engine, meter, None, 1, start=399)
    assert paused(engine, meter) == {one, two}
    assert other not in paused(engine, meter)


def test_budgets_are_alert_conditions_at_80_percent_and_when_spent(engine):
    meter = Meter(networks(budget=10.0))
    rule_id = add_rule(engine, budget=1.0)
    read(engine, meter, rule_id, 159)  # $0.795 of $1: not yet
    assert conditions(engine, meter) == []
    read(engine, meter, rule_id, 1, start=159)  # 80 %
    [warning] = conditions(engine, meter)
    assert warning.key == f"budget:rule:{rule_id}:2026-12:1.00:80"
    assert "rule 1 (X) spent $0.80 of its $1.00 monthly budget (80%)" in warning.text
    assert f"socialdesk rules edit {rule_id} --budget" in warning.fix
    read(engine, meter, rule_id, 1600, start=160)  # $8.80: the rule's budget spent, the network's at 88 %
    found = {c.key: c for c in conditions(engine, meter)}
    assert set(found) == {f"budget:rule:{rule_id}:2026-12:1.00:100", "budget:x:2026-12:10.00:80"}
    assert "paused by budget until the month turns" in found[f"budget:rule:{rule_id}:2026-12:1.00:100"].text
    assert "X reads cost $8.80 of this month's $10.00 budget (88%)" in found["budget:x:2026-12:10.00:80"].text
    assert conditions(engine, meter, datetime(2027, 1, 1, 1, tzinfo=UTC)) == []  # the month turned: all clear


def test_the_plans_cap_is_a_condition_at_80_percent(engine):
    meter = Meter({"x": Network(info=x.INFO, billing=Billing(rates={"post": 0.005}, labels={"post": "post reads"},
                                                             caps={"post": 100}))})
    read(engine, meter, None, 80)
    [cap] = conditions(engine, meter)
    assert cap.key == "cap:x:post:2026-12" and "80 of the plan's 100 post reads a month" in cap.text


def test_usage_by_rule_with_the_projection_and_the_cap(engine):
    meter = Meter(networks(budget=100.0))
    busy, quiet, gone = add_rule(engine, budget=50.0), add_rule(engine, budget=20.0), add_rule(engine)
    read(engine, meter, busy, 2000)  # $10
    with session_scope(engine) as session:
        meter.record(session=session, network="x", rule_id=gone, now=NOON,
                     reads=[BilledReads("post", ("g1", "g2")), BilledReads("user", ("u1", "u2"))])
        rule_store.remove_rule(session=session, rule_id=gone)
        usage = meter.usage(session=session, now=NOON)
    [n] = usage.networks
    assert (n.cost, n.reads) == (pytest.approx(10.03), {"post": 2002, "user": 2})
    assert n.projected == pytest.approx(10.03 * 31 / 10.5)
    assert [(r.rule_id, r.cost, r.budget, r.query) for r in usage.rules] == [
        (busy, pytest.approx(10.0), 50.0, "acme"), (NO_RULE, pytest.approx(0.03), None, None),
        (quiet, 0.0, 20.0, "acme")]  # a budgeted rule with nothing spent is listed too; a removed one's is no rule's
    text = "\n".join(usage_text(usage))
    assert "Spend in December 2026 (UTC), day 11 of 31" in text
    assert "X: $10.03 so far, $29.61 projected by the month's end; budget $100.00 (10% spent)" in text
    assert "2,002 of the plan's 3,000,000 post reads a month (0.1%)" in text
    assert "(replies, lookups, removed rules)" in text and "20% of budget" in text
    assert summary(usage) == ("X reads this month: $10.03, projected $29.61 of a $100.00 budget; "
                              "2,002 of 3,000,000 post reads")


def test_a_network_without_billing_is_not_metered(engine):
    meter = Meter({"x": Network(info=x.INFO)})
    rule_id = add_rule(engine, budget=1.0)
    with session_scope(engine) as session:
        assert meter.record(session=session, network="x", rule_id=rule_id, now=NOON,
                            reads=[BilledReads("post", ("1",))]) == {}
        assert meter.usage(session=session, now=NOON).networks == []
        assert summary(meter.usage(session=session, now=NOON)) is None  # the digest says nothing of spend
    assert paused(engine, meter) == set()


def test_a_raised_budget_is_a_new_budget_whose_marks_are_told_again(engine):
    meter = Meter(networks(budget=1.0))
    rule_id = add_rule(engine, budget=1.0)
    read(engine, meter, rule_id, 200)  # $1.00: the rule's budget and the network's spent
    assert {c.key for c in conditions(engine, meter)} == {f"budget:rule:{rule_id}:2026-12:1.00:100",
                                                          "budget:x:2026-12:1.00:100"}
    with session_scope(engine) as session:
        rule_store.set_budget(session=session, rule_id=rule_id, monthly_budget=1.2)
    # 83 % of the new budget: its own 80 % mark (the old keys were taken, and would not be told again)
    assert f"budget:rule:{rule_id}:2026-12:1.20:80" in {c.key for c in conditions(engine, meter)}
    read(engine, meter, rule_id, 40, start=200)
    assert f"budget:rule:{rule_id}:2026-12:1.20:100" in {c.key for c in conditions(engine, meter)}


def test_a_removed_rules_spend_is_no_rules_and_a_new_rule_does_not_inherit_it(engine):
    meter = Meter(networks(budget=100.0))
    keep = add_rule(engine)
    gone = add_rule(engine, budget=1.0)
    read(engine, meter, gone, 200)  # $1.00: paused by its budget
    assert paused(engine, meter) == {gone}
    with session_scope(engine) as session:
        rule_store.remove_rule(session=session, rule_id=gone)
    new = add_rule(engine, budget=1.0)  # on SQLite it gets the removed rule's id (the highest is reused)
    assert paused(engine, meter) == set()
    with session_scope(engine) as session:
        usage = meter.usage(session=session, now=NOON)
    assert {r.rule_id: r.cost for r in usage.rules} == {NO_RULE: pytest.approx(1.0), new: 0.0}
    assert usage.networks[0].cost == pytest.approx(1.0)  # the network's month is unchanged
    assert keep != new


def test_a_rule_paused_by_its_networks_budget_says_so_in_usage(engine):
    meter = Meter(networks(budget=1.0))
    plain, capped = add_rule(engine), add_rule(engine, budget=50.0)
    read(engine, meter, plain, 100)
    read(engine, meter, capped, 100)  # $1.00 of the network's $1.00
    with session_scope(engine) as session:
        usage = meter.usage(session=session, now=NOON)
    states = {r.rule_id: rule_state(r) for r in usage.rules}
    assert states == {plain: "paused by budget", capped: "paused by budget"}  # not "no budget", not "2% of budget"
    assert "paused by budget" in "\n".join(usage_text(usage))


def test_metrics_hear_of_billed_reads_only_once_their_transaction_commits(engine):
    told: list[tuple] = []
    meter = Meter(networks(), on_billed=lambda *args: told.append(args))
    rule_id = add_rule(engine)
    with pytest.raises(RuntimeError):
        with session_scope(engine) as session:
            meter.record(session=session, network="x", rule_id=rule_id, now=NOON,
                         reads=[BilledReads("post", ("1", "2"))])
            assert told == []  # not inside the transaction
            raise RuntimeError("the page's store failed")
    assert told == []  # rolled back: nothing was billed
    with session_scope(engine) as session:
        meter.record(session=session, network="x", rule_id=rule_id, now=NOON, reads=[BilledReads("post", ("1", "2"))])
        assert told == []
    assert told == [("x", rule_id, "post", 2, pytest.approx(0.01))]


def test_headroom_is_what_the_rule_or_its_network_may_still_spend(engine):
    meter = Meter(networks(budget=2.0))
    rule_id = add_rule(engine, budget=1.5)
    read(engine, meter, rule_id, 100)  # $0.50
    read(engine, meter, None, 100)  # $0.50 of replies and lookups: the network's, not the rule's
    with session_scope(engine) as session:
        rule = rule_store.get_rule(session=session, rule_id=rule_id)
        assert meter.headroom(session=session, rule=rule, now=NOON) == pytest.approx(1.0)  # the network's $2 - $1
        rule_store.set_budget(session=session, rule_id=rule_id, monthly_budget=0.75)
        rule = rule_store.get_rule(session=session, rule_id=rule_id)
        assert meter.headroom(session=session, rule=rule, now=NOON) == pytest.approx(0.25)
    assert Meter(networks()).headroom(session=None, rule=rule.model_copy(update={"monthly_budget": None}),  # type: ignore[arg-type]
                                      now=NOON) is None  # no budget: nothing read
