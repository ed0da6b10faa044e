"""Triage at ingest, through the poller against the fake X API and a real database: the language
guessed before the rule's filters, intent and tags, the spam score (the same text from many
accounts, a new account), likely spam filed as ignored on a rule that says so, routes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlmodel import select

from socialdesk.jobs.poll import Poller
from socialdesk.networks.x.search import XSource
from socialdesk.store import rules as rule_store
from socialdesk.store.db import session_scope
from socialdesk.store.models import AuthorRow, CaseEventRow, CaseRow, PostRow
from socialdesk.triage.sentiment import Triage
from tests.support.networks import x_network


@pytest.fixture(scope="module")
def triage() -> Triage:
    return Triage()


def poller(engine, fake_x, clock, triage) -> Poller:
    source = XSource(http=httpx.Client(timeout=5), api_url=fake_x.url, bearer_token="test-bearer")
    return Poller(engine=engine, networks=x_network(source, follow_ups=False), own_handles=frozenset(), clock=clock,
                  triage=triage)


def add_rule(engine, **settings) -> int:
    with session_scope(engine) as session:
        return rule_store.add_rule(session=session, network="x", query="acme", channel_id="C0CARE", every_seconds=60,
                                   lang=settings.pop("lang", None), include_reposts=False, now=datetime.now(UTC),
                                   backfill=True, **settings).id


def cases(engine) -> dict[str, CaseRow]:
    """Each case by its first post's text."""
    with session_scope(engine) as session:
        rows = session.exec(select(CaseRow, PostRow).where(PostRow.id == CaseRow.first_post_id)).all()
        for case, _ in rows:
            session.expunge(case)
        return {post.text: case for case, post in rows}


def events(engine, case_id: int) -> list[tuple[str, dict | None]]:
    with session_scope(engine) as session:
        return [(e.kind, e.payload) for e in session.exec(
            select(CaseEventRow).where(CaseEventRow.case_id == case_id).order_by(CaseEventRow.id))]


CRACKED = ("Dropped my Acme X3 from waist height and the screen cracked like a spiderweb. "
           "Is that covered by the warranty?")
SPAM = "Acme fans!! Get a FREE phone today https://free-phones.example/claim 100% legit"


def test_a_language_the_network_did_not_give_is_guessed_before_the_rules_filter(engine, fake_x, clock, triage):
    spanish = "Mi teléfono Acme no enciende desde ayer y nadie me responde en la tienda"
    english = "My Acme phone will not turn on since yesterday and nobody answers me at the store"
    fake_x.post(username="lucia", text=spanish, lang="und")
    fake_x.post(username="liam", text=english, lang="und")
    fake_x.post(username="pablo", text="Acme: ¿cuándo llega la actualización para el X3?", lang="es")
    rule_id = add_rule(engine, lang="es")
    assert poller(engine, fake_x, clock, triage).poll_rule(rule_id) == 2
    with session_scope(engine) as session:
        posts = {p.text: (p.lang, p.lang_detected) for p in session.exec(select(PostRow))}
    assert posts == {spanish: ("es", True), "Acme: ¿cuándo llega la actualización para el X3?": ("es", False)}


def test_intent_tags_and_spam_are_stored_and_spam_opens_ignored_on_a_rule_that_says_so(engine, fake_x, clock,
                                                                                       triage):
    fake_x.add_user(username="free_phones_4u", followers=2, created_at=datetime.now(UTC) - timedelta(days=3))
    fake_x.post(username="dana_k", text=CRACKED)
    fake_x.post(username="free_phones_4u", text=SPAM)
    rule_id = add_rule(engine, ignore_spam=True)
    assert poller(engine, fake_x, clock, triage).poll_rule(rule_id) == 2
    found = cases(engine)
    cracked, spam = found[CRACKED], found[SPAM]
    assert (cracked.intent, cracked.status, cracked.channel_id) == ("complaint", "new", "C0CARE")
    assert "screen" in cracked.tags and (cracked.spam_score or 0) < 0.6
    assert (spam.status, spam.ignored_reason, spam.channel_id) == ("ignored", "likely_spam", "C0CARE")
    assert spam.spam_score >= 0.6 and any(r.startswith("account 3 days old with 2 followers") for r in spam.spam_reasons)
    kinds = events(engine, spam.id)
    assert [k for k, _ in kinds] == ["opened", "ignored"]
    assert kinds[1][1]["automatic"] is True and kinds[1][1]["reason"].startswith("likely spam: giveaway words")
    with session_scope(engine) as session:  # the account's age is kept with the author
        made = session.exec(select(AuthorRow.created_at).where(AuthorRow.handle == "free_phones_4u")).one()
    assert made is not None and made > datetime.now(UTC) - timedelta(days=4)


def test_without_the_setting_likely_spam_opens_a_normal_case_with_its_score(engine, fake_x, clock, triage):
    fake_x.post(username="free_phones_4u", text=SPAM)
    assert poller(engine, fake_x, clock, triage).poll_rule(add_rule(engine)) == 1
    [spam] = cases(engine).values()
    assert spam.status == "new" and spam.spam_score >= 0.6 and spam.spam_reasons


def test_the_same_text_from_many_accounts_counts_the_stored_ones_and_the_page(engine, fake_x, clock, triage):
    text = "acme crypto airdrop is live, claim yours"
    rule_id = add_rule(engine)
    polls = poller(engine, fake_x, clock, triage)
    fake_x.post(username="bot1", text=text)
    fake_x.post(username="bot2", text=text + " https://a.example/1")
    polls.poll_rule(rule_id)
    fake_x.post(username="bot3", text=text.upper())
    fake_x.post(username="bot4", text=text + "!")
    clock.offset += timedelta(seconds=61)
    polls.poll_rule(rule_id)
    reasons = {case.spam_reasons and next((r for r in case.spam_reasons if r.startswith("same text")), None)
               for case in cases(engine).values()}
    assert "same text from 4 accounts" in reasons and None in reasons  # the first two saw 2 accounts only


def test_a_route_opens_the_case_in_its_channel_and_records_why(engine, fake_x, clock, triage):
    fake_x.post(username="nina_b", text="Does the Acme X3 support eSIM? Thinking of switching from my old phone.")
    fake_x.post(username="mo", text="My Acme X3 battery goes from 100% to 20% by lunch. Not impressed.")
    fake_x.post(username="sam", text="I want a refund for my Acme X3, the screen cracked after a day")
    rule_id = add_rule(engine, routes={"question": "C0SUPPORT", "tag:refund": "C0BILLING"})
    assert poller(engine, fake_x, clock, triage).poll_rule(rule_id) == 3
    found = {text.split()[0]: case for text, case in cases(engine).items()}
    assert {word: case.channel_id for word, case in found.items()} == {
        "Does": "C0SUPPORT", "My": "C0CARE", "I": "C0BILLING"}
    assert events(engine, found["Does"].id)[1] == (
        "routed", {"from": "C0CARE", "to": "C0SUPPORT", "because": "intent question"})
    assert events(engine, found["I"].id)[1] == ("routed", {"from": "C0CARE", "to": "C0BILLING", "because": "tag refund"})
    assert [k for k, _ in events(engine, found["My"].id)] == ["opened"]
