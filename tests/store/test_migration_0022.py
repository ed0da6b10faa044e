"""Migration 0022 (the spend meter's tables and a rule's monthly budget) upgrades and downgrades on both databases."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import inspect, text

from socialdesk.store.db import alembic_config, current_revision, make_engine


def test_0022_adds_the_spend_tables_and_the_budget_and_downgrades(db_url):
    from alembic import command

    engine = make_engine(db_url)
    try:
        config = alembic_config(engine)
        command.upgrade(config, "0021")
        with engine.begin() as conn:  # a rule from before keeps working, with no budget
            conn.execute(text("INSERT INTO rules (id, network, query, channel_id, every_seconds, include_reposts, "
                              "paused, created_at, stream, kind, ignore_spam, consecutive_failures) VALUES "
                              "(1, 'n', 'q', 'C1', 60, false, false, :at, false, 'search', false, 0)"),
                         {"at": datetime(2026, 12, 1, tzinfo=UTC)})
        command.upgrade(config, "0022")
        tables = set(inspect(engine).get_table_names())
        assert {"billed_seen", "spend"} <= tables
        # One row per resource a day: a second read of it the same day is free.
        assert set(inspect(engine).get_pk_constraint("billed_seen")["constrained_columns"]) == {
            "network", "day", "kind", "resource_id"}
        # Retention prunes billed_seen by day; the key starts with network, so day has an index of its own.
        assert any(i["column_names"] == ["day"] for i in inspect(engine).get_indexes("billed_seen"))
        with engine.connect() as conn:
            assert conn.execute(text("SELECT monthly_budget, budget_paused_at FROM rules WHERE id = 1")).one() == (
                None, None)
        command.downgrade(config, "0021")
        assert current_revision(engine) == "0021"
        assert not {"billed_seen", "spend"} & set(inspect(engine).get_table_names())
        assert not {"monthly_budget", "budget_paused_at"} & {c["name"] for c in inspect(engine).get_columns("rules")}
        command.upgrade(config, "head")
    finally:
        engine.dispose()
