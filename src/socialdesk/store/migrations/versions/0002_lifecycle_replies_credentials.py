"""lifecycle replies credentials

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('credentials',
    sa.Column('network', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('access_token', sa.Text(), nullable=False),
    sa.Column('refresh_token', sa.Text(), nullable=True),
    sa.Column('expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('account_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('account_handle', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('network')
    )
    op.create_table('replies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('agent', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
    sa.Column('via', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('external_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('url', sqlmodel.sql.sqltypes.AutoString(length=1024), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('approver', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('approval_channel', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('approval_ts', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('sent_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )
    with op.batch_alter_table('replies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_replies_case_id'), ['case_id'], unique=False)

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('customer_author_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('sentiment', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('tags', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('ignored_reason', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
        batch_op.add_column(sa.Column('first_response_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('resolved_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('last_action', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True))
        batch_op.add_column(sa.Column('customer_wrote_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('replying_user', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
        batch_op.add_column(sa.Column('replying_since', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('sending_reply_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_cases_customer_author_id'), ['customer_author_id'], unique=False)

    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sentiment', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('thread_ts', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
        batch_op.add_column(sa.Column('thread_attempted_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))

    with op.batch_alter_table('rules', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False, server_default='search'))
        batch_op.add_column(sa.Column('priority_keywords', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('priority_followers', sa.Integer(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('rules', schema=None) as batch_op:
        batch_op.drop_column('priority_followers')
        batch_op.drop_column('priority_keywords')
        batch_op.drop_column('kind')

    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.drop_column('thread_attempted_at')
        batch_op.drop_column('thread_ts')
        batch_op.drop_column('sentiment')

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cases_customer_author_id'))
        batch_op.drop_column('sending_reply_id')
        batch_op.drop_column('replying_since')
        batch_op.drop_column('replying_user')
        batch_op.drop_column('customer_wrote_at')
        batch_op.drop_column('last_action')
        batch_op.drop_column('resolved_at')
        batch_op.drop_column('first_response_at')
        batch_op.drop_column('ignored_reason')
        batch_op.drop_column('tags')
        batch_op.drop_column('sentiment')
        batch_op.drop_column('customer_author_id')

    with op.batch_alter_table('replies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_replies_case_id'))

    op.drop_table('replies')
    op.drop_table('credentials')
