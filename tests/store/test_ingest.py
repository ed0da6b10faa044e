"""Storing a page with batched core statements, on SQLite and PostgreSQL: ids taken up front,
authors upserted, the full-text index written once, follow-ups, triage of what is stored."""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, text
from sqlmodel import select

from socialdesk.domain import Author, Post
from socialdesk.search_query import parse
from socialdesk.store import ingest
from socialdesk.store.db import session_scope
from socialdesk.store.models import AuthorRow, CaseEventRow, CaseRow, PostRow
from socialdesk.store.search import search
from socialdesk.triage.triaged import Triaged
from tests.support.factories import x_post

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
OWN = frozenset({"acmephones"})


def store(engine, posts, *, now=NOW, **kw) -> ingest.Stored:
    with session_scope(engine) as session:
        return ingest.store_page(session=session, posts=posts, rule_id=None, channel_id="C1", now=now,
                                 own_handles=OWN, **kw)


def follow_up(parent: Post, text_: str, *, minutes: int = 1, **fields) -> Post:
    post = x_post(text_, handle=parent.author.handle, **fields)
    return dataclasses.replace(post, conversation_id=parent.conversation_id, in_reply_to_id=parent.external_id,
                               is_reply=True, created_at=parent.created_at + timedelta(minutes=minutes))


def rows(engine, statement):
    with session_scope(engine) as session:
        return session.exec(statement).all()


def post_cases(engine) -> dict[str, int | None]:
    return dict(rows(engine, select(PostRow.external_id, PostRow.case_id)))  # type: ignore[arg-type]


def plain_post(engine, external_id: str) -> int:
    """A post and its case written the ORM way, with ids from the database (as other code may)."""
    with session_scope(engine) as session:
        author = session.exec(select(AuthorRow)).first()
        case = CaseRow(network="x", channel_id="C1", opened_at=NOW, updated_at=NOW)
        session.add(case)
        session.flush()
        post = PostRow(network="x", external_id=external_id, url="https://x.example", author_id=author.id,
                       text="written elsewhere", created_at=NOW, fetched_at=NOW, case_id=case.id)
        session.add(post)
        session.flush()
        return post.id  # type: ignore[return-value]


def assert_linked(engine) -> None:
    """Every case's first post points back at it, and ids are unique (primary keys say so)."""
    for case_id, first_post_id in rows(engine, select(CaseRow.id, CaseRow.first_post_id)):
        if first_post_id is not None:
            [owner] = rows(engine, select(PostRow.case_id).where(PostRow.id == first_post_id))
            assert owner == case_id


# --- ids ----------------------------------------------------------------------------------

def test_a_page_gets_ids_after_rows_written_elsewhere_and_elsewhere_after_it(engine):
    store(engine, [x_post("first page")])
    other = plain_post(engine, "9000000000000000001")
    stored = store(engine, [x_post("second page a"), x_post("second page b")])
    assert min(stored.new_case_ids) > 1 and len(set(stored.new_case_ids)) == 2
    ids = rows(engine, select(PostRow.id).order_by(PostRow.id))
    assert len(ids) == 4 and ids[-2] > other
    # A plain insert afterwards (the database's own sequence) gets an id past the page's.
    after = plain_post(engine, "9000000000000000002")
    assert after > max(ids)
    [last_case] = rows(engine, select(func.max(CaseRow.id)))
    assert last_case > max(stored.new_case_ids)
    assert_linked(engine)


def test_ids_after_the_newest_rows_are_deleted(engine):
    store(engine, [x_post("kept")])
    gone = store(engine, [x_post("deleted soon flamingo")]).new_case_ids
    with session_scope(engine) as session:  # as retention deletes a case: its events, posts, then it
        session.execute(delete(CaseEventRow).where(CaseEventRow.case_id.in_(gone)))
        session.execute(delete(PostRow).where(PostRow.case_id.in_(gone)))
        session.execute(delete(CaseRow).where(CaseRow.id.in_(gone)))
    [case_id] = store(engine, [x_post("stored after the delete pelican")]).new_case_ids
    assert len(rows(engine, select(PostRow))) == 2 and len(rows(engine, select(CaseRow))) == 2
    assert find(engine, "pelican") == [case_id]
    assert find(engine, "flamingo") == []  # the deleted post left the index, and its id's new post is not it
    assert_linked(engine)


