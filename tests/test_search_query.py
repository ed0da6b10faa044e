"""`/social search` text parsing: filters, errors, words kept as data."""

from __future__ import annotations

from datetime import timedelta

import pytest

from socialdesk.search_query import Query, QueryError, parse


def test_words_and_filters():
    q = parse("battery dies status:new,claimed status:REOPENED rule:3 rule:#5 network:X from:@Alice from:bob since:7d")
    assert q == Query(words="battery dies", status={"new", "claimed", "reopened"}, rule_ids={3, 5}, networks={"x"},
                      authors={"alice", "bob"}, since=timedelta(days=7))
    assert q.has_filters


@pytest.mark.parametrize("given, expected", [
    ("since:30m", timedelta(minutes=30)), ("since:24h", timedelta(hours=24)),
    ("since:7d", timedelta(days=7)), ("since:2w", timedelta(weeks=2)),
])
def test_since(given, expected):
    assert parse(given).since == expected and parse(given).words == ""


def test_empty():
    assert parse("") == Query() and parse("   ") == Query() and not Query().has_filters


@pytest.mark.parametrize("bad, named", [
    ("status:bogus", "status:bogus"),
    ("since:forever", "since:forever"),
    ("rule:abc", "rule:abc"),
    ("color:red", "color:red"),
    ("since:0d", "since:0d"),
    ("since:99999w", "since:99999w"),
    ("status:", "status:"),
    ("status:new,", "status:new,"),
    ("network:myspace", "network:myspace"),
    ("from:@", "from:@"),
    ("rule:-1", "rule:-1"),
    ("rule:2147483648", "rule:2147483648"),  # past an INTEGER column: PostgreSQL refused the whole query
    ("rule:" + "9" * 5000, "rule:999"),
])
def test_bad_filters_name_themselves_in_one_line(bad, named):
    with pytest.raises(QueryError) as info:
        parse(f"battery {bad}")
    message = str(info.value)
    assert named in message and "\n" not in message and "usage: /social search" in message


def test_a_handle_with_its_server_is_one_author():
    assert parse("refund from:@dana@example.social from:Bob@Other.example").authors == {
        "dana@example.social", "bob@other.example"}
    assert parse("rule:2147483647").rule_ids == {2147483647}


def test_unknown_filter_is_named():
    with pytest.raises(QueryError, match="unknown filter `color:`"):
        parse("color:red")


@pytest.mark.parametrize("words", [
    '"quoted" AND NEAR(a b) -x *', "'; DROP TABLE cases; --", "C++ 50% café 日本語 🙂", "http://example.com/a:b",
    "meet at 10:30", "error: it broke", "(a OR b)", "{body}: x",
])
def test_everything_else_is_words(words):
    q = parse(words)
    assert q.words == " ".join(words.split()) and not q.has_filters


def test_long_input_is_cut():
    assert len(parse("x" * 5000).words) == 2000
