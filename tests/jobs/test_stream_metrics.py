"""What the stream worker records into the metrics: against the local Jetstream and PDS (Bluesky's fakes)."""

from __future__ import annotations

from datetime import timedelta

import httpx
from slack_sdk import WebClient

from socialdesk.config import Settings
from socialdesk.jobs.poll import Poller
from socialdesk.jobs.removal import RemovalMarker
from socialdesk.jobs.stream import StreamWorker
from socialdesk.metrics import Metrics, watch_state
from socialdesk.networks.bluesky import network as bluesky
from socialdesk.store.credentials import DatabaseCredentials
from tests.jobs.test_poll import Clock
from tests.jobs.test_stream import BRAND, PASSWORD, add_rule, connected, jetstream, pds, stored  # noqa: F401
from tests.support.waiting import wait_for


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_stream_posts_matches_lag_and_lease(engine, pds, jetstream):  # noqa: F811
    rule_id = add_rule(engine, "acme")
    clock, metrics, http = Clock(), Metrics(), httpx.Client(timeout=5)
    settings = Settings(_env_file=None, SOCIALDESK_BLUESKY_HANDLE=BRAND, SOCIALDESK_BLUESKY_APP_PASSWORD=PASSWORD,
                        SOCIALDESK_BLUESKY_SERVICE_URL=pds.url, SOCIALDESK_BLUESKY_JETSTREAM_URL=jetstream.url)
    network = bluesky.build(settings, http=http, clock=clock, credentials=lambda name: DatabaseCredentials(engine, name))
    poller = Poller(engine=engine, networks={"bluesky": network}, own_handles=frozenset({BRAND}), clock=clock,
                    metrics=metrics)
    worker = StreamWorker(engine=engine, network=network, poller=poller, clock=clock, metrics=metrics,
                          removed=RemovalMarker(engine=engine, slack=WebClient(base_url="http://127.0.0.1:9/"),
                                                network="bluesky"))
    watch_state(metrics, engine=engine, clock=clock, poller=poller, streams=[worker])
    assert value(metrics, "socialdesk_lease_held", job="stream", key="bluesky") == 0
    worker.start()
    try:
        connected(jetstream)
        cust = pds.world.add_account("cust.bsky.social")
        pds.world.add_post(cust, "lovely weather today")
        post = pds.world.add_post(cust, "my acme phone will not charge")
        wait_for(lambda: post["uri"] in stored(engine), timeout=20, what="the matching post")
        assert value(metrics, "socialdesk_lease_held", job="stream", key="bluesky") == 1
        # Every post the stream carried counts (the recorded golden traffic too); one matched the rule.
        assert value(metrics, "socialdesk_posts_fetched_total", network="bluesky", rule="", via="stream") >= 2
        assert value(metrics, "socialdesk_posts_matched_total", network="bluesky", rule=str(rule_id),
                     via="stream") == 1
        assert value(metrics, "socialdesk_cases_opened_total", network="bluesky", rule=str(rule_id)) == 1
        # Lag is now minus the newest post seen: with the clock moved on 5 minutes and nothing new, it grows.
        assert worker.newest_event_at is not None
        clock.offset += timedelta(minutes=5)
        assert value(metrics, "socialdesk_stream_lag_seconds", network="bluesky") >= 300
    finally:
        worker.stop()
        http.close()
    assert value(metrics, "socialdesk_lease_held", job="stream", key="bluesky") == 0
    assert value(metrics, "socialdesk_stream_lag_seconds", network="bluesky") is None  # no longer ours to say
