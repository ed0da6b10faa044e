from dataclasses import replace

import pytest

from socialdesk.triage.sentiment import Triage, priority, sentiment_label
from tests.support.factories import x_post


@pytest.fixture(scope="module")
def triage() -> Triage:
    return Triage()


def post(text="my Acme phone broke", *, followers=100, verified=False):
    p = x_post(text)
    return replace(p, author=replace(p.author, followers=followers, verified=verified))


# --- sentiment ----------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "worst support ever 😡",
    "I want a REFUND. Absolutely terrible, scam company!!!",
    "the app crashed again and I lost all my data. unacceptable.",
    "@AcmeHelp my order never arrived and nobody answers. so disappointed 😞",
])
def test_negative_posts(triage, text):
    score = triage.sentiment(text)
    assert score <= -0.05 and sentiment_label(score) == "negative"


@pytest.mark.parametrize("text", [
    "love my new Acme X2!!! 😍",
    "Thanks @AcmeHelp, sorted in 5 min 👍 great support",
    "not bad at all",  # VADER handles the negation
])
def test_positive_posts(triage, text):
    score = triage.sentiment(text)
    assert score >= 0.05 and sentiment_label(score) == "positive"


@pytest.mark.parametrize("text", [
    "What time does the Acme store on Main St open?",
    "Is the X2 available in blue?",
    "<!channel>",
])
def test_neutral_posts(triage, text):
    assert sentiment_label(triage.sentiment(text)) == "neutral"


def test_slang_and_emoji_intensify(triage):
    assert triage.sentiment("love it 😍😍") > triage.sentiment("love it")
    assert triage.sentiment("this sucks!!!") < triage.sentiment("this sucks")


@pytest.mark.parametrize("text", [
    "",
    " \n\t ",
    "x" * 25_000,
    ("terrible service but I love the product 😡 " * 700)[:25_000],
    "😡😍🇯🇵👨‍👩‍👧‍👦" * 500,
    "<!channel> <@U123|bob> <https://acme.com|link> &amp; &lt;script&gt;",
    "\x00\ud83d\ufeff\u202e",
    "NOT GOOD!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
    "返金してください。最悪です。",
])
def test_odd_input_never_raises(triage, text):
    score = triage.sentiment(text)
    assert -1.0 <= score <= 1.0
    assert sentiment_label(score) in {"negative", "neutral", "positive"}


def test_long_post_is_scored_on_its_opening(triage):
    opening = "worst support ever, I hate this. " * 200  # past the 5,000 characters scored
    assert triage.sentiment(opening + "x " * 12_000) == triage.sentiment(opening + "great " * 12_000)


@pytest.mark.parametrize(("score", "label"), [
    (None, "unknown"), (-1.0, "negative"), (-0.05, "negative"), (-0.0499, "neutral"),
    (0.0, "neutral"), (0.0499, "neutral"), (0.05, "positive"), (1.0, "positive"),
])
def test_sentiment_label_thresholds(score, label):
    assert sentiment_label(score) == label


# --- priority -----------------------------------------------------------------------

KEYWORDS = ("refund", "lawsuit", "data breach")


@pytest.mark.parametrize("text", [
    "Refund now!",
    "I want a refund.",
    "REFUND",
    "#refund please",
    "(refund)",
    "my lawyer mentioned a lawsuit",
    "was there a data breach?",
    "Data\n  Breach at Acme??",
])
def test_keyword_matches_whole_words_ignoring_case(text):
    assert priority(post(text), keywords=KEYWORDS) == "high"


@pytest.mark.parametrize("text", [
    "is this refundable?",
    "I got refunded, thanks",
    "refunds take 5 days",  # whole words: list "refunds" too if it matters
    "nonrefund policy",
    "@refund_bot hi",
    "databreach",
    "data was breached",
    "",
])
def test_keyword_does_not_match_inside_words(text):
    assert priority(post(text), keywords=KEYWORDS) == "normal"


def test_keywords_with_punctuation_and_without_spaces():
    assert priority(post("Outage again #AcmeDown"), keywords=["#acmedown"]) == "high"
    assert priority(post("返金してください"), keywords=["返金"]) == "high"  # no spaces in Japanese
    assert priority(post("price (USD) changed"), keywords=["(usd)"]) == "high"
    assert priority(post("refund.*"), keywords=[".*"]) == "high"  # keywords are literal text
    assert priority(post("refund"), keywords=[".*x"]) == "normal"


def test_blank_and_no_keywords_never_match():
    assert priority(post("anything at all")) == "normal"
    assert priority(post("anything at all"), keywords=["", "  "]) == "normal"


def test_decomposed_accents_match():
    assert priority(post("remboursement refusé"), keywords=["refuse\u0301"]) == "high"


def test_followers_threshold():
    assert priority(post(followers=10_000), followers_threshold=10_000) == "high"
    assert priority(post(followers=9_999), followers_threshold=10_000) == "normal"
    assert priority(post(followers=10**9)) == "normal"  # no threshold, no rule


def test_verified_author():
    assert priority(post(verified=True)) == "high"
    assert priority(post(verified=False)) == "normal"


def test_strongly_negative_sentiment():
    assert priority(post(), sentiment=-0.6) == "high"
    assert priority(post(), sentiment=-0.95) == "high"
    assert priority(post(), sentiment=-0.59) == "normal"
    assert priority(post(), sentiment=0.9) == "normal"
    assert priority(post(), sentiment=None) == "normal"


def test_sentiment_of_a_real_complaint_makes_it_high(triage):
    p = post("I want a REFUND. Absolutely terrible, scam company!!!")
    assert priority(p, sentiment=triage.sentiment(p.text)) == "high"
