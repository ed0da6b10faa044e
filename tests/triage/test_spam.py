from dataclasses import replace
from datetime import UTC, datetime, timedelta

from socialdesk.triage.spam import LIKELY_SPAM_AT, read_spam
from tests.support.factories import x_post

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def post(text, *, followers=100, created_at=None):
    p = x_post(text)
    return replace(p, author=replace(p.author, followers=followers, created_at=created_at))


def test_the_free_phone_offer_is_likely_spam():
    reading = read_spam(post("Acme fans!! Get a FREE phone today https://free-phones.example/claim 100% legit"))
    assert reading.likely and reading.score >= LIKELY_SPAM_AT
    assert "giveaway words: FREE, 100% legit" in reading.reasons
    assert "1 link in 9 words" in reading.reasons


def test_a_customer_complaint_is_not_spam_even_from_a_new_account():
    new = NOW - timedelta(days=2)
    reading = read_spam(post("my Acme X3 died after 2 days, I want a refund", followers=3, created_at=new), now=NOW)
    assert not reading.likely
    assert "account 2 days old with 3 followers" in reading.reasons


def test_signals_add_up():
    text = "Claim your airdrop now https://x.example/a"
    alone = read_spam(post(text))
    campaign = read_spam(post(text, followers=1, created_at=NOW - timedelta(days=1)), same_text_accounts=5, now=NOW)
    assert alone.likely and campaign.score > alone.score
    assert "same text from 5 accounts" in campaign.reasons
    assert "account 1 day old with 1 follower" in campaign.reasons


def test_one_signal_alone_is_not_enough():
    assert not read_spam(post("Is the free repair still on? https://acme.example/care")).likely
    assert not read_spam(post("hello"), same_text_accounts=3).likely
    assert read_spam(post("Good morning")).reasons == ()
    assert read_spam(post("Good morning")).score == 0.0


def test_an_old_account_with_few_followers_is_no_signal():
    reading = read_spam(post("hi", followers=0, created_at=NOW - timedelta(days=400)), now=NOW)
    assert reading.score == 0.0
