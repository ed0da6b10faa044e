"""Primary keys taken ahead of a batched insert, so no row needs INSERT … RETURNING.

Rows that point at each other (a case at its first post, the post at its case) can then be
inserted once each, complete, with one executemany per table.
"""

from __future__ import annotations

import functools

from sqlalchemy import Select, Table, func, select, text
from sqlmodel import Session


@functools.cache
def _max_id(table: Table) -> Select[tuple[int | None]]:
    return select(func.max(table.c.id))  # built once per table: a page takes ids twice


def take_ids(session: Session, table: Table, count: int) -> list[int]:
    """`count` new ids for `table`'s integer `id`, ascending, for the session's transaction to use.

    SQLite: max(id)+1 onwards, which is what SQLite itself would assign. Safe because a
    writing transaction holds the database's write lock from its BEGIN IMMEDIATE
    (store.db), so nobody else can insert until it commits.
    PostgreSQL: a block from the table's sequence, so concurrent writers and later plain
    inserts never collide with these (the ids need not be contiguous).
    """
    if count <= 0:
        return []
    if session.get_bind().dialect.name == "sqlite":
        top = session.connection().execute(_max_id(table)).scalar() or 0
        return list(range(top + 1, top + 1 + count))
    rows = session.connection().execute(
        text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :count)"),
        {"table": table.name, "count": count},
    )
    return sorted(row[0] for row in rows)
