"""triage at ingest: intent, spam score, detected language, spam and routing rule settings

- `cases.intent` (complaint/question/praise/other), `cases.spam_score` (0..1) and
  `cases.spam_reasons` (readable lines), from socialdesk.triage when the case opened;
- `posts.lang_detected`: the language was guessed locally (the network gave none);
- `posts.text_key`: a digest of the text normalised for "the same text" (triage.similarity),
  indexed with `created_at` and `author_id`, so the accounts posting one text recently are
  counted in one query per page from the index alone;
- `rules.ignore_spam`: likely spam opens its case as ignored (reversible);
- `rules.routes`: {"question": "C0SUPPORT", "tag:refund": "C0BILLING"}: a new case of that
  intent or tag opens in that channel instead of the rule's;
- `authors.created_at`: when the account was made, where the network says (spam signal).

Revision ID: 0016
Revises: 0015
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


# Plain ADD/DROP COLUMN, no batch: rebuilding `posts` on SQLite would drop its full-text
# triggers (0004), and SQLite (3.35+) adds and drops these columns in place.
COLUMNS = {
    'cases': lambda: [sa.Column('intent', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
                      sa.Column('spam_score', sa.Float(), nullable=True),
                      sa.Column('spam_reasons', sa.JSON(), nullable=True)],
    'posts': lambda: [sa.Column('lang_detected', sa.Boolean(), nullable=False, server_default=sa.false()),
                      sa.Column('text_key', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True)],
    'rules': lambda: [sa.Column('ignore_spam', sa.Boolean(), nullable=False, server_default=sa.false()),
                      sa.Column('routes', sa.JSON(), nullable=True)],
    'authors': lambda: [sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)],
}


def upgrade() -> None:
    for table, columns in COLUMNS.items():
        for column in columns():
            op.add_column(table, column)
    op.create_index('ix_posts_text_key_created', 'posts', ['text_key', 'created_at', 'author_id'])


def downgrade() -> None:
    op.drop_index('ix_posts_text_key_created', table_name='posts')
    for table, columns in reversed(COLUMNS.items()):
        for column in reversed(columns()):
            op.drop_column(table, column.name)
