"""Notices in the store (store.notices), on SQLite and PostgreSQL: one per event, taken by one sender,
held through quiet hours, gone with their cases; and migration 0018."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import inspect
from sqlmodel import select

from socialdesk.store import ingest, lifecycle, notices, retention
from socialdesk.store.db import alembic_config, current_revision, make_engine, session_scope
from socialdesk.store.models import NoticeRow
from tests.support.factories import x_post

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


def open_case(engine) -> int:
    with session_scope(engine) as session:
        [case_id] = ingest.store_posts(session=session, posts=[x_post("my acme phone broke")], rule_id=None,
                                       channel_id="C0CARE", now=NOW)
    return case_id


def rows(engine) -> list[NoticeRow]:
    with session_scope(engine) as session:
        found = list(session.exec(select(NoticeRow).order_by(NoticeRow.id)))
        session.expunge_all()
    return found


def test_an_event_is_queued_once_and_an_unknown_kind_is_refused(engine):
    case_id = open_case(engine)
    with session_scope(engine) as session:
        assert notices.queue(session=session, key="sla_at_risk:1:x", kind=notices.SLA_AT_RISK, case_id=case_id,
                             channel_id="C0CARE", now=NOW)
    with session_scope(engine) as session:  # a second sweep, a retried click: nothing more
        assert not notices.queue(session=session, key="sla_at_risk:1:x", kind=notices.SLA_AT_RISK, case_id=case_id,
                                 channel_id="C0CARE", now=NOW + timedelta(minutes=1))
        with pytest.raises(ValueError, match="unknown notice kind 'shout'"):
            notices.queue(session=session, key="k", kind="shout", case_id=case_id, channel_id="C0", now=NOW)
    [row] = rows(engine)
    assert (row.status, row.due_at, row.attempts) == ("queued", NOW, 0)


def test_assigning_queues_a_dm_for_the_assignee_but_not_for_oneself_and_one_for_the_owner_it_is_taken_from(engine):
    case_id = open_case(engine)
    with session_scope(engine) as session:
        lifecycle.assign(session=session, case_id=case_id, user_id="UCAROL", assignee="UBOB", now=NOW)
        # Bob's DM has not gone out yet: he never heard it was his, so he is not told it is not.
        lifecycle.assign(session=session, case_id=case_id, user_id="UALICE", assignee="UALICE", now=NOW)
        lifecycle.assign(session=session, case_id=case_id, user_id="UCAROL", assignee="UBOB", now=NOW)  # alice's
        assert lifecycle.assign(session=session, case_id=case_id, user_id="UDAN", assignee="UBOB", now=NOW).ok  # his already
        lifecycle.resolve(session=session, case_id=case_id, user_id="UBOB", now=NOW)
        assert not lifecycle.assign(session=session, case_id=case_id, user_id="UCAROL", assignee="UDAN", now=NOW).ok
    found = rows(engine)
    assert [(r.kind, r.channel_id, r.payload) for r in found] == [
        ("assigned", "UBOB", {"by": "UCAROL", "to": "UBOB"}), ("assigned", "UBOB", {"by": "UCAROL", "to": "UBOB"}),
        ("reassigned", "UALICE", {"by": "UCAROL", "to": "UBOB", "from": "UALICE"})]
    assert found[0].key != found[1].key  # two assignments, two events


def test_a_follow_up_pings_only_an_owned_case_that_is_not_ignored(engine):
    owned, unowned, ignored = open_case(engine), open_case(engine), open_case(engine)
    with session_scope(engine) as session:
        lifecycle.claim(session=session, case_id=owned, user_id="UALICE", now=NOW)
        lifecycle.claim(session=session, case_id=ignored, user_id="UALICE", now=NOW)
        lifecycle.ignore(session=session, case_id=ignored, user_id="UALICE", reason="spam", now=NOW)
        assert notices.queue_follow_up(session=session, case_id=owned, post_id=41, now=NOW)
        assert not notices.queue_follow_up(session=session, case_id=owned, post_id=41, now=NOW)
        assert not notices.queue_follow_up(session=session, case_id=unowned, post_id=42, now=NOW)
        assert not notices.queue_follow_up(session=session, case_id=ignored, post_id=43, now=NOW)
        assert not notices.queue_follow_up(session=session, case_id=999_999, post_id=44, now=NOW)
    [row] = rows(engine)
    assert (row.kind, row.case_id, row.channel_id, row.payload) == ("follow_up", owned, "C0CARE",
                                                                    {"post": 41, "owner": "UALICE"})


def test_quiet_hours_hold_what_is_due_and_one_sender_takes_each_notice(engine):
    case_id = open_case(engine)
    with session_scope(engine) as session:
        for n in range(5):
            notices.queue(session=session, key=f"k{n}", kind=notices.SLA_LEAD, case_id=case_id, channel_id="UCAROL",
                          now=NOW)
    opens = NOW + timedelta(hours=14)
    with session_scope(engine) as session:
        assert notices.hold_until(session=session, now=NOW, until=opens) == 5
    with session_scope(engine) as session:
        assert notices.due(session=session, now=opens - timedelta(seconds=1)) == []
        waiting = [n.id for n in notices.due(session=session, now=opens)]
    assert len(waiting) == 5

    barrier, won = threading.Barrier(4), []

    def sender() -> None:
        barrier.wait()
        with session_scope(engine) as session:
            won.extend(notices.take(session=session, notice_ids=waiting, now=opens))

    threads = [threading.Thread(target=sender) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(won) == sorted(waiting)  # each notice exactly once among the four
    with session_scope(engine) as session:
        assert notices.due(session=session, now=opens) == []
        notices.retry_later(session=session, notice_ids=waiting[:1], at=opens + timedelta(minutes=1), error="ratelimited")
        notices.finish(session=session, notice_ids=waiting[1:3], status=notices.SENT, now=opens)
        notices.finish(session=session, notice_ids=waiting[3:], status=notices.SKIPPED, now=opens, error="answered")
    by_id = {r.id: r for r in rows(engine)}
    assert (by_id[waiting[0]].status, by_id[waiting[0]].attempts, by_id[waiting[0]].error) == ("queued", 1, "ratelimited")
    assert [by_id[i].status for i in waiting[1:]] == ["sent", "sent", "skipped", "skipped"]
    assert by_id[waiting[1]].sent_at == opens and by_id[waiting[3]].sent_at is None
    with session_scope(engine) as session:
        assert notices.prune(session=session, before=NOW) == 0
        assert notices.prune(session=session, before=NOW + timedelta(days=1)) == 4  # the queued one stays
    assert [r.id for r in rows(engine)] == waiting[:1]


def test_deleting_cases_deletes_their_notices(engine):
    old, kept = open_case(engine), open_case(engine)
    with session_scope(engine) as session:
        lifecycle.assign(session=session, case_id=old, user_id="UCAROL", assignee="UBOB", now=NOW)
        lifecycle.assign(session=session, case_id=kept, user_id="UCAROL", assignee="UBOB", now=NOW)
        lifecycle.resolve(session=session, case_id=old, user_id="UBOB", now=NOW)
    with session_scope(engine) as session:
        assert retention.purge_closed_cases(session=session, older_than=NOW + timedelta(days=1))["cases"] == 1
    assert [r.case_id for r in rows(engine)] == [kept]


def test_0018_adds_the_notices_table_as_the_model_has_it_and_downgrades(db_url):
    engine = make_engine(db_url)
    try:
        config = alembic_config(engine)
        command.upgrade(config, "0018")
        columns = {c["name"] for c in inspect(engine).get_columns("notices")}
        assert columns == set(NoticeRow.__table__.columns.keys())
        assert {"ix_notices_due", "ix_notices_case_id"} <= {i["name"] for i in inspect(engine).get_indexes("notices")}
        command.downgrade(config, "0017")
        assert current_revision(engine) == "0017" and "notices" not in inspect(engine).get_table_names()
        command.upgrade(config, "head")
    finally:
        engine.dispose()
