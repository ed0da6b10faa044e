"""index cases by conversation and first post

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index('ix_cases_conversation', ['network', 'conversation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_first_post_id'), ['first_post_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cases_first_post_id'))
        batch_op.drop_index('ix_cases_conversation')

