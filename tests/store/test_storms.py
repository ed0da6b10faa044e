"""Storms decided before the page is written (store.storms), on SQLite and PostgreSQL: the same
joins as had the page been written and read back first (tests/store/test_incidents.py has the rest)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from sqlmodel import select

from socialdesk.store.db import session_scope
from socialdesk.store.models import CaseEventRow, CaseRow, IncidentRow
from tests.store.test_incidents import NOW, add_rule, incident_ids, store, wifi_posts


def resolved(engine, case_id: int) -> None:
    with session_scope(engine) as session:
        session.execute(CaseRow.__table__.update().where(CaseRow.id == case_id).values(status="resolved"))


def test_a_resolved_case_the_page_reopens_is_a_candidate_and_one_it_does_not_is_none(engine):
    first, second = wifi_posts()[:2]  # two customers, one problem: near duplicates
    again = dataclasses.replace(first, external_id="99" + first.external_id, text="still nothing, anyone?",
                                in_reply_to_id=first.external_id, is_reply=True,
                                created_at=first.created_at + timedelta(minutes=3))
    reopened_rule, left_rule = add_rule(engine), add_rule(engine)
    [old] = store(engine, reopened_rule, [first])
    resolved(engine, old)
    # The customer writes again in the page that brings the second customer: their case is reopened
    # by that page, so the second customer's case joins it.
    [new] = store(engine, reopened_rule, [again, second])
    [incident] = set(incident_ids(engine, [old, new]))
    assert incident is not None
    with session_scope(engine) as session:
        assert session.get(CaseRow, old).status == "reopened"
        assert session.get(IncidentRow, incident).anchor_case_id == old
        joined = session.exec(select(CaseEventRow.case_id, CaseEventRow.payload)
                              .where(CaseEventRow.kind == "incident_joined").order_by(CaseEventRow.id)).all()
        assert joined == [(old, {"incident_id": incident, "anchor": True}),
                          (new, {"incident_id": incident, "like": old})]

    # A resolved case nobody reopens is no candidate: the second customer opens a case of their own.
    first, second = [dataclasses.replace(p, external_id="77" + p.external_id, conversation_id="77" + p.external_id)
                     for p in (first, second)]
    [old] = store(engine, left_rule, [first])
    resolved(engine, old)
    [new] = store(engine, left_rule, [second])
    assert incident_ids(engine, [old, new]) == [None, None]


def test_a_new_case_is_written_with_its_incident_and_a_stored_anchor_is_set_after(engine):
    posts = wifi_posts(start=NOW - timedelta(minutes=50))
    rule = add_rule(engine)
    [anchor] = store(engine, rule, posts[:1])
    members = store(engine, rule, posts[1:3])
    later = store(engine, rule, posts[3:])
    ids = incident_ids(engine, [anchor, *members, *later])
    assert ids[0] is not None and set(ids) == {ids[0]}
    with session_scope(engine) as session:
        row = session.get(IncidentRow, ids[0])
        assert row.anchor_case_id == anchor and row.version == 2  # made by the second page, grown by the third
