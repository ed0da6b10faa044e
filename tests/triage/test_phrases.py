import pytest

from socialdesk.triage.phrases import Vocabulary, words
from socialdesk.triage.vocabulary import found


def test_words_are_lower_case_without_links_and_keep_apostrophes():
    assert words("My Acme X3 isn’t charging https://t.co/x #fail") == ("my", "acme", "x3", "isn't", "charging", "fail")
    assert words("Mon téléphone ne s'allume plus") == ("mon", "téléphone", "ne", "s'allume", "plus")


def test_templates_expand_and_patterns_fit():
    vocabulary = Vocabulary({
        "problem": ["{won't|can't} {turn on|charge}", "stopped *ing", "frustrat*"],
        "offer": ["<n> off", "free"],
    })
    assert vocabulary.find(words("it won't turn on and can't charge")) == {"problem": ["won't turn on", "can't charge"]}
    assert vocabulary.find(words("it stopped working, so frustrating")) == {"problem": ["stopped working", "frustrating"]}
    assert vocabulary.find(words("50% off, FREE shipping, free!")) == {"offer": ["50 off", "free"]}
    assert vocabulary.find(words("all good here")) == {}


def test_the_longer_phrase_of_a_list_counts_once_where_both_start():
    vocabulary = Vocabulary({"offer": ["claim", "claim your"]})
    assert vocabulary.find(words("Claim your prize")) == {"offer": ["claim your"]}


@pytest.mark.parametrize("template", ["*ed now", "fix* it"])
def test_bad_templates_are_refused(template):
    with pytest.raises(ValueError):
        Vocabulary({"x": [template]})


def test_one_pass_finds_every_list():
    phrases = found("Screen cracked after the update, I want a refund. Thanks anyway! FREE case?")
    assert phrases.problems == ("cracked", "refund")
    assert phrases.praise == ("thanks",)
    assert phrases.giveaway == ("free",)
    assert phrases.topics == ("refund", "screen", "update")


def test_a_phrase_as_the_text_writes_it():
    from socialdesk.triage.phrases import as_written

    assert as_written("Get a FREE phone 100% legit!!", "100 legit") == "100% legit"
    assert as_written("Get a FREE phone", "free") == "FREE"
    assert as_written("nothing here", "free") == "free"


def test_a_phrase_inside_another_of_its_list_counts_once():
    vocabulary = Vocabulary({"offer": ["<n> legit", "legit", "free"], "word": ["legit"]})
    assert vocabulary.find(words("100% legit and free")) == {"offer": ["100 legit", "free"], "word": ["legit"]}
