"""Migration 0016 (triage columns) upgrades and downgrades on both databases."""

from __future__ import annotations

from sqlalchemy import inspect, text

from socialdesk.store.db import alembic_config, current_revision, make_engine


def _columns(engine, table: str) -> set[str]:
    return {c["name"] for c in inspect(engine).get_columns(table)}


def test_0016_adds_the_triage_columns_and_downgrades(db_url):
    from alembic import command

    engine = make_engine(db_url)
    try:
        config = alembic_config(engine)
        command.upgrade(config, "0016")
        assert {"intent", "spam_score", "spam_reasons"} <= _columns(engine, "cases")
        assert {"lang_detected", "text_key"} <= _columns(engine, "posts")
        assert {"ignore_spam", "routes"} <= _columns(engine, "rules")
        assert "created_at" in _columns(engine, "authors")
        assert "ix_posts_text_key_created" in {i["name"] for i in inspect(engine).get_indexes("posts")}
        command.downgrade(config, "0015")
        assert current_revision(engine) == "0015"
        assert not {"intent", "spam_score", "spam_reasons"} & _columns(engine, "cases")
        assert not {"lang_detected", "text_key"} & _columns(engine, "posts")
        assert not {"ignore_spam", "routes"} & _columns(engine, "rules")
        assert "created_at" not in _columns(engine, "authors")
        command.upgrade(config, "head")
        if engine.dialect.name == "sqlite":  # posts kept its full-text triggers (no table rebuild)
            with engine.connect() as conn:
                triggers = conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'"
                                             " AND tbl_name = 'posts'")).scalars().all()
            assert sorted(triggers) == ["search_posts_ad", "search_posts_au"]  # inserts are indexed per page (0015)
    finally:
        engine.dispose()
