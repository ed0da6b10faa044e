"""Save as FAQ in the store, on SQLite and PostgreSQL: drafts, one active entry per case, history."""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from sqlmodel import select

from socialdesk.domain import Post
from socialdesk.store import cases, curated, ingest, lifecycle
from socialdesk.store.db import session_scope
from socialdesk.store.models import CuratedEntryRow, PostRow, ReplyRow
from tests.support.factories import x_post

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
OWN = frozenset({"acmephones"})


def reply_to(parent: Post, text: str, *, handle: str, minutes: int) -> Post:
    post = x_post(text, handle=handle)
    return dataclasses.replace(post, conversation_id=parent.conversation_id, in_reply_to_id=parent.external_id,
                               is_reply=True, created_at=parent.created_at + timedelta(minutes=minutes))


def store(engine, posts) -> ingest.Stored:
    with session_scope(engine) as session:
        return ingest.store_page(session=session, posts=posts, rule_id=None, channel_id="C1", now=NOW,
                                 own_handles=OWN)


def do(engine, change, case_id, user="UALICE", **kw):
    with session_scope(engine) as session:
        return change(session=session, case_id=case_id, user_id=user, now=kw.pop("now", NOW), **kw)


def add_reply(engine, case_id, text, status, *, minutes, **fields) -> None:
    with session_scope(engine) as session:
        session.add(ReplyRow(case_id=case_id, key=f"k-{status}-{minutes}", agent="UALICE", text=text, status=status,
                             created_at=NOW + timedelta(minutes=minutes),
                             sent_at=NOW + timedelta(minutes=minutes) if status in ("sent", "marked") else None,
                             **fields))


def curated_events(engine, case_id) -> list[tuple[str, dict | None]]:
    with session_scope(engine) as session:
        return [(e.actor, e.payload) for e in cases.events(session=session, case_id=case_id) if e.kind == "curated"]


@pytest.fixture
def resolved_case(engine) -> int:
    first = x_post("@acmephones my acme phone will not charge since the update", handle="dana")
    [case_id] = store(engine, [first]).new_case_ids
    do(engine, lifecycle.resolve, case_id)
    return case_id


def test_the_draft_is_the_customers_posts_our_replies_and_the_notes_in_order(engine):
    first = x_post("@acmephones @AcmeSupport my acme phone will not charge", handle="dana")
    [case_id] = store(engine, [first]).new_case_ids
    # Sent later but written first: the answer follows the order replies went out.
    add_reply(engine, case_id, "@dana Then hold power for 30 s.", "sent", minutes=20, external_id="1900000000000000002")
    add_reply(engine, case_id, "Sorry! Try the new cable.", "sent", minutes=5, external_id="1900000000000000001")
    add_reply(engine, case_id, "never approved", "awaiting_approval", minutes=6)
    add_reply(engine, case_id, "refused by X", "failed", minutes=7)
    add_reply(engine, case_id, "", "marked", minutes=30, url="https://x.com/acmephones/status/1900000000000000003",
              external_id="1900000000000000003")
    ours = dataclasses.replace(first, external_id="1900000000000000001")
    follow_up = reply_to(first, "@acmephones it was on the old cable, new one works?", handle="dana", minutes=10)
    husband = reply_to(ours, "@acmephones mine too", handle="sam", minutes=11)  # answers us: joins, not the question
    deleted = reply_to(first, "something she deleted", handle="dana", minutes=12)
    stored = store(engine, [follow_up, husband, deleted])
    assert len(stored.follow_up_post_ids) == 3
    with session_scope(engine) as session:
        session.execute(update(PostRow).where(PostRow.external_id == deleted.external_id)
                        .values(removed_at=NOW, removed_reason="deleted"))
    do(engine, lifecycle.add_note, case_id, text="VIP, on plan B")
    do(engine, lifecycle.add_note, case_id, text="  ")
    do(engine, lifecycle.add_note, case_id, text="cable batch 7 is faulty")
    do(engine, lifecycle.set_tags, case_id, tags=["refund", "bug"], priority="high")

    with session_scope(engine) as session:
        draft = curated.draft_for_case(session=session, case_id=case_id)
    assert draft.question == "my acme phone will not charge\n\nit was on the old cable, new one works?"
    assert draft.answer == ("Sorry! Try the new cable.\n\nThen hold power for 30 s.\n\n"
                            "(replied on X: https://x.com/acmephones/status/1900000000000000003)")
    assert draft.notes == "VIP, on plan B\n\ncable batch 7 is faulty"
    assert draft.tags == ("bug", "refund")
    assert draft.case_id == case_id


