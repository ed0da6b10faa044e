"""The Mastodon tests' shared fixtures: a fake instance on a hand-moved clock, and a client of it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from socialdesk.networks.mastodon.api import MastodonApi
from socialdesk.networks.mastodon.fake.rest import FakeMastodon
from socialdesk.networks.mastodon.fake.world import MastodonWorld
from socialdesk.networks.mastodon.threads import Threads
from tests.support.clock import Clock



@pytest.fixture
def clock() -> Clock:
    return Clock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def fake(clock: Clock) -> Iterator[FakeMastodon]:
    with FakeMastodon(MastodonWorld(clock=clock, max_characters=500)) as server:
        yield server


@pytest.fixture
def api(fake: FakeMastodon, http: httpx.Client, clock: Clock) -> MastodonApi:
    return MastodonApi(http, fake.url, fake.world.brand_token, clock=clock)


@pytest.fixture
def threads(api: MastodonApi) -> Threads:
    return Threads(api)
