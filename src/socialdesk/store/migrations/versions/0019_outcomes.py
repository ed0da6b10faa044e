"""resolution outcomes, duplicates, and the first-response clock re-armed by a reopen

- `cases.outcome`: how it was resolved (answered, fixed, no_reply_needed, duplicate), chosen
  in the resolve modal; None for a case resolved before outcomes (or not resolved);
- `cases.duplicate_of`: the case it duplicates (outcome "duplicate"), indexed so a card can
  list its duplicates. No foreign key: retention deletes cases (a dangling number is shown as such);
- `cases.sla_started_at`: when the current first-response clock started; None means at
  `opened_at`. A reopen starts it again;
- `cases.responded_at`: when the current clock was answered (the first reply since it
  started). `first_response_at` stays the case's very first reply, which figures read.
  Filled from `first_response_at` for every case so far.

Revision ID: 0019
Revises: 0018
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


# Plain ADD/DROP COLUMN, no batch: rebuilding `cases` on SQLite would drop the table the
# posts, replies and events point at (foreign keys are on); SQLite 3.35+ does these in place.
def columns() -> list[sa.Column]:
    return [sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
            sa.Column('duplicate_of', sa.Integer(), nullable=True),
            sa.Column('sla_started_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
            sa.Column('responded_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)]


def upgrade() -> None:
    for column in columns():
        op.add_column('cases', column)
    op.create_index('ix_cases_duplicate_of', 'cases', ['duplicate_of'])
    op.execute("UPDATE cases SET responded_at = first_response_at WHERE first_response_at IS NOT NULL")


def downgrade() -> None:
    op.drop_index('ix_cases_duplicate_of', table_name='cases')
    for column in reversed(columns()):
        op.drop_column('cases', column.name)
