"""streams: its times with their time zone on PostgreSQL, as every other table's

Revision ID: 0024
Revises: 0023

0010 made `cursor_at`, `lease_until`, `connected_at` and `updated_at` plain `timestamp`:
PostgreSQL stored an aware time as the server's wall clock, and it was read back as UTC. On a
server whose time zone is not UTC a stream's lease looked expired while it was held (its rules
were polled while it streamed them) or held for hours after its replica died. The stored
values are converted as PostgreSQL casts them, from the session's time zone: the one they were
written in, unless the server's setting changed since. SQLite stores text either way.
"""
from alembic import op
import sqlalchemy as sa


revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None

COLUMNS = ('cursor_at', 'lease_until', 'connected_at', 'updated_at')


def _retype(with_zone: bool) -> None:
    if op.get_bind().dialect.name == 'sqlite':
        return
    for column in COLUMNS:
        op.alter_column('streams', column, type_=sa.DateTime(timezone=with_zone))


def upgrade() -> None:
    _retype(True)


def downgrade() -> None:
    _retype(False)