def test_two_writers_at_once_never_share_an_id(engine):
    """One page's transaction is open when another writer stores its page: on SQLite the second
    waits for the write lock, on PostgreSQL the two take different blocks of the sequences."""
    started, failures = threading.Event(), []

    def second_writer() -> None:
        try:
            started.set()
            store(engine, [x_post(f"second writer {i}", handle=f"other{i}") for i in range(5)])  # other authors: no row to wait for
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            failures.append(exc)

    second = []
    with session_scope(engine) as session:
        first = ingest.store_page(session=session, posts=[x_post(f"first writer {i}") for i in range(5)],
                                  rule_id=None, channel_id="C1", now=NOW)
        writer = threading.Thread(target=second_writer)
        writer.start()
        started.wait()
        if engine.dialect.name == "postgresql":
            writer.join(timeout=60)  # nothing blocks it: it stores and commits inside the first's transaction
            assert not writer.is_alive() and failures == []
            second = rows(engine, select(CaseRow.id))
    writer.join(timeout=60)
    assert not writer.is_alive() and failures == []
    assert len(first.new_case_ids) == 5
    if second:
        assert len(second) == 5 and min(second) > max(first.new_case_ids)
    assert len(rows(engine, select(PostRow))) == 10 and len(rows(engine, select(CaseRow))) == 10
    cases_of = post_cases(engine)
    assert len(set(cases_of.values())) == 10  # each post its own case
    assert_linked(engine)


# --- the full-text index --------------------------------------------------------------------

def find(engine, words: str) -> list[int]:
    with session_scope(engine) as session:
        return [hit.case_id for hit in search(session=session, query=parse(words), now=NOW).hits]


def test_each_stored_post_is_indexed_once_with_its_case(engine):
    first = x_post("my walrus phone broke", when=NOW - timedelta(hours=2))
    again = follow_up(first, "still a broken walrus here")
    stored = store(engine, [again, first, x_post("an unrelated narwhal", when=NOW - timedelta(hours=1))])
    assert len(stored.new_case_ids) == 2 and len(stored.follow_up_post_ids) == 1
    case_id = stored.new_case_ids[0]
    assert find(engine, "walrus") == [case_id]  # both posts, one case
    assert find(engine, "narwhal") == [stored.new_case_ids[1]]
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            indexed = conn.execute(text(
                "SELECT doc_id, case_id FROM search_index WHERE doc_kind = 'post' ORDER BY doc_id")).all()
        stored_posts = rows(engine, select(PostRow.id, PostRow.case_id).order_by(PostRow.id))
        assert [tuple(r) for r in indexed] == [tuple(r) for r in stored_posts]


# --- authors ----------------------------------------------------------------------------------

def test_a_known_author_is_updated_in_place(engine):
    store(engine, [x_post("first", handle="oldname", author_id="u-42")])
    renamed = x_post("second", handle="newname", author_id="u-42")
    renamed = dataclasses.replace(renamed, author=Author("x", "u-42", "newname", "New Name", 5000, True,
                                                         "https://pbs.example/a.png"))
    later = NOW + timedelta(hours=1)
    store(engine, [renamed, x_post("someone else", handle="other")], now=later)
    [author] = rows(engine, select(AuthorRow).where(AuthorRow.external_id == "u-42"))
    assert (author.handle, author.name, author.followers, author.verified, author.avatar_url) == (
        "newname", "New Name", 5000, True, "https://pbs.example/a.png")
    assert author.updated_at.replace(tzinfo=UTC) == later
    assert len(rows(engine, select(AuthorRow))) == 2
    # Both posts point at the one row.
    assert set(rows(engine, select(PostRow.author_id).where(PostRow.text != "someone else"))) == {author.id}


# --- what a page holds ----------------------------------------------------------------------------

