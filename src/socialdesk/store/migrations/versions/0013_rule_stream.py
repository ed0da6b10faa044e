"""rules carried by a stream that takes only the rules marked for it

Revision ID: 0013
Revises: 0012

A network whose stream matches posts against rules registered with it (and takes a
limited number of them) carries only the rules marked `stream`; the others are polled.
`stream_refused` is the network's reason when it refused a rule: that rule is polled too.
"""
from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('rules') as batch:
        batch.add_column(sa.Column('stream', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column('stream_refused', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('rules') as batch:
        batch.drop_column('stream_refused')
        batch.drop_column('stream')
