"""Inserting a row once per key: the second insert of the same key (a retry, another replica, a
restart that redoes the work) adds nothing and says so. Notices and ops alerts are queued this way."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session


def insert_once(*, session: Session, table: Table, values: Mapping[str, Any], key: str) -> bool:
    """INSERT the row unless one with the same `key` column value exists; True when this one went in."""
    dialect = session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        module = postgresql if dialect == "postgresql" else sqlite
        statement = (module.insert(table).values(dict(values)).on_conflict_do_nothing(index_elements=[key])  # type: ignore[attr-defined]
                     .returning(table.c[key]))
        return session.execute(statement).first() is not None  # RETURNING: psycopg's rowcount is -1 here
    try:
        with session.begin_nested():
            session.execute(insert(table).values(dict(values)))
    except IntegrityError:
        return False
    return True
