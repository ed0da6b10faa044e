"""Saved App Home views (store.saved_views): per person, replaced in place, kept across restarts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alembic import command
from sqlalchemy import inspect

from socialdesk.store import saved_views
from socialdesk.store.db import (
    alembic_config,
    current_revision,
    head_revision,
    make_engine,
    session_scope,
    upgrade,
)

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def saved(engine, user: str) -> str:
    with session_scope(engine) as session:
        return saved_views.queue_filter(session=session, user_id=user)


def test_a_saved_filter_is_per_person_replaced_and_kept_after_a_restart(engine, db_url):
    assert saved(engine, "UALICE") == ""
    with session_scope(engine) as session:
        saved_views.save_queue_filter(session=session, user_id="UALICE", text="priority:high", now=NOW)
        saved_views.save_queue_filter(session=session, user_id="UBOB", text="tag:refund", now=NOW)
    with session_scope(engine) as session:
        saved_views.save_queue_filter(session=session, user_id="UALICE", text="intent:question",
                                      now=NOW + timedelta(minutes=1))
    engine.dispose()
    restarted = make_engine(db_url)  # another process: only the database remembers
    try:
        assert saved(restarted, "UALICE") == "intent:question" and saved(restarted, "UBOB") == "tag:refund"
        with session_scope(restarted) as session:
            saved_views.save_queue_filter(session=session, user_id="UBOB", text="", now=NOW)
        assert saved(restarted, "UBOB") == "" and saved(restarted, "UCAROL") == ""
    finally:
        restarted.dispose()


def test_migration_0020_goes_down_to_0019_and_up_again(db_url):
    engine = make_engine(db_url)
    try:
        upgrade(engine)
        with session_scope(engine) as session:
            saved_views.save_queue_filter(session=session, user_id="UALICE", text="priority:high", now=NOW)
        command.downgrade(alembic_config(engine), "0019")
        assert current_revision(engine) == "0019"
        assert "saved_views" not in inspect(engine).get_table_names()
        upgrade(engine)
        assert current_revision(engine) == head_revision() and saved(engine, "UALICE") == ""
    finally:
        engine.dispose()
