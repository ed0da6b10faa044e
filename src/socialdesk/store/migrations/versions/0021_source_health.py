"""source health and ops alerts

- `rules.failing_since`, `streams.failing_since`: when the current run of failures began
  (cleared by a success), so "failing since …" and the ops alert's threshold need no history;
- `rules.failure_kind`: what the last failure was (rate_limited, unavailable, rejected): a rate
  limit is a state of its own, not a failure to alert on;
- `rules.gap_from`/`gap_to`/`gap_at`, the same on `streams`: posts in that window could not be
  read (the gap was older than the network's search reaches back, `Network.gap_limit`), found then;
- `ops_alerts`: one row per incident told to SOCIALDESK_OPS_CHANNEL, its key unique: inserting
  it is taking it (of several replicas one posts it), and setting `recovered_at` takes the recovery.

Revision ID: 0021
Revises: 0020
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


# Plain ADD/DROP COLUMN, no batch (as 0019): rebuilding `rules` on SQLite would drop what points at it.
def rule_columns() -> list[sa.Column]:
    return [sa.Column('failing_since', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
            sa.Column('failure_kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
            sa.Column('gap_from', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
            sa.Column('gap_to', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
            sa.Column('gap_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)]


def stream_columns() -> list[sa.Column]:
    return [sa.Column('failing_since', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
            sa.Column('gap_from', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
            sa.Column('gap_to', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
            sa.Column('gap_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)]


def upgrade() -> None:
    for column in rule_columns():
        op.add_column('rules', column)
    for column in stream_columns():
        op.add_column('streams', column)
    # A rule failing now began failing at its last error, as far as anyone knows.
    op.execute("UPDATE rules SET failing_since = last_error_at WHERE consecutive_failures > 0")
    op.create_table('ops_alerts',
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('fix', sa.Text(), nullable=False),
    sa.Column('channel_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('opened_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('message_ts', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('recovered_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_index('ix_ops_alerts_open', 'ops_alerts', ['recovered_at'])


def downgrade() -> None:
    op.drop_index('ix_ops_alerts_open', table_name='ops_alerts')
    op.drop_table('ops_alerts')
    for column in reversed(stream_columns()):
        op.drop_column('streams', column.name)
    for column in reversed(rule_columns()):
        op.drop_column('rules', column.name)
