"""Fault tests through the running app: the end-to-end fixtures (`app`, `fake_x`, `slack_proxy`).

Like tests/e2e, these drive whole processes and mostly wait on poll intervals and leases;
PostgreSQL runs only where concurrency or crash-safety meets the database: tests marked
`both_databases` (the others run on SQLite).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import app, fake_x, slack_proxy  # noqa: F401  (fixtures)

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    keep, dropped = [], []
    for item in items:
        here = Path(str(item.path)).resolve().is_relative_to(HERE)
        callspec = getattr(item, "callspec", None)
        on_postgres = callspec is not None and callspec.params.get("db_url") == "postgres"
        if here and on_postgres and item.get_closest_marker("both_databases") is None:
            dropped.append(item)
        else:
            keep.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep
