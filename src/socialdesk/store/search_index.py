"""Posts into SQLite's full-text index, a page at a time (migration 0015 says why).

PostgreSQL searches expression indexes on the tables themselves: nothing to do there.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session

_INDEX_POSTS = """
    INSERT INTO search_index(rowid, doc_kind, doc_id, case_id, at, body)
    SELECT id * 4 + 1, 'post', id, case_id, created_at, text FROM posts WHERE id BETWEEN ? AND ?
"""


def index_posts(*, session: Session, post_ids: Sequence[int]) -> None:
    """Add just-inserted posts to the index (each post once: call it once per insert)."""
    if not post_ids or session.get_bind().dialect.name != "sqlite":
        return
    ids = sorted(post_ids)
    # A page's ids are one run (store.ids); otherwise each run is its own statement.
    start = 0
    for at in range(1, len(ids) + 1):
        if at == len(ids) or ids[at] != ids[at - 1] + 1:
            session.connection().exec_driver_sql(_INDEX_POSTS, (ids[start], ids[at - 1]))
            start = at
