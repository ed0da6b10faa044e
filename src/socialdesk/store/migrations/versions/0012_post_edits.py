"""posts edited at the source

Revision ID: 0012
Revises: 0011

A stream that reports edits (a StreamEvent of kind "update") rewrites the stored text;
`edited_at` says when, so the card can say the post was edited.
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('posts') as batch:
        batch.add_column(sa.Column('edited_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('posts') as batch:
        batch.drop_column('edited_at')
