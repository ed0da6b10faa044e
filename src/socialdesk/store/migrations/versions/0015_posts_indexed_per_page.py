"""posts enter SQLite's full-text index a page at a time, not by trigger; one index less on cases

FTS5 writes its pending terms out whenever a statement that changes it opens a
savepoint, and a trigger's statement does: a page of 100 posts inserted under the
AFTER INSERT trigger wrote 100 small index segments, a third of the whole ingest.
store.ingest now adds a page's posts to `search_index` with one INSERT … SELECT
(store/search_index.py). The update and delete triggers stay: those are one post at
a time. PostgreSQL's expression indexes are unchanged.

`ix_cases_status` goes: `ix_cases_status_opened_at` (0007) starts with the status and
serves every lookup by status, on both databases; each new case wrote both.

Revision ID: 0015
Revises: 0014
"""
from alembic import op


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER search_posts_ai")
    op.drop_index('ix_cases_status', table_name='cases')


def downgrade() -> None:
    op.create_index('ix_cases_status', 'cases', ['status'])
    if op.get_bind().dialect.name == "sqlite":
        op.execute("""CREATE TRIGGER search_posts_ai AFTER INSERT ON posts BEGIN
            INSERT INTO search_index(rowid, doc_kind, doc_id, case_id, at, body)
            VALUES (new.id * 4 + 1, 'post', new.id, new.case_id, new.created_at, new.text);
        END""")
