"""spend: billed reads per day and rule, the resources billed each day, and a rule's monthly budget

Revision ID: 0022
Revises: 0021

`billed_seen` holds (network, UTC day, kind, resource id) once: a network that bills a
resource once a day is metered the same way. `spend` counts the billed reads per network,
day, rule (0: none) and kind, with their cost. `rules.monthly_budget` is a rule's limit in
dollars a month (store.spend, socialdesk.spend); `rules.budget_paused_at` when the poller
last found the rule paused by budget (health measures "behind" from it once the pause ends).
`billed_seen.day` is indexed: retention prunes by day, and the key starts with network.
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('billed_seen',
    sa.Column('network', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('resource_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.PrimaryKeyConstraint('network', 'day', 'kind', 'resource_id')
    )
    op.create_index(op.f('ix_billed_seen_day'), 'billed_seen', ['day'], unique=False)
    op.create_table('spend',
    sa.Column('network', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('rule_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('reads', sa.Integer(), nullable=False),
    sa.Column('cost', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('network', 'day', 'rule_id', 'kind')
    )
    op.add_column('rules', sa.Column('monthly_budget', sa.Float(), nullable=True))
    op.add_column('rules', sa.Column('budget_paused_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))


def downgrade() -> None:
    # Plain DROP COLUMN, no batch (as 0021): rebuilding `rules` on SQLite would drop what points at it.
    op.drop_column('rules', 'budget_paused_at')
    op.drop_column('rules', 'monthly_budget')
    op.drop_table('spend')
    op.drop_index(op.f('ix_billed_seen_day'), table_name='billed_seen')
    op.drop_table('billed_seen')
