"""Follow-ups: later posts in a case's conversation, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlmodel import select

from socialdesk.domain import Post
from socialdesk.networks.x.parse import _answered_handle
from socialdesk.store import cases, conversations, ingest
from socialdesk.store.db import session_scope
from socialdesk.store.models import CaseRow, PostRow, ReplyRow
from tests.support.factories import x_post

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=30)
OWN = frozenset({"acmephones"})


def reply_to(parent: Post, text: str, *, handle: str = "customer", **raw) -> Post:
    """A reply in `parent`'s conversation, shaped like the X parser's output."""
    post = x_post(text, handle=handle)
    return dataclasses.replace(post, conversation_id=parent.conversation_id, in_reply_to_id=parent.external_id,
                               is_reply=True, raw=raw, in_reply_to_account=_answered_handle(raw))


def store(engine, posts, now=NOW) -> ingest.Stored:
    with session_scope(engine) as session:
        return ingest.store_page(session=session, posts=posts, rule_id=None, channel_id="C1", now=now,
                                 own_handles=OWN)


def case_row(engine, case_id) -> CaseRow:
    with session_scope(engine) as session:
        return cases.get_case(session=session, case_id=case_id)


def event_kinds(engine, case_id) -> list[tuple[str, str, dict | None]]:
    with session_scope(engine) as session:
        return [(e.kind, e.actor, e.payload) for e in cases.events(session=session, case_id=case_id)]


def case_of_post(engine, external_id) -> int | None:
    with session_scope(engine) as session:
        return session.exec(select(PostRow.case_id).where(PostRow.external_id == external_id)).one()


def case_count(engine) -> int:
    with session_scope(engine) as session:
        return len(session.exec(select(CaseRow)).all())


def set_status(engine, case_id, status, **values) -> None:
    with session_scope(engine) as session:
        session.execute(update(CaseRow).where(CaseRow.id == case_id).values(status=status, **values))


def test_the_customer_writing_again_joins_the_case(engine):
    first = x_post("my acme phone broke")
    [case_id] = store(engine, [first]).new_case_ids
    follow = reply_to(first, "still broken, anyone there?")
    stored = store(engine, [follow], now=LATER)
    assert stored.new_case_ids == [] and len(stored.follow_up_post_ids) == 1
    assert case_of_post(engine, follow.external_id) == case_id
    case = case_row(engine, case_id)
    assert case.customer_wrote_at == LATER and case.status == "new" and case.version == 1
    assert event_kinds(engine, case_id)[-1] == ("follow_up", "system", {"post": follow.external_id})
    assert case_count(engine) == 1


def test_a_first_post_and_its_follow_up_in_one_page_make_one_case(engine):
    first = x_post("my acme phone broke")
    follow = dataclasses.replace(reply_to(first, "hello?"), created_at=first.created_at + timedelta(minutes=1))
    stored = store(engine, [follow, first])  # newest first, as X sends them
    assert len(stored.new_case_ids) == 1 and len(stored.follow_up_post_ids) == 1
    assert case_of_post(engine, follow.external_id) == stored.new_case_ids[0]


def test_other_people_in_the_conversation_open_their_own_cases(engine):
    first = x_post("my acme phone broke", handle="dana")
    [dana_case] = store(engine, [first]).new_case_ids
    eli = reply_to(first, "same with my acme phone", handle="eli")
    [eli_case] = store(engine, [eli]).new_case_ids
    assert eli_case != dana_case and case_row(engine, dana_case).customer_wrote_at is None
    eli_again = reply_to(eli, "and now it is on fire", handle="eli")
    dana_again = reply_to(eli, "@eli wow", handle="dana")
    stored = store(engine, [eli_again, dana_again], now=LATER)
    assert stored.new_case_ids == []
    assert case_of_post(engine, eli_again.external_id) == eli_case
    assert case_of_post(engine, dana_again.external_id) == dana_case


def test_our_own_posts_never_open_a_case_nor_join_one(engine):
    first = x_post("my acme phone broke")
    store(engine, [first])
    ours = reply_to(first, "@customer sorry, DM us", handle="AcmePhones")
    stored = store(engine, [ours, x_post("acme phone ad", handle="acmephones")])
    assert stored == ingest.Stored()
    with session_scope(engine) as session:
        assert session.exec(select(PostRow.external_id).where(PostRow.external_id == ours.external_id)).all() == []


def test_an_answer_to_our_reply_joins_the_case_even_from_someone_else(engine):
    first = x_post("my acme phone broke", handle="dana")
    [case_id] = store(engine, [first]).new_case_ids
    with session_scope(engine) as session:
        session.add(ReplyRow(case_id=case_id, key="k1", agent="UALICE", text="DM us", status="sent",
                             external_id="1900000000000000001", created_at=NOW))
    our_reply = dataclasses.replace(first, external_id="1900000000000000001")
    partner = reply_to(our_reply, "I'm her husband, the phone is still dead", handle="sam")
    stored = store(engine, [partner], now=LATER)
    assert stored.new_case_ids == [] and case_of_post(engine, partner.external_id) == case_id


def test_an_answer_to_our_own_account_on_x_joins_the_case(engine):
    first = x_post("my acme phone broke", handle="dana")
    [case_id] = store(engine, [first]).new_case_ids
    # Replied from X directly (no replies row): X names whom a reply answers, and its leading @.
    ours = dataclasses.replace(first, external_id="1900000000000000002")
    answer = reply_to(ours, "@acmephones it still does not charge", handle="sam",
                      in_reply_to_user_id="777",
                      entities={"mentions": [{"start": 0, "end": 11, "username": "acmephones", "id": "777"}]})
    assert store(engine, [answer]).new_case_ids == []
    assert case_of_post(engine, answer.external_id) == case_id
    # Replying to someone else in the conversation is not an answer to us.
    aside = reply_to(ours, "@eli me too", handle="kim", in_reply_to_user_id="888",
                     entities={"mentions": [{"start": 0, "end": 4, "username": "eli", "id": "888"}]})
    assert len(store(engine, [aside]).new_case_ids) == 1


def test_a_resolved_case_reopens_keeping_its_assignee(engine):
    first = x_post("my acme phone broke")
    [case_id] = store(engine, [first]).new_case_ids
    set_status(engine, case_id, "resolved", assignee="UALICE", resolved_at=NOW, version=4)
    follow = reply_to(first, "it broke again")
    store(engine, [follow], now=LATER)
    case = case_row(engine, case_id)
    assert (case.status, case.assignee, case.version, case.resolved_at) == ("reopened", "UALICE", 5, None)
    assert case.customer_wrote_at == LATER and case.updated_at == LATER
    kinds = event_kinds(engine, case_id)
    assert kinds[-2:] == [("follow_up", "system", {"post": follow.external_id}),
                          ("reopened", "system", {"post": follow.external_id})]


def test_an_ignored_case_stays_ignored_but_records_the_follow_up(engine):
    first = x_post("buy followers cheap acme phone", handle="spammer")
    [case_id] = store(engine, [first]).new_case_ids
    set_status(engine, case_id, "ignored", ignored_reason="spam")
    follow = reply_to(first, "buy more", handle="spammer")
    stored = store(engine, [follow], now=LATER)
    assert stored.follow_up_post_ids and case_of_post(engine, follow.external_id) == case_id
    case = case_row(engine, case_id)
    assert case.status == "ignored" and case.customer_wrote_at is None and case.version == 1
    assert [k for k, _, _ in event_kinds(engine, case_id)] == ["opened", "follow_up"]


def test_a_follow_up_arriving_twice_counts_once(engine):
    first = x_post("my acme phone broke")
    [case_id] = store(engine, [first]).new_case_ids
    follow = reply_to(first, "hello?")
    assert len(store(engine, [follow, follow]).follow_up_post_ids) == 1
    assert store(engine, [follow], now=LATER) == ingest.Stored()
    assert [k for k, _, _ in event_kinds(engine, case_id)] == ["opened", "follow_up"]
    assert case_row(engine, case_id).customer_wrote_at == NOW


def test_follow_ups_wait_for_the_card_and_are_taken_once(engine):
    first = x_post("my acme phone broke")
    [case_id] = store(engine, [first]).new_case_ids
    follow = reply_to(first, "hello?")
    [post_id] = store(engine, [follow]).follow_up_post_ids
    lease = timedelta(seconds=60)
    with session_scope(engine) as session:
        assert conversations.unthreaded(session=session, now=NOW, lease=lease, limit=10) == []  # no card yet
        cases.record_card(session=session, case_id=case_id, message_ts="1.000100", now=NOW)
    with session_scope(engine) as session:
        [waiting] = conversations.unthreaded(session=session, now=NOW, lease=lease, limit=10)
    assert (waiting.post_id, waiting.case_id, waiting.card_ts, waiting.attempted_at) == (post_id, case_id, "1.000100", None)
    assert waiting.post.text == "hello?" and waiting.post.author.handle == "customer"
    with session_scope(engine) as session:
        assert conversations.take_thread_attempt(session=session, post_id=post_id, seen=None, now=NOW)
    with session_scope(engine) as session:
        assert not conversations.take_thread_attempt(session=session, post_id=post_id, seen=None, now=NOW)
        assert conversations.unthreaded(session=session, now=NOW + timedelta(seconds=30), lease=lease, limit=10) == []
        [retry] = conversations.unthreaded(session=session, now=NOW + timedelta(seconds=61), lease=lease, limit=10)
    assert retry.attempted_at == NOW
    with session_scope(engine) as session:
        conversations.record_thread(session=session, post_id=post_id, thread_ts="1.000200")
        assert conversations.unthreaded(session=session, now=LATER, lease=lease, limit=10) == []


def test_a_window_looks_only_among_the_newest_posts(engine):
    first = x_post("my acme phone broke")
    [case_id] = store(engine, [first]).new_case_ids
    [post_id] = store(engine, [reply_to(first, "hello?")]).follow_up_post_ids
    store(engine, [x_post(f"other post {i}", handle=f"h{i}") for i in range(3)])
    lease = timedelta(seconds=60)
    with session_scope(engine) as session:
        cases.record_card(session=session, case_id=case_id, message_ts="1.000100", now=NOW)
    with session_scope(engine) as session:
        assert [f.post_id for f in conversations.unthreaded(session=session, now=NOW, lease=lease, limit=10, newest=4)] == [post_id]
        assert conversations.unthreaded(session=session, now=NOW, lease=lease, limit=10, newest=3) == []
