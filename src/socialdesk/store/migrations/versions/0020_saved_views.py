"""saved_views: App Home's queue filters, kept per person

Revision ID: 0020
Revises: 0019

One row per Slack user who saved a view; the filters are stored as their canonical text
(socialdesk.queue_filter) and parsed again when the Home is drawn.
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('saved_views',
    sa.Column('user_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('queue_filter', sa.Text(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('user_id')
    )


def downgrade() -> None:
    op.drop_table('saved_views')
