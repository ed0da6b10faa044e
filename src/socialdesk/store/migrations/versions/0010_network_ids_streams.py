"""room for any network's ids (URIs and account ids longer than 64); stream cursors and leases

Revision ID: 0010
Revises: 0009

Ids were sized for the first network's numeric ids (64). SQLite does not enforce VARCHAR lengths and
rebuilding `posts` there would drop its full-text triggers, so only other databases
alter the columns.
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

WIDENED = {
    'authors': ('external_id',),
    'posts': ('external_id', 'conversation_id', 'in_reply_to_id'),
    'cases': ('conversation_id',),
    'replies': ('external_id',),
    'credentials': ('account_id',),
}


def _resize(length: int) -> None:
    if op.get_bind().dialect.name == 'sqlite':
        return
    for table, columns in WIDENED.items():
        for column in columns:
            op.alter_column(table, column, type_=sqlmodel.sql.sqltypes.AutoString(length=length))


def upgrade() -> None:
    _resize(512)
    op.create_table(
        'streams',
        sa.Column('network', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('cursor', sa.JSON(), nullable=True),
        sa.Column('cursor_at', sa.DateTime(), nullable=True),
        sa.Column('holder', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column('lease_until', sa.DateTime(), nullable=True),
        sa.Column('connected_at', sa.DateTime(), nullable=True),
        sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('network'),
    )


def downgrade() -> None:
    op.drop_table('streams')
    _resize(64)
