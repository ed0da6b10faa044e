"""`socialdesk rules add/edit --budget` and `socialdesk usage`, in-process (`main([...])`) on real databases."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from socialdesk.networks.base import BilledReads, Network
from socialdesk.networks.x import network as x
from socialdesk.networks.x.settings import XSettings
from socialdesk.spend import Meter
from socialdesk.store import rules as rule_store
from socialdesk.store.db import make_engine, session_scope


@pytest.fixture
def env(db_url) -> dict[str, str]:
    return {"SOCIALDESK_DATABASE_URL": db_url}


def add(cli, env, *extra: str):
    return cli("rules", "add", "--network", "x", "--query", "acme phone", "--channel", "C0123ABCD", *extra, env=env)


def test_a_rule_gets_a_monthly_budget_and_it_can_be_changed(env, cli, db_url):
    added = add(cli, env, "--budget", "50/month")
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip().endswith("; budget $50.00 a month")
    assert "budget: $50.00 a month" in cli("rules", "list", env=env).stdout
    edited = cli("rules", "edit", "1", "--budget", "$12.50/month", env=env)
    assert (edited.returncode, edited.stdout.strip()) == (0, "rule 1: budget $12.50 a month")
    assert cli("rules", "edit", "1", "--budget", "none", env=env).stdout.strip() == "rule 1: no budget"
    engine = make_engine(db_url)
    with session_scope(engine) as session:
        assert rule_store.get_rule(session=session, rule_id=1).monthly_budget is None
    engine.dispose()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_budget_that_cannot_be_read_or_means_nothing_is_refused_saying_why(env, cli):
    bad = add(cli, env, "--budget", "50/week")
    assert bad.returncode == 2
    assert bad.stderr.splitlines()[-1] == ("socialdesk rules add: error: argument --budget: '50/week' is not a budget; "
                                           "write dollars a month, like 50/month or 12.50/month ('none' for no limit)")
    free = cli("rules", "add", "--network", "bluesky", "--query", "acme", "--channel", "C0123ABCD",
               "--budget", "5/month", env=env)
    assert free.returncode == 2 and "does not bill per read, so a budget would never be spent" in free.stderr
    nothing = cli("rules", "edit", "1", env=env)
    assert nothing.returncode == 2 and "--budget N/month" in nothing.stderr


def test_usage_shows_spend_by_rule_the_projection_and_the_cap(env, cli, db_url):
    assert add(cli, env, "--budget", "1/month").returncode == 0
    engine = make_engine(db_url)
    meter = Meter({"x": Network(info=x.INFO, billing=x.billing(XSettings()))})
    now = datetime.now(UTC)
    with session_scope(engine) as session:  # as the poller counts a page: 200 posts by 20 authors
        meter.record(session=session, network="x", rule_id=1, now=now,
                     reads=[BilledReads("post", tuple(map(str, range(200)))),
                            BilledReads("user", tuple(f"u{i}" for i in range(20)))])
    engine.dispose()
    shown = cli("usage", env=env)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].startswith(f"Spend in {now:%B %Y} (UTC), day {now.day} of ")
    assert lines[1].startswith("X: $1.20 so far, ")
    assert lines[2] == "  200 post reads · 20 user reads"
    assert lines[3] == "  200 of the plan's 3,000,000 post reads a month (0.0%)"
    [rule_line] = [line for line in lines if line.lstrip().startswith("1  ")]
    assert "$1.20" in rule_line and "$1.00" in rule_line and "paused by budget" in rule_line and "acme phone" in rule_line
    assert "paused by budget" in cli("rules", "list", env=env).stdout


def test_usage_says_a_rule_the_networks_budget_paused_is_paused_by_budget(env, cli, db_url):
    assert add(cli, env).returncode == 0  # no budget of its own
    assert add(cli, env, "--budget", "50/month").returncode == 0
    engine = make_engine(db_url)
    meter = Meter({"x": Network(info=x.INFO, billing=x.billing(XSettings()))})
    with session_scope(engine) as session:
        for rule_id in (1, 2):
            meter.record(session=session, network="x", rule_id=rule_id, now=datetime.now(UTC),
                         reads=[BilledReads("post", tuple(f"{rule_id}-{i}" for i in range(100)))])  # $0.50 each
    engine.dispose()
    shown = cli("usage", env=env | {"SOCIALDESK_X_MONTHLY_BUDGET": "1"})  # $1.00 of X's $1.00
    assert shown.returncode == 0, shown.stderr
    rows = {line.split()[0]: line for line in shown.stdout.splitlines() if line.lstrip()[:2] in ("1 ", "2 ")}
    assert "paused by budget" in rows["1"] and "no budget" not in rows["1"]
    assert "paused by budget" in rows["2"] and "% of budget" not in rows["2"]
