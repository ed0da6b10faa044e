import pytest

from socialdesk.triage.intent import Intent, care_problem, read_intent
from socialdesk.triage.sentiment import Triage


@pytest.fixture(scope="module")
def vader() -> Triage:
    return Triage()


def intent_of(vader, text):
    return read_intent(text, sentiment=vader.sentiment(text))


def test_cracked_screen_with_a_warranty_question_is_a_complaint(vader):
    reading = intent_of(vader, "the screen cracked like a spiderweb — is that covered by the warranty?")
    assert reading.intent is Intent.COMPLAINT
    assert "care word “cracked”" in reading.reasons
    assert any(r.startswith("asks “is that") for r in reading.reasons)
    assert {"screen", "repair"} <= set(reading.tags)


@pytest.mark.parametrize("text", [
    "Acme X3 on 4.2: wifi keeps disconnecting. Was fine yesterday.",
    "I want a REFUND. my order never arrived",
    "My Acme X3 battery goes from 100% to 20% by lunch. Three weeks old. Not impressed.",
    "@AcmeHelp the app doesn’t work since the update",
    "still waiting for my replacement, 3 weeks now",
])
def test_complaints(vader, text):
    assert intent_of(vader, text).intent is Intent.COMPLAINT


@pytest.mark.parametrize("text", [
    "Does the Acme X3 support eSIM? Thinking of switching from my old phone.",
    "How do I transfer my contacts to a new Acme phone",
    "@acmephones can I drop it off at a store instead of mailing it?",
])
def test_questions(vader, text):
    reading = intent_of(vader, text)
    assert reading.intent is Intent.QUESTION and reading.reasons[0].startswith("asks")


@pytest.mark.parametrize("text", [
    "Shout-out to Acme support: fixed my charging port in one visit. Best phone I've owned.",
    "thank you @acme, the new phone is great",
])
def test_praise(vader, text):
    assert intent_of(vader, text).intent is Intent.PRAISE


@pytest.mark.parametrize("text", ["Good morning everyone", "Just watched the game with friends", ""])
def test_other(vader, text):
    reading = intent_of(vader, text)
    assert reading.intent is Intent.OTHER and reading.reasons


def test_without_sentiment_the_words_still_decide():
    assert read_intent("my phone is broken", sentiment=None).intent is Intent.COMPLAINT
    assert read_intent("what time do you open?", sentiment=None).intent is Intent.QUESTION


def test_tags_name_care_topics():
    tags = read_intent("wifi drops since the update, and I want a refund", sentiment=None).tags
    assert tags == ("refund", "connectivity", "update")


def test_care_problem_names_the_phrase():
    assert care_problem("It stopped working yesterday") == "stopped working"
    assert care_problem("lovely weather") is None
