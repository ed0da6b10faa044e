"""`/social search` on both databases: posts, notes, replies, filters, pages, hostile input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from socialdesk.search_query import parse
from socialdesk.store import ingest, lifecycle
from socialdesk.store.db import session_scope
from socialdesk.store.models import CaseRow, ReplyRow
from socialdesk.store.rules import add_rule
from socialdesk.store.search import fts5_match, search, snippet, terms
from tests.support.factories import x_post

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def open_case(engine, body: str, *, handle: str = "customer", when: datetime | None = None,
              rule_id: int | None = None) -> int:
    with session_scope(engine) as session:
        [cid] = ingest.store_posts(session=session, posts=[x_post(body, handle=handle, when=when or NOW - timedelta(hours=1))],
                                   rule_id=rule_id, channel_id="C1", now=NOW)
    return cid


def find(engine, text_: str, *, now: datetime = NOW, **kw):
    with session_scope(engine) as session:
        return search(session=session, query=parse(text_), now=now, **kw)


def ids(page) -> list[int]:
    return [h.case_id for h in page.hits]


def test_finds_a_word_in_a_post_a_note_and_a_reply(engine):
    by_post = open_case(engine, "my Acme phone battery dies by noon", handle="Alice")
    by_note = open_case(engine, "screen cracked", handle="bob")
    by_reply = open_case(engine, "stuck on the boot logo", handle="carol")
    with session_scope(engine) as session:
        assert lifecycle.add_note(session=session, case_id=by_note, user_id="UALICE", text="customer is on warranty plan B",
                                  now=NOW).ok
        session.add(ReplyRow(case_id=by_reply, key="k1", agent="UBOB", text="Please hold the power button for 30 seconds",
                             status="sent", created_at=NOW))

    page = find(engine, "battery")
    assert ids(page) == [by_post] and page.total == 1 and not page.has_more
    [hit] = page.hits
    assert (hit.kind, hit.author_handle, hit.status, hit.channel_id) == ("post", "Alice", "new", "C1")
    assert hit.snippet == "my Acme phone battery dies by noon" and hit.post_url.startswith("https://x.com/Alice/")
    assert hit.created_at == NOW - timedelta(hours=1)

    [note] = find(engine, "WARRANTY plan").hits
    assert (note.case_id, note.kind, note.author_handle, note.created_at) == (by_note, "note", "bob", NOW)
    [reply] = find(engine, "power button").hits
    assert (reply.case_id, reply.kind, reply.snippet) == (by_reply, "reply", "Please hold the power button for 30 seconds")
    assert reply.post_url.startswith("https://x.com/carol/")
    assert find(engine, "battery warranty").hits == []  # every word must match one document
    assert find(engine, "batt").hits == []  # no prefix matching
    assert find(engine, "note").hits == [] and find(engine, "post").hits == []  # the kind is not searched


def test_one_hit_per_case_its_newest_matching_document(engine):
    cid = open_case(engine, "refund please", when=NOW - timedelta(days=2))
    with session_scope(engine) as session:
        lifecycle.add_note(session=session, case_id=cid, user_id="U1", text="refund approved by finance", now=NOW)
    page = find(engine, "refund")
    assert ids(page) == [cid] and page.total == 1
    assert page.hits[0].kind == "note" and page.hits[0].snippet == "refund approved by finance"


def test_index_follows_updates_and_deletes(engine):
    cid = open_case(engine, "original words")
    with session_scope(engine) as session:
        session.execute(text("UPDATE posts SET text = 'rewritten words' WHERE case_id = :c"), {"c": cid})
    assert find(engine, "original").hits == []
    assert ids(find(engine, "rewritten")) == [cid]
    with session_scope(engine) as session:
        session.execute(text("UPDATE cases SET first_post_id = NULL WHERE id = :c"), {"c": cid})
        session.execute(text("DELETE FROM posts WHERE case_id = :c"), {"c": cid})
    assert find(engine, "rewritten").hits == []


def test_filters(engine):
    with session_scope(engine) as session:
        rule = add_rule(session=session, network="x", query="acme", channel_id="C1", every_seconds=60, lang=None,
                        include_reposts=False, now=NOW)
        rule_id = rule.id
    old = open_case(engine, "charger broke", handle="Dana", when=NOW - timedelta(days=10))
    ruled = open_case(engine, "charger broke again", handle="erin", rule_id=rule_id)
    claimed = open_case(engine, "charger missing", handle="dana")
    with session_scope(engine) as session:
        assert lifecycle.claim(session=session, case_id=claimed, user_id="U1", now=NOW).ok

    assert ids(find(engine, "charger")) == [claimed, ruled, old]
    assert ids(find(engine, "charger status:claimed")) == [claimed]
    assert ids(find(engine, "charger status:new,resolved")) == [ruled, old]
    assert ids(find(engine, f"charger rule:{rule_id}")) == [ruled]
    assert ids(find(engine, "charger rule:999")) == []
    assert ids(find(engine, "charger network:x")) == [claimed, ruled, old]
    assert ids(find(engine, "charger from:@DANA")) == [claimed, old]  # case-insensitive
    assert ids(find(engine, "charger since:7d")) == [claimed, ruled]
    assert ids(find(engine, "charger since:30m")) == []
    # Filters alone list cases by their first post.
    listing = find(engine, "from:dana")
    assert ids(listing) == [claimed, old] and listing.hits[0].kind == "post" and listing.total == 2
    assert ids(find(engine, "status:new since:2w")) == [ruled, old]
    assert ids(find(engine, "")) == [claimed, ruled, old]


def test_pages_newest_first(engine):
    cases = [open_case(engine, f"widget complaint {i}", when=NOW - timedelta(minutes=i)) for i in range(7)]
    open_case(engine, "unrelated")
    first = find(engine, "widget", limit=3)
    assert ids(first) == cases[:3] and first.total == 7 and first.has_more
    second = find(engine, "widget", limit=3, offset=3)
    assert ids(second) == cases[3:6] and second.has_more
    last = find(engine, "widget", limit=3, offset=6)
    assert ids(last) == cases[6:] and not last.has_more and last.total == 7
    past = find(engine, "widget", limit=3, offset=30)
    assert past.hits == [] and past.total == 7 and not past.has_more


TRICKY = [
    '"', '""', '"unbalanced', "*", "widget*", "AND", "OR", "NOT", "NEAR", "NEAR(a b)", "-", "-widget", "a - b",
    "'; DROP TABLE cases; --", "'", "(", ")", "(widget", "{body}:widget", "^widget", "widget +",
    "\\", "%", "_", "C++", "50%", "café", "日本語", "🙂", "🔥🔥", "null", "\x00", "a\tb\nc", ":", "::", "&&", "||",
    "!", "<->", "a & b | !c", "$1", ":words", "?", "@customer",
]


@pytest.mark.parametrize("query", TRICKY)
def test_tricky_input_is_data_never_syntax(engine, query):
    open_case(engine, "plain widget text")
    page = find(engine, query)  # must not raise
    assert page.total is not None
    # Tables are still there.
    assert ids(find(engine, "widget")) != []


def test_tricky_input_finds_literal_matches(engine):
    cpp = open_case(engine, "is C++ support coming?")
    pct = open_case(engine, "50% off was a lie")
    quoted = open_case(engine, 'he said "AND" then NEAR the store -- (really) *wow*')
    sql = open_case(engine, "robert'); DROP TABLE students;-- is my son")
    cafe = open_case(engine, "Café crème 日本語 🙂")
    assert ids(find(engine, "C++")) == [cpp]
    assert ids(find(engine, "50%")) == [pct]
    assert ids(find(engine, '"AND"')) == [quoted]
    assert ids(find(engine, "AND NEAR")) == [quoted]
    assert ids(find(engine, "(really) *wow*")) == [quoted]
    assert ids(find(engine, "-- really")) == [quoted]
    assert ids(find(engine, "'); DROP TABLE students;--")) == [sql]
    assert cafe in ids(find(engine, "café")) and cafe in ids(find(engine, "日本語"))
    with session_scope(engine) as session:
        assert session.get(CaseRow, sql) is not None


def test_long_input(engine):
    cid = open_case(engine, "alpha beta gamma")
    long = "alpha " * 333 + "  "
    assert len(long) == 2000
    assert ids(find(engine, long)) == [cid]
    noisy = " ".join(f'"x{i}" AND NEAR(*' for i in range(300))[:2000]
    assert find(engine, noisy).hits == []
    assert find(engine, "🙂" * 2000).hits == []


def test_fts5_terms_are_quoted_strings():
    assert fts5_match('C++ "x" AND') == '"C++" AND """x""" AND "AND"'
    assert fts5_match("'; --") == ""
    assert terms("a a b") == ["a", "b"]
    assert len(terms(" ".join(f"w{i}" for i in range(100)))) == 32


def test_snippet_centres_on_the_word():
    body = "x " * 200 + "the battery died " + "y " * 200
    cut = snippet(body, "battery")
    assert "battery" in cut and cut.startswith("…") and cut.endswith("…") and len(cut) <= 162
    assert snippet("short\n text", "nothing") == "short text"


def test_migration_0004_backfills_and_downgrades(db_url):
    """Only 0003 -> 0004 -> 0003, on raw rows: later migrations and models play no part."""
    from alembic import command
    from sqlalchemy import inspect

    from socialdesk.store.db import alembic_config, current_revision, make_engine

    engine = make_engine(db_url)
    try:
        config = alembic_config(engine)
        command.upgrade(config, "0003")
        at = "2026-11-27 11:00:00" if engine.dialect.name == "sqlite" else NOW
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO authors (id, network, external_id, handle, name, followers, verified, updated_at)"
                              " VALUES (1, 'x', 'u1', 'cust', 'Cust', 1, false, :at)"), {"at": at})
            conn.execute(text("INSERT INTO cases (id, network, status, priority, channel_id, publish_failures, opened_at,"
                              " updated_at, version, first_post_id, customer_author_id)"
                              " VALUES (1, 'x', 'new', 'normal', 'C1', 0, :at, :at, 1, 1, 1)"), {"at": at})
            conn.execute(text("INSERT INTO posts (id, network, external_id, url, author_id, text, created_at, fetched_at,"
                              " is_repost, is_reply, case_id) VALUES (1, 'x', 'p1', 'https://x.com/cust/status/1', 1,"
                              " 'kept across migrations', :at, :at, false, false, 1)"), {"at": at})
            conn.execute(text("INSERT INTO case_events (id, case_id, kind, actor, at, payload)"
                              " VALUES (1, 1, 'note', 'U1', :at, :payload)"),
                         {"at": at, "payload": '{"text": "noted before the index"}'})
            conn.execute(text("INSERT INTO replies (id, case_id, key, agent, text, status, created_at)"
                              " VALUES (1, 1, 'k', 'U1', 'replied before the index', 'sent', :at)"), {"at": at})
        command.upgrade(config, "0004")  # backfills
        with session_scope(engine) as session:
            for word, kind in [("kept", "post"), ("noted", "note"), ("replied", "reply")]:
                [hit] = search(session=session, query=parse(word), now=NOW).hits
                assert (hit.case_id, hit.kind, hit.author_handle) == (1, kind, "cust")
        command.downgrade(config, "0003")
        assert current_revision(engine) == "0003"
        assert "search_index" not in set(inspect(engine).get_table_names())
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                left = conn.execute(text("SELECT count(*) FROM sqlite_master WHERE name LIKE 'search%'")).scalar()
            else:
                left = conn.execute(text("SELECT count(*) FROM pg_indexes WHERE indexname LIKE '%_fts'")).scalar()
        assert left == 0
    finally:
        engine.dispose()


def test_migration_0015_moves_post_indexing_from_the_trigger_and_back(db_url):
    """0014 indexed posts by trigger; from 0015 store.ingest does, once per page."""
    from alembic import command
    from sqlalchemy import inspect

    from socialdesk.store.db import alembic_config, make_engine

    engine = make_engine(db_url)
    try:
        config = alembic_config(engine)
        command.upgrade(config, "0015")

        def state() -> tuple[bool, bool]:
            indexes = {i["name"] for i in inspect(engine).get_indexes("cases")}
            with engine.connect() as conn:
                trigger = engine.dialect.name == "sqlite" and bool(conn.execute(text(
                    "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name = 'search_posts_ai'")).scalar())
            return trigger, "ix_cases_status" in indexes

        assert state() == (False, False)
        command.downgrade(config, "0014")
        assert state() == (engine.dialect.name == "sqlite", True)
        command.upgrade(config, "0015")
        assert state() == (False, False)
    finally:
        engine.dispose()
