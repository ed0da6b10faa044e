"""A stream that drops and cannot reconnect (the local Jetstream refusing) is one ops alert once SOCIALDESK_ALERT_AFTER
has passed, and one recovery when it connects again. The worker and the alert job share the test's clock, moved
forward five minutes rather than waited for."""

from __future__ import annotations

from datetime import timedelta

import httpx
from slack_sdk import WebClient

from socialdesk.config import Settings
from socialdesk.health import SourceChecks
from socialdesk.jobs.ops_alerts import OpsAlerts
from socialdesk.jobs.poll import Poller
from socialdesk.jobs.stream import StreamWorker
from socialdesk.networks.bluesky import network as bluesky
from socialdesk.store import streams as stream_store
from socialdesk.store.credentials import DatabaseCredentials
from socialdesk.store.db import session_scope
from tests.jobs.test_ops_alerts import said
from tests.jobs.test_stream import BRAND, PASSWORD, add_rule, connected, jetstream, pds, wait_for  # noqa: F401

__all__ = ["jetstream", "pds"]  # fixtures


def test_a_dropped_stream_that_cannot_reconnect_is_one_alert_and_one_recovery(engine, pds, jetstream, clock,
                                                                              slack_emulator):
    channel = slack_emulator.new_channel("ops")
    add_rule(engine, "acme")
    settings = Settings(_env_file=None, SOCIALDESK_BLUESKY_HANDLE=BRAND, SOCIALDESK_BLUESKY_APP_PASSWORD=PASSWORD,
                        SOCIALDESK_BLUESKY_SERVICE_URL=pds.url, SOCIALDESK_BLUESKY_JETSTREAM_URL=jetstream.url)
    with httpx.Client(timeout=5) as http:
        network = bluesky.build(settings, http=http, clock=clock,
                                credentials=lambda name: DatabaseCredentials(engine, name))
        poller = Poller(engine=engine, networks={"bluesky": network}, own_handles=frozenset({BRAND}), clock=clock)
        # A short lease: the heartbeat renews it every second, on the moved clock too.
        worker = StreamWorker(engine=engine, network=network, poller=poller, clock=clock, lease_seconds=3)
        alerts = OpsAlerts(engine=engine, slack=WebClient(token=slack_emulator.token, base_url=slack_emulator.url),
                           channel=channel, clock=clock,
                           checks=[SourceChecks(networks={"bluesky": network}, alert_after=timedelta(minutes=5))])
        worker.start()
        try:
            connected(jetstream)
            jetstream.refuse(503, times=2)  # reconnects back off 1 s, 2 s, 4 s: down about 7 s
            jetstream.drop_connections()

            def failing() -> bool:
                with session_scope(engine) as session:
                    return bool(stream_store.stream_state(session=session, network="bluesky").last_error)

            wait_for(failing, what="the reconnect refused")
            assert alerts.run_once() == 0  # down for seconds: nobody is told
            clock.offset += timedelta(minutes=6)
            wait_for(lambda: alerts.run_once() == 1, timeout=10, what="the alert, once the lease is renewed")
            wait_for(lambda: jetstream.live_connections >= 1, timeout=30, what="the stream to connect again")
            wait_for(lambda: alerts.run_once() == 1, timeout=10, what="the recovery")
            for _ in range(3):
                alerts.run_once()
        finally:
            worker.stop()
    alert, recovery = said(slack_emulator, channel)
    assert alert.startswith("⚠️ The Bluesky stream has been down since ") and "connection dropped" in alert
    assert recovery.startswith("✅ Recovered, ") and "Bluesky stream" in recovery
