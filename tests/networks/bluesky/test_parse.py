"""Bluesky JSON → Post/Author, on the live bsky.social recordings (socialdesk.networks.bluesky.parse)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from socialdesk.networks.bluesky.parse import (
    BadRecord,
    BadUri,
    author_from_profile,
    expand_links,
    parse_datetime,
    post_from_notification,
    post_from_record,
    post_from_view,
    post_url,
    profile_url,
    split_at_uri,
)
from tests.support.refs import ref_json


@pytest.fixture(scope="module")
def views() -> list[dict]:
    [recording] = ref_json("bluesky/bskyr-vcr-cassettes/decoded/f_search.json")
    return recording["response_body"]["posts"]


def by_rkey(views: list[dict], rkey: str) -> dict:
    return next(v for v in views if v["uri"].endswith("/" + rkey))


def test_at_uri_helpers() -> None:
    assert split_at_uri("at://did:plc:kkergqgbhb56ptpwj2wenkje/app.bsky.feed.post/3lpk2u6qo222m") == (
        "did:plc:kkergqgbhb56ptpwj2wenkje", "app.bsky.feed.post", "3lpk2u6qo222m")
    for bad in ("https://bsky.app/profile/x/post/y", "at://did:plc:x", "at://did:plc:x/app.bsky.feed.post/"):
        with pytest.raises(BadUri):
            split_at_uri(bad)
    assert post_url("ann.bsky.social", "3lpk") == "https://bsky.app/profile/ann.bsky.social/post/3lpk"
    assert profile_url("@ann.bsky.social") == "https://bsky.app/profile/ann.bsky.social"


def test_every_recorded_search_result_parses(views: list[dict]) -> None:
    posts = [post_from_view(v) for v in views]
    assert len(posts) == 25
    for post, view in zip(posts, views):
        assert post.network == "bluesky"
        assert post.external_id == view["uri"] and post.external_id.startswith("at://")
        assert post.author.external_id == view["author"]["did"]
        assert post.raw["uri"] == view["uri"] and post.raw["cid"] == view["cid"] and post.raw["record"]
        assert post.created_at.tzinfo is not None
        assert post.url == post_url(view["author"]["handle"], view["uri"].rsplit("/", 1)[1])


def test_a_plain_post(views: list[dict]) -> None:
    post = post_from_view(by_rkey(views, "3lpk2r5h5ec2j"))
    assert post.author.handle == "cjtackett.bsky.social"
    assert post.author.name == "Chris Tackett"
    assert post.author.avatar_url.startswith("https://cdn.bsky.app/img/avatar/")
    assert post.lang == "en"
    assert post.created_at == datetime(2025, 5, 19, 17, 8, 27, 677000, tzinfo=UTC)
    assert post.conversation_id == post.external_id and not post.is_reply and post.in_reply_to_id is None
    assert post.metrics == {"like_count": 4, "repost_count": 3, "reply_count": 0, "quote_count": 0}


def test_a_truncated_link_is_shown_in_full(views: list[dict]) -> None:
    view = by_rkey(views, "3lpk2r5h5ec2j")
    assert view["record"]["text"].endswith("open.substack.com/pub/christac...")
    post = post_from_view(view)
    assert post.text.endswith("https://open.substack.com/pub/christackett/p/the-pawn-or-the-collaborator"
                              "?r=92vnq&utm_medium=ios")
    assert post.text.startswith("I dove into the RIDICULOUS op-ed")


def test_a_link_shown_in_full_is_left_alone(views: list[dict]) -> None:
    view = by_rkey(views, "3lpk2u6qo222m")
    assert post_from_view(view).text == view["record"]["text"]


def test_link_text_that_is_not_the_uri_is_kept() -> None:
    text = "read our help page please"
    start = len(b"read our ")
    facet = {"index": {"byteStart": start, "byteEnd": start + len("help page")},
             "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "https://acme.com/help"}]}
    assert expand_links(text, [facet]) == text


def test_expansion_counts_bytes_not_characters() -> None:
    text = "日本 acme.com/he... ok"
    start = len("日本 ".encode())
    facet = {"index": {"byteStart": start, "byteEnd": start + len("acme.com/he...")},
             "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "https://acme.com/help/orders"}]}
    assert expand_links(text, [facet]) == "日本 https://acme.com/help/orders ok"
    broken = {"index": {"byteStart": 1, "byteEnd": 4}, "features": facet["features"]}  # inside 日
    assert expand_links(text, [broken]) == text


def test_replies_carry_root_and_parent(views: list[dict]) -> None:
    replies = [v for v in views if v["record"].get("reply")]
    assert replies
    for view in replies:
        post = post_from_view(view)
        assert post.is_reply
        assert post.conversation_id == view["record"]["reply"]["root"]["uri"]
        assert post.in_reply_to_id == view["record"]["reply"]["parent"]["uri"]


def test_a_quote_post_keeps_its_own_text(views: list[dict]) -> None:
    view = next(v for v in views if (v.get("embed") or {}).get("$type") == "app.bsky.embed.record#view")
    assert post_from_view(view).text == view["record"]["text"]


@pytest.mark.parametrize(("value", "expected"), [
    ("2025-05-19T17:10:09.561858Z", datetime(2025, 5, 19, 17, 10, 9, 561858, tzinfo=UTC)),
    ("2025-05-19T02:03:20.286393+00:00", datetime(2025, 5, 19, 2, 3, 20, 286393, tzinfo=UTC)),
    ("2025-05-19T17:10:09.123456789Z", datetime(2025, 5, 19, 17, 10, 9, 123456, tzinfo=UTC)),
    ("2025-05-19T19:10:09+02:00", datetime(2025, 5, 19, 17, 10, 9, tzinfo=UTC)),
    ("2025-05-19T17:10:09", datetime(2025, 5, 19, 17, 10, 9, tzinfo=UTC)),
    ("yesterday", None),
    (None, None),
])
def test_odd_datetimes(value: object, expected: datetime | None) -> None:
    assert parse_datetime(value) == expected


def test_created_at_falls_back_to_indexed_at(views: list[dict]) -> None:
    view = dict(by_rkey(views, "3lpk2u6qo222m"))
    view["record"] = {**view["record"], "createdAt": "not a date"}
    assert post_from_view(view).created_at == datetime(2025, 5, 19, 17, 10, 9, 813000, tzinfo=UTC)


def test_author_from_a_detailed_profile() -> None:
    author = author_from_profile({"did": "did:plc:a", "handle": "ann.bsky.social", "displayName": "",
                                  "followersCount": 321, "verification": {"verifiedStatus": "valid"}})
    assert (author.external_id, author.handle, author.name, author.followers, author.verified) == (
        "did:plc:a", "ann.bsky.social", "ann.bsky.social", 321, True)
    assert author.network == "bluesky"


def test_post_from_a_jetstream_commit_without_a_known_author() -> None:
    events = [e for e in _golden() if e.get("commit", {}).get("collection") == "app.bsky.feed.post"
              and e["commit"]["operation"] == "create"]
    assert events
    for event in events:
        commit = event["commit"]
        post = post_from_record(did=event["did"], rkey=commit["rkey"], cid=commit["cid"], record=commit["record"],
                                author=None)
        assert post.external_id == f"at://{event['did']}/app.bsky.feed.post/{commit['rkey']}"
        assert post.author.external_id == event["did"] and post.author.handle == ""
        assert post.url == post_url(event["did"], commit["rkey"])
        assert post.raw["cid"] == commit["cid"]
        if commit["record"].get("reply"):
            assert post.in_reply_to_id == commit["record"]["reply"]["parent"]["uri"]


def test_post_from_a_notification() -> None:
    notification = {
        "uri": "at://did:plc:ann/app.bsky.feed.post/3lpk2u6qo222m", "cid": "bafyreia", "reason": "reply",
        "author": {"did": "did:plc:ann", "handle": "ann.bsky.social", "displayName": "Ann"},
        "record": {"$type": "app.bsky.feed.post", "text": "still waiting", "createdAt": "2025-05-19T17:10:09Z",
                   "langs": ["en"], "reply": {"root": {"uri": "at://did:plc:brand/app.bsky.feed.post/3k1", "cid": "c1"},
                                              "parent": {"uri": "at://did:plc:brand/app.bsky.feed.post/3k2", "cid": "c2"}}},
        "isRead": False, "indexedAt": "2025-05-19T17:10:10.000Z", "labels": [],
    }
    post = post_from_notification(notification)
    assert post.text == "still waiting" and post.author.name == "Ann"
    assert post.conversation_id == "at://did:plc:brand/app.bsky.feed.post/3k1"
    assert post.in_reply_to_id == "at://did:plc:brand/app.bsky.feed.post/3k2"
    assert post.raw["record"]["reply"]["root"]["cid"] == "c1"


def _golden() -> list[dict]:
    import json

    from tests.support.refs import REFS
    lines = (REFS / "bluesky/jetstream/internal_subscribe_testdata_golden_v1.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def test_an_authors_account_creation_time_is_read_when_the_profile_has_it(views: list[dict]) -> None:
    author = post_from_view(views[0]).author
    assert author.created_at == parse_datetime(views[0]["author"]["createdAt"])
    assert author.created_at is not None and author.created_at.tzinfo is UTC
    assert author_from_profile({"did": "did:plc:a", "handle": "ann.bsky.social"}).created_at is None


# --- records of the wrong shape: anyone can write any JSON into their repo ---------------------------

_URI = "at://did:plc:ann/app.bsky.feed.post/3lpk2u6qo222m"


def _record(**fields: object) -> dict:
    return {"$type": "app.bsky.feed.post", "text": "acme phone", "createdAt": "2025-05-19T17:10:09Z", **fields}


@pytest.mark.parametrize("record", [
    _record(reply={"root": {"uri": ["x"], "cid": "c"}, "parent": {"uri": ["x"], "cid": "c"}}),  # QA's poison
    _record(reply={"root": {"uri": _URI, "cid": "c"}, "parent": {"uri": {"a": 1}, "cid": "c"}}),
    _record(reply={"root": "at://did:plc:ann/app.bsky.feed.post/3k1", "parent": {"uri": _URI}}),
    _record(reply=["root"]),
    _record(text=["acme"]),
    _record(text=42),
    _record(langs="en"),
], ids=["root-uri-list", "parent-uri-dict", "root-not-a-ref", "reply-list", "text-list", "text-int", "langs-str"])
def test_a_record_whose_fields_have_the_wrong_type_is_refused(record: dict) -> None:
    with pytest.raises(BadRecord):
        post_from_record(did="did:plc:ann", rkey="3lpk2u6qo222m", cid="bafy", record=record, author=None)


def test_a_view_with_a_record_or_cid_of_the_wrong_type_is_refused() -> None:
    view = {"uri": _URI, "cid": "bafy", "author": {"did": "did:plc:ann", "handle": "ann.bsky.social"},
            "record": _record(), "indexedAt": "2025-05-19T17:10:10Z"}
    assert post_from_view(view).text == "acme phone"
    for broken in ({**view, "record": ["x"]}, {**view, "cid": ["x"]}):
        with pytest.raises(BadRecord):
            post_from_view(broken)
    with pytest.raises(BadUri):
        post_from_view({**view, "uri": ["at://x"]})


def test_a_profile_of_the_wrong_shape_only_loses_what_is_wrong() -> None:
    """The profile only decorates the post (and comes from Bluesky's own servers, not the record)."""
    author = author_from_profile({"did": "did:plc:a", "handle": ["ann"], "displayName": {"x": 1},
                                  "followersCount": "many", "verification": "valid", "avatar": 7})
    assert (author.external_id, author.handle, author.name, author.followers, author.verified, author.avatar_url) == (
        "did:plc:a", "", "did:plc:a", 0, False, None)


@pytest.mark.parametrize("facets", [
    {"index": 1}, ["x"], [{"index": "0-4"}], [{"index": {"byteStart": 0, "byteEnd": 4}, "features": "link"}],
    [{"index": {"byteStart": 0, "byteEnd": 4}, "features": ["x"]}],
    [{"index": {"byteStart": 0, "byteEnd": 4},
      "features": [{"$type": "app.bsky.richtext.facet#link", "uri": ["https://acme.example"]}]}],
])
def test_facets_of_the_wrong_shape_are_refused(facets: object) -> None:
    with pytest.raises(BadRecord):
        expand_links("acme phone", facets)  # type: ignore[arg-type]
