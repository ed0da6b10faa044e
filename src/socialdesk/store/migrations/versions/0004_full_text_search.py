"""full-text search over posts, notes and replies

SQLite: an FTS5 table `search_index` kept in sync by triggers. Its rowid is
`id * 4 + kind` (post 1, note 2, reply 3), so a trigger finds a document's row by
rowid instead of scanning; doc_kind, doc_id, case_id and `at` (the document's time,
so ranking needs no join) are UNINDEXED so that only the body is searched (a
search for "post" must not match every post).

PostgreSQL: GIN expression indexes over to_tsvector('simple', …); the `simple`
configuration does no stemming or stop words, so it works for any language.

Revision ID: 0004
Revises: 0003
"""
from alembic import op


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

NOTE_TEXT = "json_extract(new.payload, '$.text')"

SQLITE_UP = [
    """CREATE VIRTUAL TABLE search_index USING fts5(
        doc_kind UNINDEXED, doc_id UNINDEXED, case_id UNINDEXED, at UNINDEXED, body,
        tokenize='unicode61 remove_diacritics 2')""",
    # posts
    """CREATE TRIGGER search_posts_ai AFTER INSERT ON posts BEGIN
        INSERT INTO search_index(rowid, doc_kind, doc_id, case_id, at, body)
        VALUES (new.id * 4 + 1, 'post', new.id, new.case_id, new.created_at, new.text);
    END""",
    """CREATE TRIGGER search_posts_au AFTER UPDATE OF text, case_id, created_at ON posts BEGIN
        DELETE FROM search_index WHERE rowid = old.id * 4 + 1;
        INSERT INTO search_index(rowid, doc_kind, doc_id, case_id, at, body)
        VALUES (new.id * 4 + 1, 'post', new.id, new.case_id, new.created_at, new.text);
    END""",
    """CREATE TRIGGER search_posts_ad AFTER DELETE ON posts BEGIN
        DELETE FROM search_index WHERE rowid = old.id * 4 + 1;
    END""",
    # notes (case_events of kind 'note', text in the JSON payload)
    f"""CREATE TRIGGER search_notes_ai AFTER INSERT ON case_events WHEN new.kind = 'note' BEGIN
        INSERT INTO search_index(rowid, doc_kind, doc_id, case_id, at, body)
        VALUES (new.id * 4 + 2, 'note', new.id, new.case_id, new.at, {NOTE_TEXT});
    END""",
    f"""CREATE TRIGGER search_notes_au AFTER UPDATE ON case_events BEGIN
        DELETE FROM search_index WHERE rowid = old.id * 4 + 2;
        INSERT INTO search_index(rowid, doc_kind, doc_id, case_id, at, body)
        SELECT new.id * 4 + 2, 'note', new.id, new.case_id, new.at, {NOTE_TEXT} WHERE new.kind = 'note';
    END""",
    """CREATE TRIGGER search_notes_ad AFTER DELETE ON case_events WHEN old.kind = 'note' BEGIN
        DELETE FROM search_index WHERE rowid = old.id * 4 + 2;
    END""",
    # replies
    """CREATE TRIGGER search_replies_ai AFTER INSERT ON replies BEGIN
        INSERT INTO search_index(rowid, doc_kind, doc_id, case_id, at, body)
        VALUES (new.id * 4 + 3, 'reply', new.id, new.case_id, new.created_at, new.text);
    END""",
    """CREATE TRIGGER search_replies_au AFTER UPDATE OF text, case_id, created_at ON replies BEGIN
        DELETE FROM search_index WHERE rowid = old.id * 4 + 3;
        INSERT INTO search_index(rowid, doc_kind, doc_id, case_id, at, body)
        VALUES (new.id * 4 + 3, 'reply', new.id, new.case_id, new.created_at, new.text);
    END""",
    """CREATE TRIGGER search_replies_ad AFTER DELETE ON replies BEGIN
        DELETE FROM search_index WHERE rowid = old.id * 4 + 3;
    END""",
    # backfill
    """INSERT INTO search_index(rowid, doc_kind, doc_id, case_id, at, body)
        SELECT id * 4 + 1, 'post', id, case_id, created_at, text FROM posts""",
    """INSERT INTO search_index(rowid, doc_kind, doc_id, case_id, at, body)
        SELECT id * 4 + 2, 'note', id, case_id, at, json_extract(payload, '$.text')
        FROM case_events WHERE kind = 'note'""",
    """INSERT INTO search_index(rowid, doc_kind, doc_id, case_id, at, body)
        SELECT id * 4 + 3, 'reply', id, case_id, created_at, text FROM replies""",
]
SQLITE_DOWN = [
    *(f"DROP TRIGGER IF EXISTS search_{table}_{when}"
      for table in ("posts", "notes", "replies") for when in ("ai", "au", "ad")),
    "DROP TABLE IF EXISTS search_index",
]

# The query in store/search.py repeats these expressions exactly, so the planner uses them.
POSTGRES_UP = [
    "CREATE INDEX ix_posts_text_fts ON posts USING gin (to_tsvector('simple', text))",
    "CREATE INDEX ix_replies_text_fts ON replies USING gin (to_tsvector('simple', text))",
    "CREATE INDEX ix_case_events_note_fts ON case_events "
    "USING gin (to_tsvector('simple', payload ->> 'text')) WHERE kind = 'note'",
]
POSTGRES_DOWN = [
    "DROP INDEX IF EXISTS ix_case_events_note_fts",
    "DROP INDEX IF EXISTS ix_replies_text_fts",
    "DROP INDEX IF EXISTS ix_posts_text_fts",
]


def _statements(up: bool) -> list[str]:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        return SQLITE_UP if up else SQLITE_DOWN
    if dialect == "postgresql":
        return POSTGRES_UP if up else POSTGRES_DOWN
    return []


def upgrade() -> None:
    for statement in _statements(up=True):
        op.execute(statement)


def downgrade() -> None:
    for statement in _statements(up=False):
        op.execute(statement)
