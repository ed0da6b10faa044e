"""requests from Slack already accepted (replays are dropped)

Revision ID: 0011
Revises: 0010

One row per signed request while its timestamp is inside Slack's 5-minute window
(socialdesk.slack.verify); older rows are pruned.
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'seen_requests',
        sa.Column('signature', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column('sent_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('signature'),
    )
    op.create_index(op.f('ix_seen_requests_sent_at'), 'seen_requests', ['sent_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_seen_requests_sent_at'), table_name='seen_requests')
    op.drop_table('seen_requests')
