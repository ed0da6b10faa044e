"""A migrated engine on the test's database (SQLite and PostgreSQL, via `db_url`).

The database starts as a copy of one migrated once per session (`sqlite_template`,
`postgres_template` in tests/conftest.py; on PostgreSQL `db_url` creates it so when a test
asks for `migrated_database`, as this fixture does): migrating every test's database took a
quarter of a second each, minutes over the suite. Migrations themselves are tested
from empty databases (tests/store/test_cases.py, test_search.py).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from socialdesk.store.db import make_engine, upgrade


@pytest.fixture
def engine(db_url: str, migrated_database: None, request: pytest.FixtureRequest) -> Iterator[Engine]:
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        shutil.copyfile(request.getfixturevalue("sqlite_template"), str(url.database))
    # On PostgreSQL, `db_url` created the database from the migrated template (`migrated_database`).
    engine = make_engine(db_url)
    upgrade(engine)  # at head already: a quick check
    yield engine
    engine.dispose()
