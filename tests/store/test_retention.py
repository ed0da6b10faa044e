"""Retention and privacy in the store, on SQLite and PostgreSQL: forget leaves no trace anywhere."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, MetaData, select, update
from sqlmodel import Session

from socialdesk.domain import EventKind
from socialdesk.search_query import Query
from socialdesk.store import forget, ingest, lifecycle, retention
from socialdesk.store.db import session_scope
from socialdesk.store.models import (
    AuthorRow,
    CaseEventRow,
    CaseRow,
    CuratedEntryRow,
    PostRow,
    ReplyRow,
    RuleRow,
    WebhookDeliveryRow,
    WebhookRow,
)
from socialdesk.store.search import search
from tests.support.factories import x_post

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
HANDLE, NAME = "Jane_Doe", "Jane Zanzibar-Doe"


@dataclass
class Seeded:
    jane_case: int = 0
    bob_case: int = 0
    carol_case: int = 0
    jane_texts: list[str] = field(default_factory=list)
    jane_post_ids: list[str] = field(default_factory=list)
    bob_text: str = ""


def jane_post(text: str, **fields):
    post = x_post(text, handle=HANDLE, author_id="u-jane", **fields)
    return replace(post, author=replace(post.author, name=NAME))


def _post(session: Session, external_id: str) -> PostRow:
    return session.execute(select(PostRow).where(PostRow.external_id == external_id)).scalar_one()


def seed_people(engine: Engine, now: datetime = NOW) -> Seeded:
    """Jane (to be forgotten) with a case of her own, a follow-up in Bob's case and a mention in Carol's."""
    s = Seeded()
    jane_first = jane_post("my phone has a zanzibarscreen crack",
                           raw={"text": "my phone has a zanzibarscreen crack", "author_id": "u-jane"})
    jane_again = jane_post("still quixoticbroken after the update",
                           when=jane_first.created_at + timedelta(minutes=5))
    jane_again = _in_conversation(jane_again, jane_first.external_id)
    bob_first = x_post("my acme charger died overnight", handle="bob_builds", author_id="u-bob")
    carol_first = x_post("@jane_doe have you tried restarting? see x.com/Jane_Doe too", handle="carol_c",
                         author_id="u-carol",
                         raw={"entities": {"mentions": [{"username": "jane_doe", "id": "u-jane"}]}})
    s.jane_texts = [jane_first.text, jane_again.text]
    s.bob_text = bob_first.text
    with session_scope(engine) as session:
        rule = RuleRow(network="x", query="acme OR phone", channel_id="C1", created_at=now)
        session.add(rule)
        session.flush()
        s.jane_case, s.bob_case, s.carol_case = ingest.store_posts(
            session=session, posts=[jane_first, bob_first, carol_first], rule_id=rule.id, channel_id="C1", now=now)
        ingest.store_page(session=session, posts=[jane_again], rule_id=rule.id, channel_id="C1", now=now)
        # Our replies: to Jane (in her case) and to Bob (which Jane then answers, joining Bob's case).
        session.add(ReplyRow(case_id=s.jane_case, key="r1", agent="UALICE", text="@Jane_Doe sorry about the screen",
                             status="sent", external_id="9001", created_at=now))
        session.add(ReplyRow(case_id=s.bob_case, key="r2", agent="UALICE", text="@bob_builds try another cable",
                             status="sent", external_id="9002", created_at=now))
        lifecycle.add_note(session=session, case_id=s.jane_case, user_id="UALICE",
                           text=f"{NAME} called, VIP, zanzibarscreen", now=now)
        lifecycle.add_note(session=session, case_id=s.carol_case, user_id="UALICE",
                           text="Carol also pinged @jane_doe about it", now=now)
        session.execute(update(CaseRow).where(CaseRow.id.in_([s.jane_case, s.bob_case]))
                        .values(message_ts="1700000000.000100"))
        session.add(CuratedEntryRow(case_id=s.jane_case, question="zanzibarscreen crack?", answer="replace it",
                                    created_by="UALICE", created_at=now, updated_by="UALICE", updated_at=now))
        hook = WebhookRow(url="https://hooks.example/1", secret="s", created_by="UALICE", created_at=now)
        session.add(hook)
        session.flush()
        session.add(WebhookDeliveryRow(webhook_id=hook.id, case_event_id=None, case_id=s.jane_case, kind="note",
                                       body=f'{{"text": "{NAME}: zanzibarscreen"}}', next_attempt_at=now,
                                       created_at=now))
        session.add(WebhookDeliveryRow(webhook_id=hook.id, case_event_id=None, case_id=s.carol_case, kind="note",
                                       body='{"text": "Carol also pinged @jane_doe"}', next_attempt_at=now,
                                       created_at=now))
    jane_in_bob = _in_conversation(jane_post("me too, jellyfishcharger here"),
                                   bob_first.external_id, in_reply_to="9002")
    hal_in_jane = _in_conversation(x_post("hal here, same crack", handle="hal_h", author_id="u-hal"),
                                   jane_first.external_id, in_reply_to="9001")
    with session_scope(engine) as session:
        stored = ingest.store_page(session=session, posts=[jane_in_bob, hal_in_jane], rule_id=None, channel_id="C1",
                                   now=now, follow_ups_only=True)
        assert len(stored.follow_up_post_ids) == 2
        _post(session, jane_in_bob.external_id).thread_ts = "1700000000.000200"
    s.jane_texts.append(jane_in_bob.text)
    s.jane_post_ids = [jane_first.external_id, jane_again.external_id, jane_in_bob.external_id]
    return s


def _in_conversation(post, conversation_id: str, in_reply_to: str | None = None):
    return replace(post, conversation_id=conversation_id, in_reply_to_id=in_reply_to, is_reply=bool(in_reply_to))


def every_string(engine: Engine) -> list[tuple[str, str]]:
    """(table, value) for every value of every table, shadow tables included, as lower-case text."""
    found = []
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            names = [r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'table'")]
        else:
            meta = MetaData()
            meta.reflect(conn)
            names = list(meta.tables)
        for name in names:
            for row in conn.exec_driver_sql(f'SELECT * FROM "{name}"'):
                for value in row:
                    if isinstance(value, (bytes, memoryview)):
                        value = bytes(value).decode("latin-1")
                    found.append((name, str(value).lower()))
    return found


def traces(engine: Engine, needles: list[str]) -> list[tuple[str, str]]:
    lowered = [n.lower() for n in needles]
    return [(table, needle) for table, value in every_string(engine) for needle in lowered if needle in value]


def test_forget_leaves_no_trace_in_any_table(engine):
    s = seed_people(engine)
    words = ["zanzibarscreen", "quixoticbroken", "jellyfishcharger", "zanzibar"]
    needles = ["jane_doe", NAME, "u-jane", *s.jane_texts, *words, *s.jane_post_ids]
    before = {table for table, _ in traces(engine, needles)}
    # The scan sees her everywhere first.
    assert {"authors", "posts", "case_events", "replies", "curated_entries", "webhook_deliveries"} <= before
    if engine.dialect.name == "sqlite":
        assert "search_index_content" in before

    with session_scope(engine) as session:
        report = forget.forget_author(session=session, network="x", handle="@JANE_doe")

    assert traces(engine, needles) == []
    assert report.handle == HANDLE and report.name == NAME
    assert report.deleted == {"webhook_deliveries": 1, "curated_entries": 1, "replies": 1, "case_events": 4,
                              "posts": 4, "cases": 1, "authors": 2}  # Jane and Hal (who only wrote in her case)
    # Carol's post, its raw payload and her note; the follow_up event Jane's post made in Bob's case.
    assert report.redacted == {"posts": 1, "posts.raw": 1, "case_events": 2, "webhook_deliveries": 1}
    assert sorted((m.what, m.case_id) for m in report.messages) == [("card", s.jane_case), ("follow-up", s.bob_case)]
    assert report.cards_to_refresh == []  # Carol's card was never posted
    with session_scope(engine) as session:
        assert session.get(CaseRow, s.jane_case) is None
        bob = session.get(CaseRow, s.bob_case)
        assert bob is not None and [p.text for p in session.execute(
            select(PostRow).where(PostRow.case_id == s.bob_case)).scalars()] == [s.bob_text]
        assert session.execute(select(ReplyRow.text).where(ReplyRow.case_id == s.bob_case)).scalar_one() \
            == "@bob_builds try another cable"
        carol_post = session.get(PostRow, session.get(CaseRow, s.carol_case).first_post_id)
        assert carol_post.text == "@[removed] have you tried restarting? see x.com/[removed] too"
        assert carol_post.raw is None
        assert {a.handle for a in session.execute(select(AuthorRow)).scalars()} == {"bob_builds", "carol_c"}
        hits = search(session=session, query=Query(words="charger"), now=NOW).hits
        assert [h.case_id for h in hits] == [s.bob_case]
        assert search(session=session, query=Query(words="jellyfishcharger"), now=NOW).hits == []


def test_forget_by_account_id_and_unknown_or_ambiguous_authors(engine):
    seed_people(engine)
    with session_scope(engine) as session:
        session.add(AuthorRow(network="x", external_id="u-other-jane", handle="jane_DOE", name="Other",
                              updated_at=NOW))
        session.add(RuleRow(network="x", query="from:jane_doe OR acme", channel_id="C1", created_at=NOW))
    with session_scope(engine) as session:
        with pytest.raises(forget.AmbiguousAuthor, match="u-jane, u-other-jane|u-other-jane, u-jane"):
            forget.forget_author(session=session, network="x", handle="jane_doe")
        with pytest.raises(forget.AuthorNotFound, match="@nobody_here"):
            forget.forget_author(session=session, network="x", handle="@nobody_here")
    with session_scope(engine) as session:
        report = forget.forget_author(session=session, network="x", handle="u-jane")
    assert report.deleted["posts"] == 4 and len(report.rules_naming_them) == 1


def test_dry_run_is_the_same_call_rolled_back(engine):
    s = seed_people(engine)
    snapshot = sorted(every_string(engine))
    with Session(engine) as session:
        report = forget.forget_author(session=session, network="x", handle=HANDLE)
        session.rollback()
    assert report.deleted["cases"] == 1
    assert sorted(every_string(engine)) == snapshot
    with session_scope(engine) as session:
        assert session.get(CaseRow, s.jane_case) is not None


def test_purge_raw_before_the_boundary_only(engine):
    older_than = NOW - timedelta(days=30)
    posts = {when: x_post(f"post fetched {when}", raw={"id": "x"}) for when in (-31, -30, -29)}
    with session_scope(engine) as session:
        for days, post in posts.items():
            ingest.store_posts(session=session, posts=[post], rule_id=None, channel_id="C1",
                               now=NOW + timedelta(days=days))
    with session_scope(engine) as session:
        assert retention.purge_raw(session=session, older_than=older_than) == 1
        assert retention.purge_raw(session=session, older_than=older_than) == 0
    with session_scope(engine) as session:
        raws = {days: _post(session, p.external_id).raw for days, p in posts.items()}
    assert raws == {-31: None, -30: {"id": "x"}, -29: {"id": "x"}}


def test_purge_closed_cases_only_when_quiet_and_not_curated(engine):
    old, older_than = NOW - timedelta(days=40), NOW - timedelta(days=30)
    names = ["resolved_old", "open_old", "resolved_at_boundary", "ignored_with_new_post", "faq", "faq_withdrawn"]
    posts = {n: x_post(f"{n} words", handle=n) for n in names}
    with session_scope(engine) as session:
        ids = dict(zip(names, ingest.store_posts(session=session, posts=list(posts.values()), rule_id=None,
                                                 channel_id="C1", now=old)))
        for n in ("resolved_old", "faq", "faq_withdrawn"):
            lifecycle.resolve(session=session, case_id=ids[n], user_id="UALICE", now=old)
        lifecycle.resolve(session=session, case_id=ids["resolved_at_boundary"], user_id="UALICE", now=older_than)
        lifecycle.ignore(session=session, case_id=ids["ignored_with_new_post"], user_id="UALICE", reason="spam",
                         now=old)
        for n, status in (("faq", "active"), ("faq_withdrawn", "withdrawn")):
            session.add(CuratedEntryRow(case_id=ids[n], question="q", answer="a", status=status, created_by="U",
                                        created_at=old, updated_by="U", updated_at=old))
    follow_up = _in_conversation(x_post("more spam", handle="ignored_with_new_post"),
                                 posts["ignored_with_new_post"].external_id)
    with session_scope(engine) as session:
        ingest.store_page(session=session, posts=[follow_up], rule_id=None, channel_id="C1",
                          now=NOW - timedelta(days=5))
    with session_scope(engine) as session:
        counts = retention.purge_closed_cases(session=session, older_than=older_than, limit=1)
        assert counts["cases"] == 1
        counts = retention.purge_closed_cases(session=session, older_than=older_than)
    assert counts["cases"] == 1 and counts["curated_entries"] == 1 and counts["authors"] == 1
    with session_scope(engine) as session:
        left = {n for n, i in ids.items() if session.get(CaseRow, i) is not None}
        assert session.execute(select(CaseEventRow).where(
            CaseEventRow.case_id.in_([ids["resolved_old"], ids["faq_withdrawn"]]))).first() is None
    assert left == {"open_old", "resolved_at_boundary", "ignored_with_new_post", "faq"}


def test_mark_removed_at_source_hides_text_and_records_it(engine):
    s = seed_people(engine)
    jane_first, jane_again = s.jane_post_ids[:2]
    with session_scope(engine) as session:
        deleted = retention.mark_removed_at_source(session=session, network="x", external_ids=[jane_first, "404"],
                                                   reason="deleted", now=NOW)
        withheld = retention.mark_removed_at_source(session=session, network="x", external_ids=[jane_again],
                                                    reason="withheld", now=NOW, countries=["de", "FR"])
        again = retention.mark_removed_at_source(session=session, network="x", external_ids=[jane_first],
                                                 reason="deleted", now=NOW)
    assert again == []
    [d], [w] = deleted, withheld
    assert (d.case_id, d.first_post, d.card_ts) == (s.jane_case, True, "1700000000.000100")
    assert (w.case_id, w.first_post) == (s.jane_case, False)
    with session_scope(engine) as session:
        first, second = _post(session, jane_first), _post(session, jane_again)
        assert (first.text, first.raw, first.removed_reason) == ("This post was deleted by its author.", None,
                                                                 "deleted")
        assert first.removed_at == NOW
        assert (second.text, second.removed_reason) == ("This post is withheld in DE, FR and hidden here.",
                                                        "withheld")
        events = session.execute(select(CaseEventRow.payload).where(
            CaseEventRow.case_id == s.jane_case, CaseEventRow.kind == EventKind.REMOVED_AT_SOURCE.value)).scalars()
        assert sorted(e["reason"] for e in events) == ["deleted", "withheld"]
        assert [h.case_id for h in search(session=session, query=Query(words="quixoticbroken"), now=NOW).hits] == []
    with pytest.raises(ValueError):
        with session_scope(engine) as session:
            retention.mark_removed_at_source(session=session, network="x", external_ids=[], reason="gone", now=NOW)


def test_a_drafted_reply_s_prompt_goes_with_the_posts_it_quoted(engine):
    s = seed_people(engine)
    with session_scope(engine) as session:
        for case_id, quoted in ((s.jane_case, s.jane_texts[0]), (s.bob_case, s.jane_texts[2]),
                                (s.carol_case, "nothing of hers")):
            payload = {"model": "m", "prompt": [{"role": "user", "content": f"<post>{quoted}</post>"}],
                               "draft": "Sorry! Try a restart.", "cut": False}
            session.add(CaseEventRow(case_id=case_id, kind=EventKind.REPLY_DRAFTED.value, actor="UALICE", at=NOW,
                                     payload=payload))
    with session_scope(engine) as session:
        retention.mark_removed_at_source(session=session, network="x", external_ids=[s.jane_post_ids[0]],
                                         reason="deleted", now=NOW)

    def drafted(case_id: int) -> dict:
        with session_scope(engine) as session:
            return session.execute(select(CaseEventRow.payload).where(
                CaseEventRow.case_id == case_id, CaseEventRow.kind == EventKind.REPLY_DRAFTED.value)).scalar_one()

    assert drafted(s.jane_case) == {"model": "m", "prompt": None, "draft": "Sorry! Try a restart.", "cut": False,
                                    "prompt_dropped": "it quoted a post deleted at the source"}
    assert drafted(s.bob_case)["prompt"] is not None  # her post in Bob's case is still there
    with session_scope(engine) as session:
        report = forget.forget_author(session=session, network="x", handle=HANDLE)
    assert drafted(s.bob_case)["prompt_dropped"] == "it quoted a person forgotten on request"
    assert drafted(s.carol_case)["prompt"] is not None and report.redacted["case_events"] >= 1
    assert traces(engine, ["jellyfishcharger"]) == []


def test_forget_finds_a_non_ascii_handle_in_other_posts_raw_payloads(engine):
    """JSON columns hold UTF-8 as written (store.jsonfmt): "josé_m" is found as stored, not as \\u00e9."""
    jose = x_post("my phone is broken", handle="josé_m", author_id="u-jose")
    mention = x_post("@josé_m have you tried restarting?", handle="carol_c", author_id="u-carol",
                     raw={"entities": {"mentions": [{"username": "josé_m", "id": "9911"}]}})
    with session_scope(engine) as session:
        ingest.store_posts(session=session, posts=[jose, mention], rule_id=None, channel_id="C1", now=NOW)
    with session_scope(engine) as session:
        report = forget.forget_author(session=session, network="x", handle="josé_m")
    assert report.redacted["posts.raw"] == 1
    with session_scope(engine) as session:
        assert _post(session, mention.external_id).raw is None
