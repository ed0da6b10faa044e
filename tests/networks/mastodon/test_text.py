"""Reply length as Mastodon counts it: links, mentions, graphemes; and the instance's own limit."""

from __future__ import annotations

import pytest

from socialdesk.networks.mastodon.network import INFO, rules_for
from socialdesk.networks.mastodon.text import counter, text_length

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"
JAPAN = "\U0001f1ef\U0001f1f5"
LONG_URL = "https://acme.com/help/articles/12345-how-do-i-reset-my-password?utm_source=social&ref=care"


@pytest.mark.parametrize(("text", "expected"), [
    ("hello", 5),
    ("", 0),
    (LONG_URL, 23),
    (f"see {LONG_URL}.", 4 + 23 + 1),  # the full stop is the sentence's
    ("(https://acme.com/a_(b))", 1 + 23 + 1),
    ("http://localhost:3000/x", 23),
    ("acme.com/help", 13),  # no scheme: Mastodon does not link it, so it counts as typed
    ("xhttps://acme.com", 17),  # not at a word start: not a link
    ("@ann@social.example thanks", 4 + 7),
    ("@ann thanks", 11),
    ("mail me: ann@social.example", 27),  # an address, not a mention
    ("https://social.example/@ann", 23),  # a mention inside a link is the link's
    (FAMILY, 1), (JAPAN, 1), ("e\u0301", 1), ("日本語", 3), ("👍🏽 ok", 4),
])
def test_text_length_counts_as_mastodon(text: str, expected: int) -> None:
    assert text_length(text) == expected


def test_the_instances_link_length_is_used() -> None:
    assert text_length(LONG_URL, 30) == 30
    assert counter(23) is text_length
    assert counter(30)(f"a {LONG_URL}") == 32


def test_reply_rules_carry_the_instances_limit() -> None:
    assert INFO.text_limit == 500 and INFO.text_length is text_length and "500" in INFO.text_hint
    rules = rules_for(1000, 30, "big.example")
    assert rules.text_limit == 1000 and rules.text_length(LONG_URL) == 30
    assert "1000" in rules.text_hint and "big.example" in rules.text_hint
    assert rules.name == INFO.name and rules.kinds == INFO.kinds


def test_our_count_agrees_with_the_fakes() -> None:
    from socialdesk.networks.mastodon.fake.markup import status_length

    samples = ["hello", LONG_URL, f"see {LONG_URL}.", "@ann@social.example thanks", "@ann hi",
               f"{FAMILY}{JAPAN} e\u0301 日本語", "(https://acme.com/a_(b))", "@bob, https://a.example/x!"]
    assert [text_length(s) for s in samples] == [status_length(s) for s in samples]
