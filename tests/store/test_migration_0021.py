"""Migration 0021 (source health columns, ops_alerts) upgrades and downgrades on both databases."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import inspect, text

from socialdesk.store.db import alembic_config, current_revision, make_engine

RULES = {"failing_since", "failure_kind", "gap_from", "gap_to", "gap_at"}
STREAMS = {"failing_since", "gap_from", "gap_to", "gap_at"}


def _columns(engine, table: str) -> set[str]:
    return {c["name"] for c in inspect(engine).get_columns(table)}


def test_0021_adds_the_columns_dates_a_failing_rule_and_downgrades(db_url):
    from alembic import command

    engine = make_engine(db_url)
    try:
        config = alembic_config(engine)
        command.upgrade(config, "0020")
        failed = datetime(2026, 12, 1, 23, 0, tzinfo=UTC)
        with engine.begin() as conn:  # two rules from before: one failing, one fine
            for n, failures in ((1, 3), (2, 0)):
                conn.execute(text("INSERT INTO rules (id, network, query, channel_id, every_seconds, include_reposts,"
                                  " paused, created_at, stream, kind, ignore_spam, consecutive_failures, last_error_at)"
                                  " VALUES (:id, 'n', 'q', 'C1', 60, false, false, :at, false, 'search', false,"
                                  " :failures, :at)"), {"id": n, "at": failed, "failures": failures})
        command.upgrade(config, "0021")
        assert RULES <= _columns(engine, "rules") and STREAMS <= _columns(engine, "streams")
        assert "ops_alerts" in inspect(engine).get_table_names()
        with engine.connect() as conn:
            since = dict(conn.execute(text("SELECT id, failing_since FROM rules ORDER BY id")).all())
        assert since[1] is not None and since[2] is None  # failing since its last error, as far as is known
        command.downgrade(config, "0020")
        assert current_revision(engine) == "0020"
        assert not RULES & _columns(engine, "rules") and not STREAMS & _columns(engine, "streams")
        assert "ops_alerts" not in inspect(engine).get_table_names()
        command.upgrade(config, "head")
    finally:
        engine.dispose()
