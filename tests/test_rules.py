import re
from datetime import UTC, datetime

import pytest

from socialdesk.domain import Author, Post
from socialdesk.networks import registry
from socialdesk.rules import Filters, RuleInvalid, parse_rule_sla, rejection, spelled, validate, validate_stream


def make_post(*, handle="customer", repost=False, lang="en") -> Post:
    author = Author("x", "1", handle, "Customer")
    return Post("x", "10", "https://x.com/customer/status/10", author, "my phone broke",
                datetime(2026, 1, 1, tzinfo=UTC), lang=lang, is_repost=repost)


def test_query_over_512_characters_is_refused_with_its_length():
    with pytest.raises(RuleInvalid, match="513 characters; X accepts at most 512"):
        validate("x", "a" * 513, 60, "C0123ABCD")


def test_query_of_exactly_512_characters_is_accepted():
    assert validate("x", "a" * 512, 60, "C0123ABCD") == "x"


def test_a_rule_may_be_polled_from_every_5_seconds_to_once_a_day():
    for every in (5, 86400):
        assert validate("x", "acme", every, "C0123ABCD") == "x"


@pytest.mark.parametrize(
    ("network", "query", "every", "channel", "message"),
    [
        ("myspace", "q", 60, "C1", "unknown network 'myspace'; choose one of: x"),
        ("x", "   ", 60, "C1", "the query is empty"),
        ("x", "q", 4, "C1", "an interval of 4 s is too often; the minimum is 5 seconds"),
        ("x", "q", 86401, "C1", "an interval of 86401 s is longer than a day; give one from 5 to 86400 seconds (a day)"),
        ("x", "q", 10**30, "C1", "an interval of 10000000000000000000… s is longer than a day"),
        ("x", "q", 60, "#support", "'#support' is not a Slack channel id"),
        ("x", "q", 60, "", "is not a Slack channel id"),
    ],
)
def test_invalid_rules_say_what_to_fix(network, query, every, channel, message):
    with pytest.raises(RuleInvalid, match=re.escape(message)):
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
    ("normal=99999999d", "'99999999d' is too long for a first-response target: give at most 30 days"),
    ("high=15m,low=99999999999999999d", "'99999999999999999d' is too long for a first-response target"),
])
def test_a_bad_rule_sla_says_what_to_fix(text, message):
    with pytest.raises(ValueError, match=message):
        parse_rule_sla(text)


# --- `--stream`: a stream that carries only the rules marked for it ----------------------------

OPT_IN = next(n for n in registry.names() if registry.info(n).opt_in_stream)


def test_stream_is_only_for_a_network_whose_stream_takes_marked_rules():
    for name in registry.names():
        info = registry.info(name)
        if info.opt_in_stream:
            validate_stream(name, "acme phone", streamed=0)
        else:
            with pytest.raises(RuleInvalid, match=f"{info.label} has no such stream.*Leave out --stream"):
                validate_stream(name, "acme phone", streamed=0)
    with pytest.raises(RuleInvalid, match="unknown network"):
        validate_stream("myspace", "acme", streamed=0)


def test_a_streamed_query_and_the_number_of_streamed_rules_are_held_to_the_streams_limits():
    info = registry.info(OPT_IN)
    longest = "a" * info.stream_query_max_length
    validate_stream(OPT_IN, longest, streamed=info.stream_rules_max - 1)
    with pytest.raises(RuleInvalid) as too_long:
        validate_stream(OPT_IN, longest + "a", streamed=0)
    assert str(too_long.value) == (f"the query is {len(longest) + 1} characters; {info.label}'s stream takes at most "
                                   f"{info.stream_query_max_length}. Shorten it, or leave out --stream to have it "
                                   "polled")
    with pytest.raises(RuleInvalid) as full:
        validate_stream(OPT_IN, "acme", streamed=info.stream_rules_max)
    assert str(full.value) == (f"{info.label}'s stream carries at most {info.stream_rules_max} rules and "
                               f"{info.stream_rules_max} are marked already; turn one off (`rules stream ID off`) "
                               "or remove one, or leave out --stream to have this one polled")


def test_a_refusal_names_the_command_as_the_surface_showing_it_takes_it():
    said = "turn one off (`rules stream ID off`) or remove one"
    assert spelled(said, "socialdesk") == "turn one off (`socialdesk rules stream ID off`) or remove one"
    assert spelled(said, "/social") == "turn one off (`/social rules stream ID off`) or remove one"
    assert spelled("the query is empty", "/social") == "the query is empty"
