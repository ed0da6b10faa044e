"""Storms → one incident, in the store, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import inspect, select

from socialdesk.domain import CaseStatus
from socialdesk.sandbox.scenario import SCENARIO
from socialdesk.store import cases as case_store
from socialdesk.store import figures, incidents, ingest, lifecycle, retention
from socialdesk.store import rules as rule_store
from socialdesk.store.db import alembic_config, current_revision, head_revision, make_engine, session_scope, upgrade
from socialdesk.store.models import CaseEventRow, CaseRow, IncidentRow
from tests.support.factories import x_post

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
WINDOW = timedelta(hours=2)
WIFI = [b for b in SCENARIO if "wifi" in b.text.lower()]  # the demo's storm: six customers, one problem


def add_rule(engine, channel: str = "C1") -> int:
    with session_scope(engine) as session:
        return rule_store.add_rule(session=session, network="x", query="acme", channel_id=channel, every_seconds=60,
                                   lang=None, include_reposts=False, now=NOW).id


def store(engine, rule_id: int, posts, *, window: timedelta | None = WINDOW, now: datetime = NOW,
          channel: str = "C1") -> list[int]:
    with session_scope(engine) as session:
        return ingest.store_page(session=session, posts=posts, rule_id=rule_id, channel_id=channel, now=now,
                                 incident_window=window).new_case_ids


def wifi_posts(start: datetime = NOW, gap: timedelta = timedelta(minutes=8)):
    return [x_post(b.text, handle=b.handle, when=start + i * gap) for i, b in enumerate(WIFI)]


def incident_ids(engine, case_ids) -> list[int | None]:
    with session_scope(engine) as session:
        return [session.get(CaseRow, c).incident_id for c in case_ids]


def kinds(engine, case_id: int) -> list[tuple[str, dict | None]]:
    with session_scope(engine) as session:
        return [(e.kind, e.payload) for e in session.exec(
            select(CaseEventRow).where(CaseEventRow.case_id == case_id).order_by(CaseEventRow.id)).scalars()]


def view(engine, case_id: int):
    with session_scope(engine) as session:
        return case_store.case_view(session=session, case_id=case_id)


def test_the_demo_wifi_storm_in_one_page_is_one_incident_anchored_on_the_first_post(engine):
    rule = add_rule(engine)
    other = store(engine, rule, [x_post("My Acme X3 battery goes from 100% to 20% by lunch", handle="mo",
                                        when=NOW - timedelta(minutes=5))])
    case_ids = store(engine, rule, wifi_posts())
    assert len(case_ids) == 6  # each post stays its own case: it is its own customer
    [incident] = set(incident_ids(engine, case_ids))
    assert incident is not None and incident_ids(engine, other) == [None]
    with session_scope(engine) as session:
        row = session.get(IncidentRow, incident)
        assert row.anchor_case_id == case_ids[0] and row.rule_id == rule and row.channel_id == "C1"
    assert ("incident_joined", {"incident_id": incident, "anchor": True}) in kinds(engine, case_ids[0])
    for member in case_ids[1:]:
        [joined] = [p for k, p in kinds(engine, member) if k == "incident_joined"]
        assert joined["incident_id"] == incident and joined["like"] in case_ids

    anchor = view(engine, case_ids[0]).incident
    assert anchor.count == 6 and anchor.open_count == 6 and anchor.anchor_case_id == case_ids[0]
    assert anchor.last_at - anchor.first_at == timedelta(minutes=40)
    assert [m.case_id for m in anchor.latest] == case_ids[:0:-1]  # the members, newest first (the card is the anchor)
    member = view(engine, case_ids[3])
    assert member.in_incident_thread and not view(engine, case_ids[0]).in_incident_thread


def test_a_storm_spread_over_pages_joins_the_incident_and_other_topics_do_not(engine):
    rule = add_rule(engine)
    posts = wifi_posts()
    first = store(engine, rule, posts[:2])
    later = store(engine, rule, [*posts[2:], x_post("Does the Acme X3 support eSIM?", handle="nina",
                                                     when=NOW + timedelta(minutes=20))],
                  now=NOW + timedelta(minutes=45))
    nina = later.pop(1)  # stored in the order written: the question came 20 minutes in
    ids = incident_ids(engine, first + later)
    assert ids == [ids[0]] * 6 and ids[0] is not None
    assert incident_ids(engine, [nina]) == [None]  # a question about eSIM is no part of the wifi storm
    with session_scope(engine) as session:
        assert len(session.exec(select(IncidentRow)).all()) == 1


def test_outside_the_window_on_another_rule_closed_or_switched_off_nothing_joins(engine):
    rule, other_rule = add_rule(engine), add_rule(engine)
    [a, b, c, d, e, f] = wifi_posts()
    [old] = store(engine, rule, [a])
    late = x_post(b.text, handle="late", when=a.created_at + timedelta(hours=2, minutes=1))
    [late_case] = store(engine, rule, [late], now=NOW + timedelta(hours=3))
    assert incident_ids(engine, [old, late_case]) == [None, None]  # written past the window after it
    assert incident_ids(engine, store(engine, other_rule, [d])) == [None]  # another rule's storm is its own
    assert incident_ids(engine, store(engine, rule, [c], window=None)) == [None]  # incidents off
    assert incident_ids(engine, store(engine, rule, [x_post(c.text, handle="z")], window=timedelta(0))) == [None]
    with session_scope(engine) as session:
        for case in session.exec(select(CaseRow).where(CaseRow.rule_id == rule)).scalars():
            lifecycle.resolve(session=session, case_id=case.id, user_id="UALICE", now=NOW)
    [alone] = store(engine, rule, [e])
    assert incident_ids(engine, [alone]) == [None]  # resolved cases are no candidates
    with session_scope(engine) as session:
        lifecycle.ignore(session=session, case_id=alone, user_id="UALICE", reason="spam", now=NOW)
    assert incident_ids(engine, store(engine, rule, [f])) == [None]  # nor ignored ones


def test_another_channel_of_the_rule_does_not_join(engine):
    rule = add_rule(engine)
    posts = wifi_posts()
    [first] = store(engine, rule, posts[:1], channel="C1")
    [routed] = store(engine, rule, posts[1:2], channel="C2")
    assert incident_ids(engine, [first, routed]) == [None, None]


def test_members_wait_for_the_incident_card_then_are_published_in_order(engine):
    rule = add_rule(engine)
    case_ids = store(engine, rule, wifi_posts())
    with session_scope(engine) as session:
        assert [c.id for c in case_store.unpublished(session=session, now=NOW, limit=50)] == case_ids[:1]
        case_store.record_card(session=session, case_id=case_ids[0], message_ts="1.0001", now=NOW)
    with session_scope(engine) as session:
        assert [c.id for c in case_store.unpublished(session=session, now=NOW, limit=50)] == case_ids[1:]
    assert view(engine, case_ids[2]).thread_ts == "1.0001" and view(engine, case_ids[0]).thread_ts == "1.0001"


def test_split_takes_a_member_out_and_the_last_one_out_dissolves_the_incident(engine):
    rule = add_rule(engine)
    anchor, one, two = store(engine, rule, wifi_posts()[:3])
    with session_scope(engine) as session:
        session.execute(CaseRow.__table__.update().values(message_ts="9.1", publish_attempted_at=NOW))
    with session_scope(engine) as session:
        result = incidents.split(session=session, case_id=one, user_id="UALICE", now=NOW)
        again = incidents.split(session=session, case_id=one, user_id="UBOB", now=NOW)
        refused = incidents.split(session=session, case_id=anchor, user_id="UBOB", now=NOW)
    assert result.ok and result.message_ts == "9.1" and not result.dissolved and result.anchor_case_id == anchor
    assert not again.ok and not refused.ok
    with session_scope(engine) as session:
        row = session.get(CaseRow, one)
        assert (row.incident_id, row.message_ts, row.publish_attempted_at) == (None, None, None)
        assert [c.id for c in case_store.unpublished(session=session, now=NOW, limit=50)] == [one]
    assert ("incident_split", {"incident_id": result.incident_id, "message_ts": "9.1"}) in kinds(engine, one)
    assert view(engine, anchor).incident.count == 2
    with session_scope(engine) as session:
        last = incidents.split(session=session, case_id=two, user_id="UALICE", now=NOW)
    assert last.ok and last.dissolved
    assert view(engine, anchor).incident is None and incident_ids(engine, [anchor]) == [None]


def test_resolve_all_and_ignore_all_are_one_audited_transition_per_case(engine):
    rule = add_rule(engine)
    case_ids = store(engine, rule, wifi_posts())
    [incident] = set(incident_ids(engine, case_ids))
    with session_scope(engine) as session:
        lifecycle.resolve(session=session, case_id=case_ids[1], user_id="UBOB", now=NOW)  # done already
    with session_scope(engine) as session:
        done = incidents.resolve_all(session=session, incident_id=incident, user_id="UALICE", now=NOW)
    assert done.changed == [c for c in case_ids if c != case_ids[1]] and done.skipped == []
    for case_id in done.changed:
        assert [(k, p) for k, p in kinds(engine, case_id) if k == "resolved"] == [("resolved", None)]
    with session_scope(engine) as session:
        assert session.get(IncidentRow, incident).closed_at == NOW
        assert incidents.open_incidents(session=session) == []
        lifecycle.reopen(session=session, case_id=case_ids[2], user_id="UBOB", now=NOW)
    with session_scope(engine) as session:
        [listed] = incidents.open_incidents(session=session)
        assert (listed.incident_id, listed.count, listed.open_count, listed.anchor_case_id) == (incident, 6, 1, case_ids[0])
        ignored = incidents.ignore_all(session=session, incident_id=incident, user_id="UALICE", reason="duplicate",
                                       now=NOW)
    assert ignored.changed == [case_ids[2]]
    with session_scope(engine) as session:
        assert session.get(CaseRow, case_ids[2]).status == CaseStatus.IGNORED.value


def test_resolve_all_records_its_outcome_on_each_case_and_names_their_owners(engine):
    rule = add_rule(engine)
    case_ids = store(engine, rule, wifi_posts())
    [incident] = set(incident_ids(engine, case_ids))
    with session_scope(engine) as session:
        lifecycle.claim(session=session, case_id=case_ids[3], user_id="UBOB", now=NOW)
        with pytest.raises(lifecycle.OutcomeError):
            incidents.resolve_all(session=session, incident_id=incident, user_id="UALICE", now=NOW,
                                  outcome="duplicate")
    with session_scope(engine) as session:
        done = incidents.resolve_all(session=session, incident_id=incident, user_id="UALICE", now=NOW,
                                     outcome="no_reply_needed")
    assert done.changed == case_ids and done.owners == {case_ids[3]: "UBOB"}
    with session_scope(engine) as session:
        assert {session.get(CaseRow, c).outcome for c in case_ids} == {"no_reply_needed"}
    assert [p for k, p in kinds(engine, case_ids[0]) if k == "resolved"] == [{"outcome": "no_reply_needed"}]


def test_open_incidents_and_the_digest_counts(engine):
    rule = add_rule(engine)
    storm = store(engine, rule, wifi_posts())
    battery = store(engine, rule, [x_post(t, handle=f"b{i}", when=NOW + timedelta(minutes=i)) for i, t in enumerate([
        "My Acme X3 battery drains overnight since the update", "Acme X3 battery drains overnight after the update",
        "battery on my Acme X3 drains overnight since updating"])])
    with session_scope(engine) as session:
        listed = incidents.open_incidents(session=session)
        assert [(i.anchor_case_id, i.count) for i in listed] == [(storm[0], 6), (battery[0], 3)] or \
               [(i.anchor_case_id, i.count) for i in listed] == [(battery[0], 3), (storm[0], 6)]
        assert incidents.storm_counts(session=session, start=NOW, end=NOW + timedelta(days=1)) == (2, 9)
        assert incidents.storm_counts(session=session, start=NOW + timedelta(days=1),
                                      end=NOW + timedelta(days=2)) == (0, 0)


def test_purging_an_incident_card_frees_its_members_and_drops_the_incident(engine):
    rule = add_rule(engine)
    anchor, *members, closed = store(engine, rule, wifi_posts()[:4])
    [incident] = set(incident_ids(engine, [anchor]))
    with session_scope(engine) as session:
        session.execute(CaseRow.__table__.update().values(message_ts="9.1"))
        lifecycle.resolve(session=session, case_id=anchor, user_id="UALICE", now=NOW)
    with session_scope(engine) as session:  # answered long after the purge's horizon: it stays, closed
        lifecycle.resolve(session=session, case_id=closed, user_id="UALICE", now=NOW + timedelta(days=40))
    with session_scope(engine) as session:
        retention.purge_closed_cases(session=session, older_than=NOW + timedelta(days=31))
    with session_scope(engine) as session:
        assert session.get(IncidentRow, incident) is None
        rows = [session.get(CaseRow, m) for m in members]
        assert [(r.incident_id, r.message_ts) for r in rows] == [(None, None), (None, None)]  # their own cards next
        # A closed member gets no new card for old news: it keeps the message it had.
        assert (session.get(CaseRow, closed).incident_id, session.get(CaseRow, closed).message_ts) == (None, "9.1")


def test_migration_0017_goes_down_to_0016_and_up_again(db_url):
    engine = make_engine(db_url)
    try:
        upgrade(engine)
        rule = add_rule(engine)
        store(engine, rule, wifi_posts()[:2])
        command.downgrade(alembic_config(engine), "0016")
        assert current_revision(engine) == "0016"
        assert "incidents" not in inspect(engine).get_table_names()
        assert "incident_id" not in {c["name"] for c in inspect(engine).get_columns("cases")}
        upgrade(engine)
        assert current_revision(engine) == head_revision()
        assert {"ix_cases_rule_opened", "ix_cases_incident_id"} <= {i["name"] for i in inspect(engine).get_indexes("cases")}
    finally:
        engine.dispose()


def test_the_digest_figures_count_incidents_and_their_posts(engine):
    rule = add_rule(engine)
    store(engine, rule, wifi_posts())
    with session_scope(engine) as session:
        counted = figures.figures(session=session, start=NOW - timedelta(hours=1), end=NOW + timedelta(hours=1))
        later = figures.figures(session=session, start=NOW + timedelta(hours=1), end=NOW + timedelta(hours=2))
    assert (counted.incidents, counted.incident_posts, counted.opened) == (1, 6, 6)
    assert (later.incidents, later.incident_posts) == (0, 0)
