import threading
from datetime import UTC, datetime

from sqlmodel import select

from socialdesk.domain import CaseStatus
from socialdesk.store import cases, ingest, lifecycle
from socialdesk.store import rules as rule_store
from socialdesk.store.db import current_revision, head_revision, make_engine, session_scope, upgrade
from socialdesk.store.models import CaseEventRow, CaseRow, PostRow
from tests.support.factories import x_post

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def open_case(engine, text="my Acme phone broke") -> int:
    with session_scope(engine) as session:
        rule = rule_store.add_rule(session=session, network="x", query="acme", channel_id="C1", every_seconds=60,
                                   lang=None, include_reposts=False, now=NOW)
        [case_id] = ingest.store_posts(session=session, posts=[x_post(text)], rule_id=rule.id, channel_id="C1", now=NOW)
    return case_id


def test_migrations_reach_head_from_an_empty_database(db_url):
    empty = make_engine(db_url)
    try:
        assert current_revision(empty) is None
        upgrade(empty)
        assert current_revision(empty) == head_revision() and head_revision() >= "0009"
    finally:
        empty.dispose()


def test_a_post_is_stored_once_and_opens_one_case(engine):
    post = x_post()
    with session_scope(engine) as session:
        first = ingest.store_posts(session=session, posts=[post, post], rule_id=None, channel_id="C1", now=NOW)
    with session_scope(engine) as session:
        again = ingest.store_posts(session=session, posts=[post], rule_id=None, channel_id="C1", now=NOW)
        assert len(session.exec(select(PostRow)).all()) == 1
        assert len(session.exec(select(CaseRow)).all()) == 1
        [event] = session.exec(select(CaseEventRow)).all()
    assert len(first) == 1 and again == []
    assert event.kind == "opened" and event.actor == "system"


def test_unicode_and_hostile_text_round_trips(engine):
    text = "<!channel> 😡 Ärger 你好 \u202e & ' \" ; DROP TABLE posts; --"
    case_id = open_case(engine, text)
    with session_scope(engine) as session:
        assert cases.case_view(session=session, case_id=case_id).post.text == text


def test_claim_then_second_claim_loses_and_names_the_owner(engine):
    case_id = open_case(engine)
    with session_scope(engine) as session:
        first = lifecycle.claim(session=session, case_id=case_id, user_id="UALICE", now=NOW)
    with session_scope(engine) as session:
        second = lifecycle.claim(session=session, case_id=case_id, user_id="UBOB", now=NOW)
    assert first.ok and not second.ok
    assert second.case.assignee == "UALICE" and second.case.status == CaseStatus.CLAIMED.value
    assert second.case.version == 2


def test_concurrent_claims_have_exactly_one_winner(engine):
    case_id = open_case(engine)
    barrier = threading.Barrier(20)
    results: dict[str, bool] = {}

    def click(user: str) -> None:
        barrier.wait()
        with session_scope(engine) as session:
            results[user] = lifecycle.claim(session=session, case_id=case_id, user_id=user, now=NOW).ok

    threads = [threading.Thread(target=click, args=(f"U{i:02d}",)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [u for u, ok in results.items() if ok]
    assert len(results) == 20 and len(winners) == 1
    with session_scope(engine) as session:
        case = cases.get_case(session=session, case_id=case_id)
        claims = [e for e in cases.events(session=session, case_id=case_id) if e.kind == "claimed"]
    assert case.assignee == winners[0]
    assert [e.actor for e in claims] == winners


def test_only_the_owner_can_unclaim(engine):
    case_id = open_case(engine)
    with session_scope(engine) as session:
        lifecycle.claim(session=session, case_id=case_id, user_id="UALICE", now=NOW)
    with session_scope(engine) as session:
        refused = lifecycle.unclaim(session=session, case_id=case_id, user_id="UBOB", now=NOW)
    with session_scope(engine) as session:
        done = lifecycle.unclaim(session=session, case_id=case_id, user_id="UALICE", now=NOW)
    assert not refused.ok and done.ok
    assert done.case.status == "new" and done.case.assignee is None
    with session_scope(engine) as session:
        assert [e.kind for e in cases.events(session=session, case_id=case_id)] == ["opened", "claimed", "unclaimed"]


def test_publish_lease_is_exclusive_and_ts_is_recorded(engine):
    case_id = open_case(engine)
    with session_scope(engine) as session:
        assert [c.id for c in cases.unpublished(session=session, now=NOW, limit=10)] == [case_id]
        assert cases.lease_publish(session=session, case_id=case_id, now=NOW, seconds=60) is not None
    with session_scope(engine) as session:
        assert cases.lease_publish(session=session, case_id=case_id, now=NOW, seconds=60) is None
        assert cases.unpublished(session=session, now=NOW, limit=10) == []
        cases.record_card(session=session, case_id=case_id, message_ts="1.000100", now=NOW)
    with session_scope(engine) as session:
        assert cases.get_case(session=session, case_id=case_id).message_ts == "1.000100"
        assert cases.lease_publish(session=session, case_id=case_id, now=NOW, seconds=60) is None


def test_removing_a_rule_keeps_its_cases(engine):
    case_id = open_case(engine)
    with session_scope(engine) as session:
        rule_store.remove_rule(session=session, rule_id=1)
    with session_scope(engine) as session:
        view = cases.case_view(session=session, case_id=case_id)
    assert view.rule_id is None and view.post.text == "my Acme phone broke"


def test_upgrading_a_0001_database_keeps_its_rules_and_cases(db_url):
    from alembic import command

    from socialdesk.store.db import alembic_config, make_engine, upgrade

    engine = make_engine(db_url)
    try:
        command.upgrade(alembic_config(engine), "0001")
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO rules (network, query, channel_id, every_seconds, include_reposts, paused, created_at, "
                "consecutive_failures) VALUES ('x', 'acme', 'C1', 60, false, false, '2026-01-01 00:00:00', 0)")
        upgrade(engine)
        with session_scope(engine) as session:
            [rule] = rule_store.list_rules(session=session)
        assert rule.kind == "search" and rule.query == "acme"
    finally:
        engine.dispose()