def test_duplicates_and_own_posts_in_a_page(engine):
    a = x_post("first complaint", when=NOW - timedelta(minutes=5))
    b = x_post("second complaint", when=NOW - timedelta(minutes=4))
    ours = x_post("we are on it", handle="AcmePhones", when=NOW - timedelta(minutes=3))
    stored = store(engine, [b, a, ours, b, a])
    assert len(stored.new_case_ids) == 2 and stored.new_case_ids == sorted(stored.new_case_ids)
    assert set(post_cases(engine)) == {a.external_id, b.external_id}
    # Oldest first: the first case is the older post's.
    [first_post] = rows(engine, select(PostRow.external_id).join(CaseRow, CaseRow.first_post_id == PostRow.id)
                        .where(CaseRow.id == stored.new_case_ids[0]))
    assert first_post == a.external_id
    # The same page again, and a page of only our posts: nothing.
    assert store(engine, [b, a, ours]) == ingest.Stored()
    assert store(engine, [ours]) == ingest.Stored()
    assert len(rows(engine, select(CaseEventRow))) == 2


def test_follow_ups_in_the_same_page_reopen_a_resolved_case_once(engine):
    first = x_post("phone broke", handle="newcustomer", when=NOW - timedelta(hours=3))
    [old_case] = store(engine, [first]).new_case_ids
    with session_scope(engine) as session:
        session.execute(CaseRow.__table__.update().where(CaseRow.id == old_case).values(status="resolved"))
    again = [follow_up(first, "hello?", minutes=10), follow_up(first, "anyone?", minutes=20)]
    fresh = x_post("a new customer's first post", handle="brandnew", when=NOW - timedelta(hours=1))
    fresh_again = follow_up(fresh, "and more from the new customer", minutes=5)
    later = NOW + timedelta(minutes=1)
    stored = store(engine, [fresh_again, again[1], fresh, again[0]], now=later)
    assert len(stored.new_case_ids) == 1 and len(stored.follow_up_post_ids) == 3
    cases_of = post_cases(engine)
    assert cases_of[again[0].external_id] == cases_of[again[1].external_id] == old_case
    assert cases_of[fresh_again.external_id] == cases_of[fresh.external_id] == stored.new_case_ids[0]
    events = rows(engine, select(CaseEventRow.kind, CaseEventRow.payload)
                  .where(CaseEventRow.case_id == old_case).order_by(CaseEventRow.id))
    assert [(k, p["post"]) for k, p in events] == [
        ("opened", first.external_id), ("follow_up", again[0].external_id),
        ("reopened", again[0].external_id), ("follow_up", again[1].external_id)]
    [case] = rows(engine, select(CaseRow).where(CaseRow.id == old_case))
    assert case.status == "reopened" and case.version == 2
    assert case.customer_wrote_at.replace(tzinfo=UTC) == later
    [new_case] = rows(engine, select(CaseRow).where(CaseRow.id == stored.new_case_ids[0]))
    assert new_case.customer_wrote_at is not None and new_case.status == "new"


def test_follow_ups_only_stores_just_the_follow_ups(engine):
    first = x_post("phone broke", when=NOW - timedelta(hours=3))
    [case_id] = store(engine, [first]).new_case_ids
    joins = follow_up(first, "still broken")
    stranger = dataclasses.replace(follow_up(first, "me too"), author=Author("x", "u-stranger", "stranger", "S"))
    unrelated = x_post("a post of its own", when=NOW - timedelta(hours=1))
    stored = store(engine, [unrelated, stranger, joins], follow_ups_only=True)
    assert stored.new_case_ids == [] and len(stored.follow_up_post_ids) == 1
    assert post_cases(engine) == {first.external_id: case_id, joins.external_id: case_id}
    assert rows(engine, select(AuthorRow.handle).where(AuthorRow.handle == "stranger")) == []


# --- triage ------------------------------------------------------------------------------------

def test_scores_are_asked_for_the_stored_posts_only(engine):
    known = x_post("stored before")
    store(engine, [known])
    asked: list[list[str]] = []

    def scores(posts):
        asked.append([p.external_id for p in posts])
        return {p.external_id: Triaged(sentiment=-0.8, priority="high") for p in posts}

    new = x_post("terrible, refund now")
    ours = x_post("our own post", handle="acmephones")
    stored = store(engine, [new, known, ours, new], scores=scores)
    assert asked == [[new.external_id]]
    [case] = rows(engine, select(CaseRow).where(CaseRow.id == stored.new_case_ids[0]))
    assert (case.sentiment, case.priority) == (-0.8, "high")
    assert rows(engine, select(PostRow.sentiment).where(PostRow.external_id == new.external_id)) == [-0.8]
    assert store(engine, [new], scores=scores) == ingest.Stored() and len(asked) == 1  # nothing new: no scoring
