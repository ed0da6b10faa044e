"""The queue's filters (`/social queue priority:high tag:refund …`, App Home's saved view): parsing and errors."""

from __future__ import annotations

import pytest

from socialdesk.networks import registry
from socialdesk.queue_filter import FilterError, QueueFilter, parse

TAGS = ("billing", "Refund", "screen")


def test_every_key_with_alternatives_case_insensitive():
    network = registry.names()[0]
    got = parse(f"priority:HIGH,normal tag:refund tag:billing rule:3 rule:#12 network:{network.upper()} "
                "intent:question,Complaint", tags=TAGS)
    assert got == QueueFilter(priorities=frozenset({"high", "normal"}), tags=frozenset({"Refund", "billing"}),
                              rule_ids=frozenset({3, 12}), networks=frozenset({network}),
                              intents=frozenset({"question", "complaint"}))
    assert not got.empty


def test_the_canonical_text_parses_back_to_the_same_filter():
    got = parse("intent:praise tag:screen,billing priority:low,high rule:9,2", tags=TAGS)
    assert got.text() == "priority:high,low tag:billing,screen rule:2,9 intent:praise"
    assert parse(got.text(), tags=TAGS) == got


def test_nothing_is_no_filter():
    assert parse("") == QueueFilter() and parse("   ") == QueueFilter()
    assert QueueFilter().empty and QueueFilter().text() == ""


@pytest.mark.parametrize("bad, says", [
    ("priority:urgent", "priority is one of high, normal, low"),
    ("tag:warranty", "`warranty` is not a tag cases carry (billing, Refund, screen)"),
    ("rule:abc", "rule takes a rule number"),
    ("rule:0", "rule takes a rule number"),
    ("rule:99999999999", "rule takes a rule number"),
    ("network:myspace", "network is one of"),
    ("intent:rant", "intent is one of complaint, question, praise, other"),
    ("status:new", "unknown filter `status:`"),
    ("priority:", "`priority:` needs a value"),
    ("priority:high,", "`priority:` needs a value"),
    ("battery", "the queue takes filters only"),
])
def test_a_bad_filter_names_the_token_says_why_and_shows_the_usage(bad, says):
    with pytest.raises(FilterError) as caught:
        parse(f"priority:high {bad}", tags=TAGS)
    message = str(caught.value)
    assert message.startswith(f"`{bad}`: ") and says in message
    assert "Filters: `priority:high|normal|low` `tag:<tag>` `rule:<number>`" in message


def test_hostile_text_is_escaped_and_cut_in_the_error():
    with pytest.raises(FilterError) as caught:
        parse("tag:<!channel>`" + "x" * 80, tags=TAGS)
    message = str(caught.value)
    assert "<!channel>" not in message and "&lt;!channel&gt;'" in message and "…" in message


def test_a_very_long_filter_is_refused_whole():
    with pytest.raises(FilterError, match="the most is 500"):
        parse("priority:high " * 50)
