"""store.bulk writes exactly what SQLAlchemy Core writes, on both databases."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import insert, select, text

from socialdesk.store.bulk import Upsert, insert_rows
from socialdesk.store.db import session_scope
from socialdesk.store.jsonfmt import dumps
from socialdesk.store.models import AuthorRow, CaseEventRow, CaseRow

NOW = datetime(2026, 12, 1, 20, 0, 0, 123456, tzinfo=UTC)
BERLIN = timezone(timedelta(hours=1))


def _case(session) -> int:
    case = CaseRow(network="x", channel_id="C1", opened_at=NOW, updated_at=NOW)
    session.add(case)
    session.flush()
    return case.id


def _stored(conn, table: str, ids: list[int]) -> list[tuple]:
    """The rows as the database holds them (the driver's values, no SQLAlchemy types), ids left out."""
    marks = ", ".join(str(int(i)) for i in ids)
    rows = conn.exec_driver_sql(f"SELECT * FROM {table} WHERE id IN ({marks}) ORDER BY id").fetchall()
    return [tuple(row[1:]) for row in rows]


def test_rows_are_stored_as_sqlalchemy_core_stores_them(engine):
    with session_scope(engine) as session:
        case_id = _case(session)
        events = [
            {"case_id": case_id, "kind": "opened", "actor": "system", "at": NOW, "payload": {"post": "1", "rule_id": 3}},
            {"case_id": case_id, "kind": "note", "actor": "U1", "at": NOW.astimezone(BERLIN),  # another offset: stored as UTC
             "payload": {"text": "naïve café ☕ <b>", "nested": [1, 2.5, None, True]}},
            {"case_id": case_id, "kind": "claimed", "actor": "U1", "at": datetime(2026, 1, 2, tzinfo=UTC),  # no microseconds
             "payload": None},
        ]
        authors = [{"network": "x", "external_id": f"u{i}", "handle": "h", "name": "Ñame", "followers": i,
                    "verified": bool(i % 2), "avatar_url": None, "updated_at": NOW} for i in range(4)]
        conn = session.connection()
        conn.execute(insert(CaseEventRow.__table__), events)
        conn.execute(insert(AuthorRow.__table__), authors[:2])
        insert_rows(conn, CaseEventRow.__table__, events)
        insert_rows(conn, AuthorRow.__table__, authors[2:])
        event_ids = list(session.execute(select(CaseEventRow.id).order_by(CaseEventRow.id)).scalars())
        by_core, by_bulk = _stored(conn, "case_events", event_ids[:3]), _stored(conn, "case_events", event_ids[3:])
        assert by_bulk == by_core
        author_rows = _stored(conn, "authors", list(session.execute(select(AuthorRow.id).order_by(AuthorRow.id)).scalars()))
        # The same values but for external_id and followers, which differ on purpose.
        same = [r[:1] + r[2:4] + r[5:] for r in author_rows]
        assert same[2:] == same[:2]
        # And they read back through the models as what was written.
        back = session.execute(select(CaseEventRow).where(CaseEventRow.id.in_(event_ids[3:])).order_by(CaseEventRow.id))
        assert [(e.at, e.payload) for e in back.scalars()] == [(e["at"], e["payload"]) for e in events]


def test_a_naive_timestamp_is_refused_as_sqlalchemy_refuses_it(engine):
    with session_scope(engine) as session:
        case_id = _case(session)
        with pytest.raises(ValueError, match="aware"):
            insert_rows(session.connection(), CaseEventRow.__table__,
                        [{"case_id": case_id, "kind": "note", "actor": "U1", "at": datetime(2026, 1, 1), "payload": None}])


def test_upsert_rewrites_a_row_only_when_its_profile_changed(engine):
    upsert = Upsert(unique=("network", "external_id"), refresh=("name", "followers", "updated_at"),
                    changed=("name", "followers"))
    row = {"network": "x", "external_id": "u1", "handle": "h", "name": "Ann", "followers": 1, "verified": False,
           "avatar_url": None, "updated_at": NOW}
    later = NOW + timedelta(hours=1)
    with session_scope(engine) as session:
        insert_rows(session.connection(), AuthorRow.__table__, [row], upsert=upsert)
        insert_rows(session.connection(), AuthorRow.__table__, [{**row, "updated_at": later}], upsert=upsert)
        assert session.execute(select(AuthorRow.updated_at)).scalar_one() == NOW  # nothing changed: not rewritten
        insert_rows(session.connection(), AuthorRow.__table__, [{**row, "followers": 2, "updated_at": later}],
                    upsert=upsert)
        stored = session.execute(select(AuthorRow.followers, AuthorRow.updated_at, AuthorRow.name)).one()
        assert tuple(stored) == (2, later, "Ann")
        assert session.execute(select(text("count(*)")).select_from(AuthorRow)).scalar() == 1


def test_json_falls_back_to_the_standard_library_for_what_orjson_refuses():
    huge = {"id": 2**70, "nested": {1: "int key"}}
    assert json.loads(dumps(huge)) == {"id": 2**70, "nested": {"1": "int key"}}
    assert json.loads(dumps({"text": "naïve ☕"})) == {"text": "naïve ☕"}


def test_more_rows_than_one_statement_takes_are_all_inserted(engine):
    rows = [{"network": "x", "external_id": f"u{i}", "handle": f"h{i}", "name": "n", "followers": i, "verified": False,
             "avatar_url": None, "updated_at": NOW} for i in range(4000)]  # 32,000 values: two statements on PostgreSQL
    with session_scope(engine) as session:
        insert_rows(session.connection(), AuthorRow.__table__, rows)
        stored = session.execute(select(AuthorRow.external_id, AuthorRow.followers).order_by(AuthorRow.followers)).all()
    assert [tuple(r) for r in stored] == [(f"u{i}", i) for i in range(4000)]