def test_a_case_without_replies_or_notes_drafts_empty_fields_and_mentions_alone_stay(engine):
    [case_id] = store(engine, [x_post("@acmephones", handle="dana")]).new_case_ids
    with session_scope(engine) as session:
        draft = curated.draft_for_case(session=session, case_id=case_id)
    assert (draft.question, draft.answer, draft.notes, draft.tags) == ("@acmephones", "", "", ())


def test_saving_again_updates_the_one_active_entry_and_each_change_is_recorded(engine, resolved_case):
    with session_scope(engine) as session:
        entry = curated.save_entry(session=session, case_id=resolved_case, question=" Why won't it charge? ",
                                   answer="Use the new cable.", notes="", tags=["bug", " bug", "", "refund"],
                                   actor="UALICE", now=NOW)
    assert (entry.status, entry.question, entry.tags, entry.created_by) == ("active", "Why won't it charge?",
                                                                            ["bug", "refund"], "UALICE")
    later = NOW + timedelta(hours=1)
    with session_scope(engine) as session:
        again = curated.save_entry(session=session, case_id=resolved_case, question="Why won't my phone charge?",
                                   answer="Use the new cable.", notes="batch 7", tags=[], actor="UBOB", now=later)
        assert curated.active_entry(session=session, case_id=resolved_case).id == entry.id
        assert cases.case_view(session=session, case_id=resolved_case).faq_entry_id == entry.id
    assert again.id == entry.id
    assert (again.question, again.notes, again.tags) == ("Why won't my phone charge?", "batch 7", [])
    assert (again.created_by, again.created_at, again.updated_by, again.updated_at) == ("UALICE", NOW, "UBOB", later)
    with session_scope(engine) as session:
        assert len(curated.list_entries(session=session)) == 1
    assert curated_events(engine, resolved_case) == [
        ("UALICE", {"entry_id": entry.id, "action": "saved"}),
        ("UBOB", {"entry_id": entry.id, "action": "edited"}),
    ]


def test_edit_withdraw_and_save_anew(engine, resolved_case):
    with session_scope(engine) as session:
        entry_id = curated.save_entry(session=session, case_id=resolved_case, question="Q", answer="A", notes="",
                                      tags=[], actor="UALICE", now=NOW).id
    do(engine, lifecycle.reopen, resolved_case)  # the customer wrote again: the entry can still be edited
    with session_scope(engine) as session:
        edited = curated.update_entry(session=session, entry_id=entry_id, question="Q2", answer="A2", notes="n",
                                      tags=["praise"], actor="UBOB", now=NOW + timedelta(minutes=1))
    assert (edited.question, edited.answer, edited.notes, edited.tags, edited.updated_by) == ("Q2", "A2", "n",
                                                                                              ["praise"], "UBOB")
    with session_scope(engine) as session:
        gone = curated.withdraw_entry(session=session, entry_id=entry_id, actor="UCAROL", now=NOW + timedelta(minutes=2))
    assert (gone.status, gone.updated_by) == ("withdrawn", "UCAROL")
    with session_scope(engine) as session:
        assert curated.active_entry(session=session, case_id=resolved_case) is None
        assert cases.case_view(session=session, case_id=resolved_case).faq_entry_id is None
        with pytest.raises(curated.EntryWithdrawn, match=f"entry #{entry_id} was withdrawn by UCAROL"):
            curated.withdraw_entry(session=session, entry_id=entry_id, actor="UALICE", now=NOW)
        with pytest.raises(curated.EntryWithdrawn):
            curated.update_entry(session=session, entry_id=entry_id, question="Q", answer="A", notes="", tags=[],
                                 actor="UALICE", now=NOW)
    do(engine, lifecycle.resolve, resolved_case)
    with session_scope(engine) as session:
        fresh = curated.save_entry(session=session, case_id=resolved_case, question="Q3", answer="A3", notes="",
                                   tags=[], actor="UALICE", now=NOW + timedelta(minutes=3))
    assert fresh.id != entry_id
    with session_scope(engine) as session:
        assert [e.id for e in curated.list_entries(session=session, status="active")] == [fresh.id]
        assert [(e.id, e.status) for e in curated.list_entries(session=session)] == [(entry_id, "withdrawn"),
                                                                                     (fresh.id, "active")]
        with pytest.raises(ValueError, match="unknown status"):
            curated.list_entries(session=session, status="deleted")
    assert [p["action"] for _, p in curated_events(engine, resolved_case)] == ["saved", "edited", "withdrawn", "saved"]


