"""Inserting a page of rows at the driver's speed.

`insert_rows` writes the same values SQLAlchemy Core would for the table's column types,
but converts them with plain functions and hands the driver one executemany for the page
(of a one-row statement): for a page of posts, SQLAlchemy's per-row parameter processing (a type decorator and a format string
per timestamp, the standard library's JSON encoder per payload) costs more than SQLite
spends storing the rows. tests/store/test_bulk.py checks that both write identical rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Connection, DateTime, Float, Table
from sqlalchemy.types import TypeDecorator

from socialdesk.store.jsonfmt import dumps

Converter = Callable[[Any], Any]


@dataclass(frozen=True)
class Upsert:
    """A row whose `unique` columns match a stored row updates that row's `refresh` columns
    instead, and only when one of `changed` differs: an unchanged row is not written again
    (each rewritten row is a page of the database's log)."""

    unique: tuple[str, ...]
    refresh: tuple[str, ...]
    changed: tuple[str, ...]
    kept: tuple[str, ...] = ()  # refreshed only by a value: a row without one leaves the stored value


def insert_rows(connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]], *,
                upsert: Upsert | None = None) -> None:
    """INSERT every row (all with the keys of the first): one executemany of a one-row statement.

    SQLite prepares it once. psycopg 3 sends an executemany in one pipeline (one round trip, not
    one a row) and parses the short statement once; a multi-row VALUES, past 4 KB and 50
    parameters, was parsed again in Python on every execute (psycopg's _split_query: about a
    third of the client's time storing a page)."""
    if not rows:
        return
    names = list(rows[0])
    dialect = connection.dialect
    quote = dialect.identifier_preparer.quote
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    one_row = f"({', '.join([mark] * len(names))})"
    conflict = ""
    if upsert is not None:
        differs = "IS NOT" if dialect.name == "sqlite" else "IS DISTINCT FROM"
        stored = quote(table.name)
        conflict = (f" ON CONFLICT ({', '.join(quote(n) for n in upsert.unique)}) DO UPDATE SET "
                    + ", ".join([f"{quote(n)} = excluded.{quote(n)}" for n in upsert.refresh]
                                + [f"{quote(n)} = COALESCE(excluded.{quote(n)}, {stored}.{quote(n)})" for n in upsert.kept])
                    + " WHERE " + " OR ".join([f"{stored}.{quote(n)} {differs} excluded.{quote(n)}" for n in upsert.changed]
                                              + [f"(excluded.{quote(n)} IS NOT NULL AND {stored}.{quote(n)} {differs} "
                                                 f"excluded.{quote(n)})" for n in upsert.kept]))
    head = f"INSERT INTO {quote(table.name)} ({', '.join(quote(n) for n in names)}) VALUES "
    converting = [(at, convert) for at, name in enumerate(names)
                  if (convert := _converter(table.c[name].type, dialect)) is not None]
    values = []
    for row in rows:
        value = [row[name] for name in names]
        for at, convert in converting:
            value[at] = convert(value[at])
        values.append(value)
    connection.exec_driver_sql(head + one_row + conflict, [tuple(v) for v in values])


def _converter(column_type: Any, dialect: Any) -> Converter | None:
    """What to apply to a value of `column_type` (None: the driver takes it as it is)."""
    base = column_type.impl if isinstance(column_type, TypeDecorator) else column_type
    if isinstance(base, DateTime):
        return _timestamps(_sqlite_timestamp if dialect.name == "sqlite" else _utc)
    if type(column_type) in (Boolean, Float):
        return None  # both drivers take bools and floats as they are: SQLAlchemy's int() and float() change nothing
    processor = column_type._cached_bind_processor(dialect)
    if isinstance(base, JSON):
        def to_json(value: Any) -> Any:  # dicts and lists by our encoder; None, JSON.NULL … as SQLAlchemy does
            return dumps(value) if type(value) in (dict, list) else processor(value)
        return to_json
    return processor


def _timestamps(convert: Converter) -> Converter:
    memo: dict[datetime, Any] = {}  # a page's rows share a few timestamps (`now` above all)

    def timestamp(value: datetime | None) -> Any:
        if value is None:
            return None
        if value not in memo:
            memo[value] = convert(value)
        return memo[value]
    return timestamp


def _utc(value: datetime) -> datetime:
    if value.utcoffset() is None:
        raise ValueError("timestamps must be aware datetimes (UTC)")
    return value.astimezone(UTC)


def _sqlite_timestamp(value: datetime) -> str:
    """As SQLAlchemy stores an aware UTC datetime in SQLite: 'YYYY-MM-DD HH:MM:SS.ffffff', UTC."""
    return _utc(value).replace(tzinfo=None).isoformat(" ", "microseconds")
