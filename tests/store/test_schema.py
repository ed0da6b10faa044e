"""The migrated schema is the one the models describe (PostgreSQL, which enforces types and lengths).

A column added to a model without a migration (or a migration that types a column differently
from its model) would otherwise show only when some query touched it, perhaps only on one server:
0010 made the streams' times plain `timestamp`, hours off on a server not in UTC (0024 mends it).
Indexes only the migrations create (expression indexes for search, composite ones for the
figures) are the migrations' own and not compared.
"""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import socialdesk.store.models  # noqa: F401  (every table on SQLModel's metadata)
from socialdesk.store.db import make_engine, upgrade

pytestmark = pytest.mark.postgres


def _compared(obj, name, type_, reflected, compare_to) -> bool:  # type: ignore[no-untyped-def]
    # An index in the database that no model declares: one of the migrations' own.
    return not (type_ == "index" and reflected and compare_to is None)


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_the_migrated_database_matches_the_models(db_url):
    engine = make_engine(db_url)
    try:
        upgrade(engine)
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": _compared})
            differences = compare_metadata(context, SQLModel.metadata)
    finally:
        engine.dispose()
    assert differences == []
