"""X's error answers as the source errors (networks/x/api.py), against FakeX over local HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from socialdesk.networks.base import CursorExpired
from socialdesk.networks.x.api import get_page
from socialdesk.networks.x.fake.server import FakeX
from socialdesk.networks.x.parse import snowflake_at
from socialdesk.networks.x.search import SEARCH_PATH

TOKEN = "sandbox-bearer"


@pytest.fixture
def fake() -> Iterator[FakeX]:
    with FakeX(bearer_token=TOKEN) as server:
        yield server


def test_a_since_id_older_than_search_reaches_restarts_the_walk_without_one(fake: FakeX, http: httpx.Client) -> None:
    """X's 400 names since_id, not a page token: retrying the same cursor would fail forever."""
    old = str(snowflake_at(datetime.now(UTC) - timedelta(days=8)))
    with pytest.raises(CursorExpired, match="since_id") as refused:
        get_page(http, fake.url + SEARCH_PATH, {"query": "acme", "since_id": old},
                 {"Authorization": f"Bearer {TOKEN}"}, what="search", since_id=old)
    assert refused.value.restart == {"since_id": None}  # all of search's 7 days: nothing older is there
