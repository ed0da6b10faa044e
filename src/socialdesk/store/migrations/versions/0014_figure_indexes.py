"""indexes for figures counted in SQL (store/figure_counts.py)

SQLite aggregates by sorting unless an index gives the groups in order, and reads
a table row for every column an index lacks. So:
- `case_events (kind, actor, at)`: the event counts by kind and agent are read in
  group order, no sort;
- `case_events (kind, at, case_id)` replaces `(kind, at)`: the hourly counts and the
  joins to cases (rules, sentiment, time to resolve) read no event rows;
- `cases (first_response_at, opened_at)` replaces `(first_response_at)`: the first
  response times read no case rows;
- `posts (created_at, author_id)` replaces `(created_at)`: the top authors read no
  post rows (the widest table: text and raw JSON). Windowed search uses its prefix.

Revision ID: 0014
Revises: 0013
"""
from alembic import op


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_case_events_kind_actor_at', 'case_events', ['kind', 'actor', 'at'])
    op.create_index('ix_case_events_kind_at_case', 'case_events', ['kind', 'at', 'case_id'])
    op.drop_index('ix_case_events_kind_at', table_name='case_events')
    op.create_index('ix_cases_first_response_opened', 'cases', ['first_response_at', 'opened_at'])
    op.drop_index('ix_cases_first_response_at', table_name='cases')
    op.create_index('ix_posts_created_at_author', 'posts', ['created_at', 'author_id'])
    op.drop_index('ix_posts_created_at', table_name='posts')


def downgrade() -> None:
    op.create_index('ix_posts_created_at', 'posts', ['created_at'])
    op.drop_index('ix_posts_created_at_author', table_name='posts')
    op.create_index('ix_cases_first_response_at', 'cases', ['first_response_at'])
    op.drop_index('ix_cases_first_response_opened', table_name='cases')
    op.create_index('ix_case_events_kind_at', 'case_events', ['kind', 'at'])
    op.drop_index('ix_case_events_kind_at_case', table_name='case_events')
    op.drop_index('ix_case_events_kind_actor_at', table_name='case_events')
