from datetime import UTC, datetime

import pytest

from socialdesk.domain import Author, Post
from socialdesk.rules import Filters, RuleInvalid, parse_rule_sla, rejection, validate


def make_post(*, handle="customer", repost=False, lang="en") -> Post:
    author = Author("x", "1", handle, "Customer")
    return Post("x", "10", "https://x.com/customer/status/10", author, "my phone broke",
                datetime(2026, 1, 1, tzinfo=UTC), lang=lang, is_repost=repost)


def test_query_over_512_characters_is_refused_with_its_length():
    with pytest.raises(RuleInvalid, match="513 characters; X accepts at most 512"):
        validate("x", "a" * 513, 60, "C0123ABCD")


def test_query_of_exactly_512_characters_is_accepted():
    assert validate("x", "a" * 512, 60, "C0123ABCD") == "x"


@pytest.mark.parametrize(
    ("network", "query", "every", "channel", "message"),
    [
        ("myspace", "q", 60, "C1", "unknown network 'myspace'; choose one of: x"),
        ("x", "   ", 60, "C1", "the query is empty"),
        ("x", "q", 4, "C1", "--every 4 is too often; the minimum is 5 seconds"),
        ("x", "q", 60, "#support", "'#support' is not a Slack channel id"),
        ("x", "q", 60, "", "is not a Slack channel id"),
    ],
)
def test_invalid_rules_say_what_to_fix(network, query, every, channel, message):
    with pytest.raises(RuleInvalid, match=message.replace("(", r"\(")):
        validate(network, query, every, channel)


def test_reposts_are_skipped_unless_included():
    assert rejection(make_post(repost=True), Filters()) == "repost"
    assert rejection(make_post(repost=True), Filters(include_reposts=True)) is None


def test_own_accounts_never_open_cases_whatever_the_case_of_the_handle():
    assert rejection(make_post(handle="AcmePhones"), Filters(own_handles=frozenset({"acmephones"}))) == "own account"


def test_language_filter():
    assert rejection(make_post(lang="de"), Filters(lang="en")) == "language de"
    assert rejection(make_post(lang="en"), Filters(lang="en")) is None
    assert rejection(make_post(lang="de"), Filters()) is None


@pytest.mark.parametrize(("text", "expected"), [
    ("high=15m, normal=1h", "high=15m,normal=1h"),
    ("LOW = 1d", "low=1d"),
    ("", None), ("  default ", None), (None, None),
])
def test_a_rules_sla_is_normalized(text, expected):
    assert parse_rule_sla(text) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("vip=5m", "unknown priority 'vip'"),
    ("high=soon", "is not a duration"),
    ("high=5m,high=6m", "given twice"),
    ("high", "should look like priority=duration"),
])
def test_a_bad_rule_sla_says_what_to_fix(text, message):
    with pytest.raises(ValueError, match=message):
        parse_rule_sla(text)
