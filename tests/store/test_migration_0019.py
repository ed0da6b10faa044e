"""Migration 0019 (outcomes, duplicates, the re-armed SLA clock) upgrades and downgrades on both databases."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import inspect, text

from socialdesk.store.db import alembic_config, current_revision, make_engine

NEW = {"outcome", "duplicate_of", "sla_started_at", "responded_at"}


def _columns(engine, table: str) -> set[str]:
    return {c["name"] for c in inspect(engine).get_columns(table)}


def test_0019_adds_the_columns_fills_responded_at_and_downgrades(db_url):
    from alembic import command

    engine = make_engine(db_url)
    try:
        config = alembic_config(engine)
        command.upgrade(config, "0018")
        answered = datetime(2026, 11, 27, 12, 5, tzinfo=UTC)
        with engine.begin() as conn:  # two cases from before: one answered, one waiting
            for n, first in ((1, answered), (2, None)):
                conn.execute(text("INSERT INTO cases (id, network, status, priority, channel_id, opened_at, updated_at,"
                                  " version, publish_failures, first_response_at) VALUES (:id, 'x', 'new', 'normal', 'C1', :at, :at,"
                                  " 1, 0, :first)"), {"id": n, "at": datetime(2026, 11, 27, 12, 0, tzinfo=UTC), "first": first})
        command.upgrade(config, "0019")
        assert NEW <= _columns(engine, "cases")
        assert "ix_cases_duplicate_of" in {i["name"] for i in inspect(engine).get_indexes("cases")}
        with engine.connect() as conn:
            rows = dict(conn.execute(text("SELECT id, responded_at FROM cases ORDER BY id")).all())
        assert rows[2] is None and rows[1] is not None  # an answered case stays answered (its SLA is met)
        command.downgrade(config, "0018")
        assert current_revision(engine) == "0018"
        assert not NEW & _columns(engine, "cases")
        command.upgrade(config, "head")
    finally:
        engine.dispose()
