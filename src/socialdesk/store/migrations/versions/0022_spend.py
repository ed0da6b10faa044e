"""spend: billed reads per day and rule, the resources billed each day, and a rule's monthly budget

Revision ID: 0022
Revises: 0021

`billed_seen` holds (network, UTC day, kind, resource id) once: a network that bills a
resource once a day is metered the same way. `spend` counts the billed reads per network,
day, rule (0: none) and kind, with their cost. `rules.monthly_budget` is a rule's limit in
dollars a month (store.spend, socialdesk.spend).
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


def downgrade() -> None:
    op.drop_column('rules', 'monthly_budget')
    op.drop_table('spend')
    op.drop_table('billed_seen')
