"""What triage puts into a stored page, on SQLite and PostgreSQL: intent, tags, spam, the detected
language, routes (a `routed` event) and likely spam filed as ignored (an automatic `ignored` event);
the accounts posting one text counted in one query (store.texts); an account's creation time kept."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from sqlmodel import select

from socialdesk.store import ingest, texts
from socialdesk.store.cases import case_view
from socialdesk.store.db import session_scope
from socialdesk.store.models import AuthorRow, CaseEventRow, CaseRow, PostRow
from socialdesk.triage.triaged import LIKELY_SPAM, Triaged, text_digest
from tests.support.factories import x_post

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def store(engine, posts, scores, *, channel_id="C0RULE"):
    with session_scope(engine) as session:
        return ingest.store_page(session=session, posts=posts, rule_id=None, channel_id=channel_id, now=NOW,
                                 scores=scores)


def events(engine, case_id):
    with session_scope(engine) as session:
        return [(e.kind, e.actor, e.payload) for e in session.exec(
            select(CaseEventRow).where(CaseEventRow.case_id == case_id).order_by(CaseEventRow.id))]


def test_intent_tags_spam_and_the_detected_language_are_stored(engine):
    post = dataclasses.replace(x_post("la pantalla se rompió, ¿está cubierto por la garantía?"), lang="es")
    triaged = Triaged(sentiment=-0.2, priority="high", intent="complaint", tags=("screen", "repair"),
                      spam_score=0.1, spam_reasons=("1 link in 9 words",), text_key=text_digest(post.text),
                      lang_detected=True)
    [case_id] = store(engine, [post], {post.external_id: triaged}).new_case_ids
    with session_scope(engine) as session:
        case = session.get(CaseRow, case_id)
        row = session.exec(select(PostRow).where(PostRow.case_id == case_id)).one()
        assert (case.intent, case.tags, case.spam_score, case.spam_reasons, case.priority, case.status,
                case.channel_id) == ("complaint", ["screen", "repair"], 0.1, ["1 link in 9 words"], "high", "new",
                                     "C0RULE")
        assert (row.lang, row.lang_detected, row.text_key) == ("es", True, text_digest(post.text))
        view = case_view(session=session, case_id=case_id)
    assert (view.intent, view.tags, view.lang_detected, view.likely_spam, view.routed_from) == (
        "complaint", ("screen", "repair"), True, False, None)
    assert [kind for kind, _, _ in events(engine, case_id)] == ["opened"]


def test_a_routed_case_opens_in_the_routes_channel_with_a_routed_event(engine):
    post = x_post("How do I turn on eSIM?")
    triaged = Triaged(intent="question", route_to="C0SUPPORT", route_because="intent question")
    [case_id] = store(engine, [post], {post.external_id: triaged}).new_case_ids
    assert events(engine, case_id)[1] == (
        "routed", "system", {"from": "C0RULE", "to": "C0SUPPORT", "because": "intent question"})
    with session_scope(engine) as session:
        view = case_view(session=session, case_id=case_id)
    assert (view.channel_id, view.routed_from, view.routed_because) == ("C0SUPPORT", "C0RULE", "intent question")


def test_likely_spam_on_a_rule_that_ignores_it_opens_ignored_with_the_reason(engine):
    spam, customer = x_post("FREE phone https://x.example 100% legit"), x_post("my phone broke")
    reasons = ("giveaway words: free, 100% legit", "1 link in 5 words")
    scores = {spam.external_id: Triaged(intent="other", spam_score=0.85, spam_reasons=reasons, file_as_spam=True),
              customer.external_id: Triaged(intent="complaint", spam_score=0.0)}
    spam_case, customer_case = store(engine, [spam, customer], scores).new_case_ids
    assert events(engine, spam_case)[1:] == [
        ("ignored", "system", {"reason": "likely spam: giveaway words: free, 100% legit, 1 link in 5 words",
                               "automatic": True})]
    with session_scope(engine) as session:
        case = session.get(CaseRow, spam_case)
        assert (case.status, case.ignored_reason, case.message_ts) == ("ignored", LIKELY_SPAM, None)  # still carded
        assert session.get(CaseRow, customer_case).status == "new"
        view = case_view(session=session, case_id=spam_case)
    assert view.likely_spam and view.spam_reasons == reasons and view.ignored_reason == LIKELY_SPAM


def test_accounts_posting_one_text_are_found_by_its_digest_within_the_window_and_capped(engine):
    text_ = "Get a FREE phone https://a.example 100% legit"
    key = text_digest(text_)
    old = x_post(text_, handle="old_bot", when=NOW - timedelta(days=2))
    bots = [x_post(text_.replace("a.example", f"{n}.example"), handle=f"bot{n}") for n in range(3)]
    again = x_post(text_, handle="bot0")
    other = x_post("my phone broke", handle="bot1")
    page = [old, *bots, again, other]
    store(engine, page, {p.external_id: Triaged(text_key=text_digest(p.text)) for p in page})
    assert text_digest(bots[1].text) == key  # links do not make another text
    since = NOW - timedelta(hours=24)
    with session_scope(engine) as session:
        found = texts.accounts_by_text(session=session, keys={key, text_digest(other.text), "nothing"}, since=since,
                                       at_most=10)
        capped = texts.accounts_by_text(session=session, keys={key}, since=since, at_most=2)
    # bot0 twice is one account; old_bot is outside the window.
    assert found == {key: {("x", "u-bot0"), ("x", "u-bot1"), ("x", "u-bot2")}, text_digest(other.text): {("x", "u-bot1")}}
    assert len(capped[key]) == 2 and capped[key] < found[key]


def test_the_same_text_count_adds_the_page_once_per_account_and_says_when_it_is_a_floor():
    from socialdesk.triage.triaged import SAME_TEXT_SAMPLE, same_text_accounts, triage_page

    text_ = "acme crypto airdrop is live, claim yours"
    key = text_digest(text_)
    page = [x_post(text_, handle="bot1"), x_post(text_ + "!", handle="bot4"), x_post(text_, handle="bot4")]
    stored = {("x", f"u-bot{n}") for n in (1, 2, 3)}
    assert same_text_accounts(page, {key: stored}) == {key: 4}  # bot1 again, bot4 twice: one new account
    assert same_text_accounts(page, {}) == {key: 2}
    many = {("x", f"u-old{n}") for n in range(SAME_TEXT_SAMPLE)}  # as many as store.texts reads
    [first, *_] = triage_page(page, sentiment=lambda _: 0.0, recent_accounts={key: many}).values()
    assert f"same text from {SAME_TEXT_SAMPLE + 2}+ accounts" in first.spam_reasons


def test_an_accounts_creation_time_is_kept_when_a_later_page_does_not_say_it(engine):
    made = datetime(2026, 11, 20, tzinfo=UTC)
    first = x_post("hello")
    first = dataclasses.replace(first, author=dataclasses.replace(first.author, created_at=made))
    store(engine, [first], {})
    store(engine, [x_post("hello again")], {})  # the same account, from a source that does not say when it was made
    with session_scope(engine) as session:
        assert session.exec(select(AuthorRow.created_at)).all() == [made]
