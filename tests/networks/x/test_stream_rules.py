"""XStream.track keeps X's stream rules in step with ours, against FakeX over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from socialdesk.networks.base import RateLimited, SourceRejected, SourceUnavailable, TrackedRule
from socialdesk.networks.x.fake.server import FakeX
from socialdesk.networks.x.stream import XStream
from socialdesk.networks.x.stream_rules import RULES_PATH, ids_from_tag, tag_for

TOKEN = "sandbox-bearer"


@pytest.fixture
def fake() -> Iterator[FakeX]:
    with FakeX(bearer_token=TOKEN) as server:
        yield server


@pytest.fixture
def stream(fake: FakeX, http: httpx.Client) -> XStream:
    return XStream(http=http, api_url=fake.url, bearer_token=TOKEN)


def search(rule_id: int, query: str) -> TrackedRule:
    return TrackedRule("search", query, rule_id)


def at_x(fake: FakeX) -> dict[str, str]:
    """tag → value of every rule X holds."""
    return {r.get("tag", ""): r["value"] for r in fake.stream_rules}


def rule_calls(fake: FakeX) -> int:
    return len(fake.requests_to(RULES_PATH))


def test_tags_name_our_rule_ids_and_nothing_else() -> None:
    assert tag_for([7, 3, 3]) == "socialdesk:3,7"
    assert ids_from_tag("socialdesk:3,7") == (3, 7)
    assert ids_from_tag("socialdesk:12") == (12,)
    for foreign in ("dog pictures", "", None, "socialdesk:", "socialdesk:3,x", "socialdeskx:1"):
        assert ids_from_tag(foreign) == ()


def test_rules_are_added_tagged_with_their_ids(fake: FakeX, stream: XStream) -> None:
    refused = stream.track([search(1, "acme"), search(2, '"acme phone" -is:retweet'),
                            TrackedRule("mentions", "user:1", 3)])
    assert refused == {}
    assert at_x(fake) == {"socialdesk:1": "acme", "socialdesk:2": '"acme phone" -is:retweet'}


def test_rules_sharing_a_query_share_one_rule_at_x(fake: FakeX, stream: XStream) -> None:
    """X refuses a second rule with the same value: one rule, both ids in its tag."""
    assert stream.track([search(4, "acme"), search(2, "acme")]) == {}
    assert at_x(fake) == {"socialdesk:2,4": "acme"}


def test_a_changed_query_replaces_its_rule_and_a_removed_rule_goes(fake: FakeX, stream: XStream) -> None:
    stream.track([search(1, "acme"), search(2, "broken phone")])
    first = {r["value"]: r["id"] for r in fake.stream_rules}
    stream.track([search(1, "acme"), search(2, "broken screen")])
    assert at_x(fake) == {"socialdesk:1": "acme", "socialdesk:2": "broken screen"}
    assert {r["value"]: r["id"] for r in fake.stream_rules}["acme"] == first["acme"]  # untouched
    stream.track([search(2, "broken screen")])
    assert at_x(fake) == {"socialdesk:2": "broken screen"}
    stream.track([])
    assert fake.stream_rules == []


def test_other_tools_rules_are_never_touched(fake: FakeX, stream: XStream) -> None:
    theirs = [fake.add_stream_rule("dog has:links", "dog pictures"), fake.add_stream_rule("cat")]
    stream.track([search(1, "acme")])
    stream.track([])
    assert fake.stream_rules == theirs


def test_x_is_asked_only_when_the_rules_change(fake: FakeX, stream: XStream) -> None:
    stream.track([search(1, "acme")])
    calls = rule_calls(fake)
    assert stream.track([search(1, "acme")]) == {}
    assert rule_calls(fake) == calls
    stream.track([search(1, "acme"), search(2, "phone")])
    assert rule_calls(fake) > calls


def test_a_rule_already_at_x_is_kept_and_a_second_copy_removed(fake: FakeX, stream: XStream) -> None:
    """Another replica synced first (or twice): ours are reconciled, not duplicated."""
    kept = fake.add_stream_rule("acme", "socialdesk:1")
    fake.add_stream_rule("phone", "socialdesk:2")
    fake._stream_rules["1"] = {"id": "1", "value": "phone", "tag": "socialdesk:2"}  # a copy X kept from a race
    assert stream.track([search(1, "acme"), search(2, "phone")]) == {}
    rules = fake.stream_rules
    assert kept in rules and sorted(r["tag"] for r in rules) == ["socialdesk:1", "socialdesk:2"]


def test_refused_rules_come_back_with_xs_reason(fake: FakeX, stream: XStream) -> None:
    fake.add_stream_rule("acme", "another tool")
    refused = stream.track([search(1, "acme"), search(2, "(broken"), search(3, "a" * 1025),
                            search(4, "nope:thing"), search(5, "phone")])
    assert set(refused) == {1, 2, 3, 4}
    assert "another tag" in refused[1]
    assert refused[2].startswith("X refused the query: ") and "missing ')'" in refused[2]
    assert "too long" in refused[3]
    assert "invalid operator 'nope'" in refused[4]
    assert at_x(fake)["socialdesk:5"] == "phone"
    assert stream.track([search(1, "acme"), search(2, "(broken"), search(3, "a" * 1025),
                         search(4, "nope:thing"), search(5, "phone")]) == refused  # remembered, not asked again


def test_past_the_rule_cap_the_first_rules_are_carried_and_the_rest_refused(fake: FakeX, stream: XStream) -> None:
    fake.stream_rules_max = 3
    fake.add_stream_rule("cat", "another tool")
    refused = stream.track([search(i, f"word{i}") for i in range(1, 5)])
    assert set(refused) == {3, 4}
    assert all("no more rules" in reason and "3 rules" in reason for reason in refused.values())
    assert sorted(at_x(fake)) == ["another tool", "socialdesk:1", "socialdesk:2"]


@pytest.mark.parametrize(("status", "error"), [(401, SourceRejected), (403, SourceRejected),
                                               (429, RateLimited), (503, SourceUnavailable)])
def test_when_x_cannot_be_told_track_raises_and_tries_again_next_time(
        fake: FakeX, stream: XStream, status: int, error: type) -> None:
    fake.fail_next(RULES_PATH, status=status)
    with pytest.raises(error) as raised:
        stream.track([search(1, "acme")])
    if status in (401, 403):
        assert "SOCIALDESK_X_BEARER_TOKEN" in str(raised.value)
    if status == 429:
        assert raised.value.reset_at.timestamp() > 0
    assert stream.track([search(1, "acme")]) == {}
    assert at_x(fake) == {"socialdesk:1": "acme"}


def test_a_wrong_token_is_refused_naming_the_setting(fake: FakeX, http: httpx.Client) -> None:
    wrong = XStream(http=http, api_url=fake.url, bearer_token="not-it")
    with pytest.raises(SourceRejected, match="SOCIALDESK_X_BEARER_TOKEN"):
        wrong.track([search(1, "acme")])
