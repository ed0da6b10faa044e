"""What the poller records into the metrics, against the fake X API and a real database."""

from __future__ import annotations

import threading

import httpx

from socialdesk.jobs.poll import Poller
from socialdesk.metrics import Metrics
from socialdesk.networks.x.search import SEARCH_PATH, XSource
from tests.jobs.test_poll import add_rule, poll_again, post_many
from tests.support.networks import x_network
from tests.support.waiting import wait_for


def make_poller(engine, fake_x, clock, metrics: Metrics, *, page_size: int = 100) -> Poller:
    source = XSource(http=httpx.Client(timeout=5), api_url=fake_x.url, bearer_token="test-bearer", page_size=page_size)
    return Poller(engine=engine, networks=x_network(source), own_handles=frozenset(), clock=clock, metrics=metrics)


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_posts_fetched_and_matched_and_cases_opened_per_rule(engine, fake_x, clock):
    post_many(fake_x, 3)
    fake_x.post(username="eli", text="", retweet_of=fake_x.post(username="dana", text="acme phone dead")["id"])
    rule_id = add_rule(engine)
    metrics = Metrics()
    poller = make_poller(engine, fake_x, clock, metrics)
    assert poller.poll_rule(rule_id) == 4
    rule = {"network": "x", "rule": str(rule_id)}
    assert value(metrics, "socialdesk_posts_fetched_total", **rule, via="poll") == 5  # the repost is fetched …
    assert value(metrics, "socialdesk_posts_matched_total", **rule, via="poll") == 4  # … and filtered out
    assert value(metrics, "socialdesk_cases_opened_total", **rule) == 4

    post_many(fake_x, 2, text="acme phone again {i}")
    assert poll_again(poller, clock, rule_id) == 2
    assert value(metrics, "socialdesk_posts_fetched_total", **rule, via="poll") == 7
    assert value(metrics, "socialdesk_cases_opened_total", **rule) == 6


def test_network_errors_by_kind_and_status_and_rate_limit_waits(engine, fake_x, clock):
    rule_id = add_rule(engine)
    metrics = Metrics()
    poller = make_poller(engine, fake_x, clock, metrics)
    fake_x.unavailable_next(SEARCH_PATH)
    poller.poll_rule(rule_id)
    assert value(metrics, "socialdesk_network_errors_total", network="x", kind="unavailable", status="503") == 1

    fake_x.rate_limit_next(SEARCH_PATH, reset_in_seconds=600)
    poll_again(poller, clock, rule_id)  # past the backoff, and a minute on
    assert value(metrics, "socialdesk_network_errors_total", network="x", kind="rate_limited", status="429") == 1
    assert value(metrics, "socialdesk_rate_limit_waits_total", service="x") == 1
    # Told to wait until the reset (600 s of real time ahead, less the test clock's 61 s offset).
    assert 500 < value(metrics, "socialdesk_rate_limit_wait_seconds_total", service="x") <= 601

    fake_x.fail_next(SEARCH_PATH, status=200, body="<html>a proxy's page</html>",
                     headers={"content-type": "text/html"})
    poll_again(poller, clock, rule_id, seconds=900)
    assert value(metrics, "socialdesk_network_errors_total", network="x", kind="unavailable", status="") == 1


def test_the_poll_lease_is_this_replicas_while_its_walk_runs(engine, fake_x, clock):
    post_many(fake_x, 1)
    rule_id = add_rule(engine)
    metrics = Metrics()
    poller = make_poller(engine, fake_x, clock, metrics)
    assert poller.leases() == {}
    fake_x.fail_next(SEARCH_PATH, status=200, delay=1.5)  # the real answer, late: the walk is under way meanwhile
    walk = threading.Thread(target=poller.poll_rule, args=(rule_id,))
    walk.start()
    try:
        wait_for(lambda: poller.leases().get(rule_id), timeout=5, what="the walk to take its lease")
    finally:
        walk.join(timeout=10)
    assert poller.leases() == {rule_id: False}  # given back with the walk