def test_only_resolved_cases_can_be_curated_and_refusals_say_why(engine):
    [case_id] = store(engine, [x_post("is the acme x2 waterproof?")]).new_case_ids
    with session_scope(engine) as session:
        with pytest.raises(curated.NotResolved, match=f"case #{case_id} is new, not resolved.*resolve it first"):
            curated.save_entry(session=session, case_id=case_id, question="Q", answer="A", notes="", tags=[],
                               actor="UALICE", now=NOW)
    do(engine, lifecycle.resolve, case_id)
    with session_scope(engine) as session:
        with pytest.raises(curated.EntryInvalid, match="the answer is empty") as refused:
            curated.save_entry(session=session, case_id=case_id, question="Q", answer="  ", notes="", tags=[],
                               actor="UALICE", now=NOW)
        assert refused.value.field == "answer"
        with pytest.raises(curated.EntryInvalid, match="the question is empty"):
            curated.save_entry(session=session, case_id=case_id, question="", answer="A", notes="", tags=[],
                               actor="UALICE", now=NOW)
        with pytest.raises(cases.CaseNotFound):
            curated.save_entry(session=session, case_id=case_id + 99, question="Q", answer="A", notes="", tags=[],
                               actor="UALICE", now=NOW)
        with pytest.raises(curated.EntryNotFound, match="no FAQ entry #42"):
            curated.withdraw_entry(session=session, entry_id=42, actor="UALICE", now=NOW)
        with pytest.raises(curated.EntryNotFound):
            curated.update_entry(session=session, entry_id=42, question="Q", answer="A", notes="", tags=[],
                                 actor="UALICE", now=NOW)
    assert curated_events(engine, case_id) == []
    with session_scope(engine) as session:
        assert curated.list_entries(session=session) == []


def test_the_entry_and_its_event_commit_or_roll_back_together(engine, resolved_case):
    with pytest.raises(RuntimeError):
        with session_scope(engine) as session:
            curated.save_entry(session=session, case_id=resolved_case, question="Q", answer="A", notes="", tags=[],
                               actor="UALICE", now=NOW)
            raise RuntimeError("the transaction fails after the save")
    with session_scope(engine) as session:
        assert session.exec(select(CuratedEntryRow)).all() == []
    assert curated_events(engine, resolved_case) == []


def test_two_agents_saving_at_once_make_one_entry(engine, resolved_case):
    """Bob saves while Alice's save is not committed yet: his waits for hers, then edits her entry."""
    bob: list[int] = []
    errors: list[BaseException] = []

    def bob_saves() -> None:
        try:
            with session_scope(engine) as session:
                bob.append(curated.save_entry(session=session, case_id=resolved_case, question="Q by Bob",
                                              answer="A", notes="", tags=[], actor="UBOB", now=NOW).id)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    thread = threading.Thread(target=bob_saves)
    with session_scope(engine) as session:
        alice = curated.save_entry(session=session, case_id=resolved_case, question="Q by Alice", answer="A",
                                   notes="", tags=[], actor="UALICE", now=NOW).id
        thread.start()
        thread.join(timeout=1)  # gives Bob's save time to run into Alice's lock (it must wait there)
        assert bob == []
    thread.join(timeout=60)
    assert errors == [] and bob == [alice]
    with session_scope(engine) as session:
        [entry] = curated.list_entries(session=session)
    assert (entry.question, entry.updated_by) == ("Q by Bob", "UBOB")
    assert [p["action"] for _, p in curated_events(engine, resolved_case)] == ["saved", "edited"]
