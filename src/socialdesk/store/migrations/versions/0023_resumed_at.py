"""rules.resumed_at: when an admin last resumed the rule

Revision ID: 0023
Revises: 0022

A rule paused by an admin is not behind, and the stretch its search cannot reach back to
while it was paused is no outage: health's "behind", the poll-lag metric and the poller's
gap check count from the later of its last success and this (socialdesk.health).
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('rules', sa.Column('resumed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))


def downgrade() -> None:
    # Plain DROP COLUMN, no batch (as 0021): rebuilding `rules` on SQLite would drop what points at it.
    op.drop_column('rules', 'resumed_at')
