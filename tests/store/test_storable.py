"""Values a row cannot hold as they came (longer than the column, NUL, lone surrogates) are stored
cut and cleaned, the same on SQLite and PostgreSQL, and the rest of their page with them."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlmodel import select

from socialdesk.domain import Author
from socialdesk.store import edits, ingest
from socialdesk.store.db import as_utc, session_scope
from socialdesk.store.models import AuthorRow, CaseRow, PostRow
from tests.support.factories import x_post

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
OWN = frozenset({"acmephones"})

# 60 letters of 5 code points each (a letter and four accents): 300 code points, well within what
# a network allows for a display name (graphemes, bytes), past authors.name's 255 characters.
ACCENTED = "".join("a" + "\u0301" * 4 for _ in range(60))
LONG_ID = "at-" + "9" * 600  # longer than posts.external_id, authors.external_id


def odd_post():
    """A post with every value its row cannot hold as it is."""
    post = x_post("acme\x00 support \ud800 please", post_id=LONG_ID, lang="x" * 40,
                  metrics={"likes\x00": 2},
                  raw={"text": "acme\x00 support", "k\x00ey": ["\udfff", {"deep": "a\x00b"}], "n": 7})
    author = Author("x", "u-" + "7" * 600, "h" * 2000, ACCENTED, 5, avatar_url="https://a.example/" + "p" * 2000)
    return dataclasses.replace(post, author=author, url="https://x.example/" + "u" * 2000,
                               conversation_id="c" * 600)


def store(engine, posts, *, now=NOW):
    with session_scope(engine) as session:
        return ingest.store_page(session=session, posts=posts, rule_id=None, channel_id="C1", now=now,
                                 own_handles=OWN)


def test_a_page_with_values_its_rows_cannot_hold_is_stored_cut_and_cleaned_with_the_rest(engine):
    normal = [x_post(f"my acme phone broke #{i}", handle=f"cust{i}") for i in range(3)]
    odd = odd_post()
    stored = store(engine, [normal[0], odd, *normal[1:]])
    assert len(stored.new_case_ids) == 4
    with session_scope(engine) as session:
        posts = {p.external_id: p for p in session.exec(select(PostRow))}
        assert set(posts) == {p.external_id for p in normal} | {LONG_ID[:512]}
        row = posts[LONG_ID[:512]]
        assert (row.url, row.lang, row.conversation_id) == (odd.url[:1024], "x" * 16, "c" * 512)
        assert row.text == "acme support \ufffd please"
        assert row.metrics == {"likes": 2}
        assert row.raw == {"text": "acme support", "key": ["\ufffd", {"deep": "ab"}], "n": 7}
        # As written: PostgreSQL reads no \u0000 out of JSON (->>, jsonb), and neither database holds one.
        [written] = session.execute(text("SELECT CAST(raw AS TEXT) FROM posts WHERE id = :id"), {"id": row.id}).one()
        assert "\\u0000" not in written and "\\ud" not in written.lower()
        author = session.get(AuthorRow, row.author_id)
        assert (author.external_id, author.handle) == ("u-" + "7" * 510, "h" * 255)
        assert author.name == ACCENTED[:255] and author.avatar_url == odd.author.avatar_url[:1024]
        case = session.get(CaseRow, row.case_id)
        assert case.conversation_id == "c" * 512


def test_the_same_odd_post_again_is_known_and_its_author_is_not_rewritten(engine):
    odd = odd_post()
    store(engine, [odd])
    # Fetched again (a page read twice): the cut ids are found, nothing is stored twice.
    assert store(engine, [odd], now=NOW + timedelta(minutes=1)).new_case_ids == []
    # A later post by the same author: their row is found by its cut id and, unchanged, not rewritten.
    later = dataclasses.replace(x_post("acme again"), author=odd.author)
    assert len(store(engine, [later], now=NOW + timedelta(minutes=2)).new_case_ids) == 1
    with session_scope(engine) as session:
        [author] = session.exec(select(AuthorRow)).all()
        assert as_utc(author.updated_at) == NOW
        assert len(session.exec(select(PostRow)).all()) == 2


def test_an_edit_is_stored_cleaned_and_the_same_edit_again_changes_nothing(engine):
    post = x_post("my acme phone broke")
    store(engine, [post])
    edit = dataclasses.replace(post, text="my acme\x00 phone broke \ud800 twice", lang="y" * 40,
                               raw={"text": "acme\x00"})
    with session_scope(engine) as session:
        edited = edits.record_edit(session=session, post=edit, now=NOW + timedelta(minutes=1))
    assert edited is not None
    with session_scope(engine) as session:
        row = session.exec(select(PostRow)).one()
        assert (row.text, row.lang, row.raw) == ("my acme phone broke \ufffd twice", "y" * 16, {"text": "acme"})
        # The stored text is the edit as it can be stored: reported again, it is no new edit.
        assert edits.record_edit(session=session, post=edit, now=NOW + timedelta(minutes=2)) is None


def test_a_cut_keeps_whole_letters_and_a_value_that_fits_is_the_same_object():
    from socialdesk.store import storable

    assert storable.cut("x" * 254 + "e\u0301", 255) == "x" * 254  # the accent would lose its letter
    assert storable.cut("x" * 253 + "\U0001f469\u200d\U0001f4bb", 255) == "x" * 253  # nor an emoji its joined part
    assert storable.cut("\u0301" * 300, 255) == "\u0301" * 255  # all marks: a plain cut
    assert storable.cut("\ud83d\ude00 \ud800", None) == "\U0001f600 \ufffd"  # a pair in two code points is one
    post = x_post("fine as it is")
    assert storable.post(post) is post
