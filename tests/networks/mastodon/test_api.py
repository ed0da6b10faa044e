"""MastodonApi against a running FakeMastodon: answers, pagination links, rate limits, outages.

The fixtures here (a clock the test moves, the fake, the client) are shared by the other
REST tests of this package: `from tests.networks.mastodon.test_api import *`.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import httpx
import pytest

from socialdesk.networks.base import RateLimited, SourceRejected, SourceUnavailable
from socialdesk.networks.mastodon.api import ApiRejected, ApiUnavailable, MastodonApi
from socialdesk.networks.mastodon.fake.rest import FakeMastodon
from socialdesk.networks.mastodon.fake.world import MastodonWorld


TAG = "/api/v1/timelines/tag/:hashtag"


def test_get_reads_json_and_the_link_headers_pages(fake, api, clock) -> None:
    ann = fake.world.add_account("ann", "Ann")
    ids = []
    for i in range(3):
        clock.advance(seconds=1)
        ids.append(fake.world.add_status(ann, f"#acme number {i}")["id"])
    answer = api.get("/api/v1/timelines/tag/acme", {"limit": "2"})
    assert [s["id"] for s in answer.json] == [ids[2], ids[1]]
    assert answer.links["prev"]["min_id"] == ids[2] and answer.links["next"]["max_id"] == ids[1]
    assert answer.links["prev"]["limit"] == "2"
    assert answer.not_before is None
    [request] = fake.requests(TAG)
    assert request.headers["authorization"] == f"Bearer {fake.world.brand_token}"


def test_a_refused_token_names_the_setting(fake, http, clock) -> None:
    api = MastodonApi(http, fake.url, "not-the-token", clock=clock)
    with pytest.raises(ApiRejected) as refused:
        api.get("/api/v1/notifications")
    assert refused.value.status == 401 and "SOCIALDESK_MASTODON_TOKEN" in str(refused.value)
    assert "not-the-token" not in str(refused.value)
    assert isinstance(refused.value, SourceRejected)


def test_429_raises_rate_limited_until_the_headers_reset(fake, api, clock) -> None:
    reset = clock() + timedelta(minutes=3)
    fake.limit(TAG, 0, reset_at=reset)
    fake.world.add_status(fake.world.add_account("ann"), "#acme hi")
    with pytest.raises(RateLimited) as limited:
        api.get("/api/v1/timelines/tag/acme")
    assert abs(limited.value.reset_at - reset) < timedelta(seconds=1)


def test_a_spent_budget_stops_calls_before_they_are_sent(fake, api, clock) -> None:
    reset = clock() + timedelta(minutes=2)
    fake.world.add_status(fake.world.add_account("ann"), "#acme hi")
    fake.limit(TAG, 1, reset_at=reset)
    answer = api.get("/api/v1/timelines/tag/acme")  # the last one: Remaining 0
    assert answer.not_before is not None and abs(answer.not_before - reset) < timedelta(seconds=1)
    with pytest.raises(RateLimited):
        api.get("/api/v1/timelines/tag/acme")
    assert len(fake.requests(TAG)) == 1
    clock.advance(minutes=3)
    api.get("/api/v1/timelines/tag/acme")
    assert len(fake.requests(TAG)) == 2


def test_outages_are_source_unavailable(fake, api, http, clock) -> None:
    fake.world.add_status(fake.world.add_account("ann"), "#acme hi")
    fake.fail(TAG, 503)
    with pytest.raises(ApiUnavailable) as down:
        api.get("/api/v1/timelines/tag/acme")
    assert down.value.status == 503 and isinstance(down.value, SourceUnavailable)
    fake.fail(TAG, 0)  # the connection drops without an answer
    with pytest.raises(SourceUnavailable):
        api.get("/api/v1/timelines/tag/acme")
    fake.fail(TAG, 200, body="<html>maintenance</html>")
    with pytest.raises(ApiUnavailable, match="not JSON"):
        api.get("/api/v1/timelines/tag/acme")
    with httpx.Client(timeout=0.3) as impatient:
        fake.fail(TAG, None, delay=1.0)
        with pytest.raises(ApiUnavailable) as slow:
            MastodonApi(impatient, fake.url, fake.world.brand_token, clock=clock).get("/api/v1/timelines/tag/acme")
        assert slow.value.maybe_sent
    nobody = MastodonApi(http, "http://127.0.0.1:9", "t", clock=clock)  # nothing listens on port 9
    with pytest.raises(ApiUnavailable) as unreachable:
        nobody.get("/api/v2/instance")
    assert not unreachable.value.maybe_sent


def test_other_refusals_carry_mastodons_error(fake, api) -> None:
    with pytest.raises(ApiRejected) as missing:
        api.get("/api/v1/statuses/12345")
    assert missing.value.status == 404 and "Record not found" in str(missing.value)
    fake.fail("/api/v1/notifications", 422, body={"error": "Validation failed: something"})
    with pytest.raises(ApiRejected, match="Validation failed: something"):
        api.get("/api/v1/notifications")


def test_instance_settings_are_read_once_and_defaults_stand_in(clock, http) -> None:
    world = MastodonWorld(clock=clock, max_characters=321, characters_reserved_per_url=11)
    with FakeMastodon(world) as fake:
        api = MastodonApi(http, fake.url, world.brand_token, clock=clock)
        instance = api.instance()
        assert (instance.max_characters, instance.characters_reserved_per_url) == (321, 11)
        assert instance.domain == "mastodon.example" and instance.reachable
        assert instance.streaming_url == fake.streaming.url
        assert api.instance() is instance and len(fake.requests("/api/v2/instance")) == 1

        down = MastodonApi(http, fake.url, world.brand_token, clock=clock)
        fake.fail("/api/v2/instance", 503)
        fallback = down.instance()
        assert (fallback.max_characters, fallback.characters_reserved_per_url, fallback.reachable) == (500, 23, False)
        assert fallback.streaming_url.startswith("ws://127.0.0.1:")
        assert down.instance() is fallback  # not asked again at once
        clock.advance(minutes=6)
        assert down.instance().max_characters == 321


def test_me_is_asked_once_and_the_token_stays_out_of_logs(fake, api, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    me = api.me()
    assert me["id"] == fake.world.brand.id and me["acct"] == "acmecare"
    assert api.me() is me and len(fake.requests("/api/v1/accounts/verify_credentials")) == 1
    assert fake.world.brand_token not in caplog.text


def test_a_missing_token_is_explained_before_any_request(fake, http, clock) -> None:
    api = MastodonApi(http, fake.url, None, clock=clock)
    with pytest.raises(ApiRejected, match="SOCIALDESK_MASTODON_TOKEN is not set"):
        api.me()
    assert fake.requests("/api/v1/accounts/verify_credentials") == []
