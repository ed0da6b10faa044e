from collections.abc import Iterator

import pytest

from socialdesk.networks.x.fake.server import FakeX
from tests.jobs.test_poll import Clock
from tests.support.db import engine  # noqa: F401  (fixture)


@pytest.fixture
def fake_x() -> Iterator[FakeX]:
    """A local X for the poller's tests (a module may define its own)."""
    with FakeX(bearer_token="test-bearer") as server:
        yield server


@pytest.fixture
def clock() -> Clock:
    return Clock()
