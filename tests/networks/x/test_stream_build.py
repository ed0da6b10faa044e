"""The X network builds its filtered stream from the settings (and says X's stream limits)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from socialdesk.config import Settings
from socialdesk.networks import registry
from socialdesk.networks.base import Network
from socialdesk.networks.x.network import INFO
from socialdesk.networks.x.stream import XStream
from socialdesk.store.credentials import DatabaseCredentials
from socialdesk.store.db import make_engine


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """Where the credentials would be kept: building the network reads nothing from it."""
    made = make_engine(f"sqlite:///{tmp_path}/t.db")
    yield made
    made.dispose()


def build(engine: Engine, **aliases: object) -> Network:
    settings = Settings(_env_file=None, SOCIALDESK_X_API_URL="http://127.0.0.1:9", **aliases)
    with httpx.Client() as http:
        return registry.build(settings, http=http, clock=lambda: datetime.now(UTC),
                              credentials=lambda name: DatabaseCredentials(engine, name))["x"]


def test_with_a_bearer_token_the_stream_carries_the_rules_marked_for_it(engine: Engine) -> None:
    stream = build(engine, SOCIALDESK_X_BEARER_TOKEN="t").stream
    assert isinstance(stream, XStream)
    assert stream.opt_in and stream.matches_rules and stream.kinds == ("search",)


@pytest.mark.parametrize("value", ["1", "true"])
def test_socialdesk_x_stream_carries_every_search_rule(engine: Engine, value: str) -> None:
    stream = build(engine, SOCIALDESK_X_BEARER_TOKEN="t", SOCIALDESK_X_STREAM=value).stream
    assert stream is not None and not stream.opt_in


def test_without_a_bearer_token_there_is_no_stream(engine: Engine) -> None:
    assert build(engine, SOCIALDESK_X_BEARER_TOKEN=None).stream is None


def test_xs_stream_limits_are_the_pay_per_use_ones() -> None:
    assert (INFO.stream_rules_max, INFO.stream_query_max_length) == (1000, 1024)
    assert INFO.opt_in_stream
