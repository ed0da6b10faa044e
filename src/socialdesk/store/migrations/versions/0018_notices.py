"""notices: the messages that tell people about cases, each sent once

Revision ID: 0018
Revises: 0017

Assigning a case DMs the assignee, a follow-up on an owned case pings its owner, SLA
nudges mention the owner or on-call: each is a `notices` row queued in the same
transaction as the change that calls for it (unique on its key, so one per event), taken
before it is posted, and held until business hours when it comes due in quiet hours.
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('channel_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=True),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('due_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('taken_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('sent_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )
    op.create_index('ix_notices_case_id', 'notices', ['case_id'])
    op.create_index('ix_notices_due', 'notices', ['status', 'due_at'])


def downgrade() -> None:
    op.drop_index('ix_notices_due', table_name='notices')
    op.drop_index('ix_notices_case_id', table_name='notices')
    op.drop_table('notices')
