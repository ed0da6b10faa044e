from itertools import combinations

from socialdesk.sandbox.scenario import _BURST, SCENARIO
from socialdesk.triage.similarity import NEAR_DUPLICATE_AT, near_duplicates, similarity, text_key

WIFI = [text for _, text in _BURST]


def test_text_key_ignores_case_links_mentions_emoji_and_spacing():
    assert text_key("RT @bob: My Acme  phone BROKE 😡 https://t.co/x") == text_key("my acme phone broke!")
    assert text_key("my acme phone broke") != text_key("my acme phone works")


def test_the_scenarios_wifi_posts_are_one_storm():
    for a, b in combinations(WIFI, 2):
        assert similarity(a, b) >= NEAR_DUPLICATE_AT, (a, b)


def test_the_scenarios_other_posts_join_no_storm():
    others = [beat.text for beat in SCENARIO if beat.text and beat.text not in WIFI]
    for text in others:
        assert all(similarity(text, wifi) < NEAR_DUPLICATE_AT for wifi in WIFI), text


def test_different_problems_after_one_update_are_different_storms():
    assert similarity("Since the Acme X3 update 4.2 my wifi drops every few minutes",
                      "Since the Acme X3 update 4.2 my battery drains in hours") < NEAR_DUPLICATE_AT


def test_near_duplicates_lists_the_storm_most_similar_first():
    candidates = {i: text for i, text in enumerate(WIFI[1:], start=1)}
    candidates[100] = "Does the Acme X3 support eSIM?"
    candidates[101] = WIFI[0].upper()
    found = near_duplicates(WIFI[0], candidates)
    assert found[0] == 101 and sorted(found) == [1, 2, 3, 4, 5, 101]


def test_short_and_empty_texts():
    assert near_duplicates("", {1: ""}) == []
    assert similarity("ok", "ok") == 1.0
    assert similarity("good morning", "good evening") < NEAR_DUPLICATE_AT
