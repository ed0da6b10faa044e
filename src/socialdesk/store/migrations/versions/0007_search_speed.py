"""indexes on document time: windowed search and period figures

`/social search` looks at the last 7 days, then 30, before searching everything
(store/search.py): these indexes find where a window starts in each kind of document
(posts, notes, replies) without reading the whole table. `case_events (kind, at)` also
serves the digest and `/social stats` figures (store/figures.py), which read events by
kind and time, cases by first response time, and the oldest cases still waiting
(`cases (status, opened_at)`).

Revision ID: 0007
Revises: 0006
"""
from alembic import op


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_posts_created_at', 'posts', ['created_at'])
    op.create_index('ix_case_events_kind_at', 'case_events', ['kind', 'at'])
    op.create_index('ix_replies_created_at', 'replies', ['created_at'])
    op.create_index('ix_cases_first_response_at', 'cases', ['first_response_at'])
    op.create_index('ix_cases_status_opened_at', 'cases', ['status', 'opened_at'])


def downgrade() -> None:
    op.drop_index('ix_cases_status_opened_at', table_name='cases')
    op.drop_index('ix_cases_first_response_at', table_name='cases')
    op.drop_index('ix_replies_created_at', table_name='replies')
    op.drop_index('ix_case_events_kind_at', table_name='case_events')
    op.drop_index('ix_posts_created_at', table_name='posts')
