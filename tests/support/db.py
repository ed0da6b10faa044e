"""A migrated engine on the test's database (SQLite and PostgreSQL, via `db_url`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from socialdesk.store.db import make_engine, upgrade


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    upgrade(engine)
    yield engine
    engine.dispose()
