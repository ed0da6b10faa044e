"""incidents: storms of near-duplicate posts shown as one card

Revision ID: 0017
Revises: 0016

A post near-duplicate to an open case of the same rule within a window joins that
case's incident (store.incidents): `cases.incident_id` links each case, the anchor
(the first case, whose card is the incident card) included. The candidates are read
per page by rule and time: `ix_cases_rule_opened` replaces `ix_cases_rule_id`, whose
lookups it serves as its prefix, so the cases table keeps as many indexes.
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def _sqlite() -> bool:
    return op.get_context().dialect.name == "sqlite"


def upgrade() -> None:
    op.create_table('incidents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rule_id', sa.Integer(), nullable=True),
    sa.Column('channel_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('anchor_case_id', sa.Integer(), nullable=False),
    sa.Column('opened_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('last_joined_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('closed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['rule_id'], ['rules.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_incidents_rule_id', 'incidents', ['rule_id'])
    op.create_index('ix_incidents_anchor_case_id', 'incidents', ['anchor_case_id'])
    if _sqlite():
        # SQLite adds a nullable column with its REFERENCES in place; a batch rebuild of `cases`
        # would drop the table the posts, replies and events point at (foreign keys are on).
        op.execute("ALTER TABLE cases ADD COLUMN incident_id INTEGER REFERENCES incidents (id)")
    else:
        op.add_column('cases', sa.Column('incident_id', sa.Integer(), nullable=True))
        op.create_foreign_key('fk_cases_incident_id', 'cases', 'incidents', ['incident_id'], ['id'])
    op.create_index('ix_cases_incident_id', 'cases', ['incident_id'])
    op.create_index('ix_cases_rule_opened', 'cases', ['rule_id', 'opened_at'])
    op.drop_index('ix_cases_rule_id', table_name='cases')


def downgrade() -> None:
    op.create_index('ix_cases_rule_id', 'cases', ['rule_id'])
    op.drop_index('ix_cases_rule_opened', table_name='cases')
    op.drop_index('ix_cases_incident_id', table_name='cases')
    if _sqlite():
        op.execute("ALTER TABLE cases DROP COLUMN incident_id")  # SQLite 3.35+: the column only, in place
    else:
        op.drop_constraint('fk_cases_incident_id', 'cases', type_='foreignkey')
        op.drop_column('cases', 'incident_id')
    op.drop_index('ix_incidents_anchor_case_id', table_name='incidents')
    op.drop_index('ix_incidents_rule_id', table_name='incidents')
    op.drop_table('incidents')
