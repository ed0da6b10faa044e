"""Grapheme counting and facet detection (socialdesk.networks.bluesky.text)."""

from __future__ import annotations

import pytest

from socialdesk.networks.bluesky.text import (
    LINK,
    MAX_GRAPHEMES,
    MENTION,
    TAG,
    facets,
    grapheme_length,
    graphemes_left,
)
from tests.support.refs import ref_json

DIDS = {"alice.bsky.social": "did:plc:alice", "bskyr.bsky.social": "did:plc:5c2r73erhng4bszmxlfdtscf"}


def resolve(handle: str) -> str | None:
    return DIDS.get(handle)


def sliced(text: str, facet: dict) -> str:
    """The text a facet covers, cut from the UTF-8 bytes as Bluesky reads it."""
    index = facet["index"]
    return text.encode("utf-8")[index["byteStart"]:index["byteEnd"]].decode("utf-8")


def feature(facet: dict) -> dict:
    [only] = facet["features"]
    return only


@pytest.mark.parametrize(("text", "expected"), [
    ("hello", 5),
    ("", 0),
    ("\U0001F468\u200D\U0001F469\u200D\U0001F467\u200D\U0001F466", 1),  # family: 4 people joined by ZWJ
    ("\U0001F1EB\U0001F1F7\U0001F1EF\U0001F1F5", 2),  # two flags (regional indicator pairs)
    ("\U0001F3F4\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F", 1),  # England: tag sequence
    ("e\u0301e\u0301", 2),  # letters with combining acute accents
    ("\u0928\u092e\u0938\u094d\u0924\u0947", 3),  # Devanagari "namaste": conjuncts are clusters
    ("日本語のテキスト", 8),  # CJK: one each
    ("\U0001F44D\U0001F3FD", 1),  # thumbs up with a skin tone
    ("1\uFE0F\u20E3", 1),  # keycap
    ("a\r\nb", 3),  # CR LF is one cluster
])
def test_grapheme_length_counts_extended_clusters(text: str, expected: int) -> None:
    assert grapheme_length(text) == expected


def test_graphemes_left_goes_negative_past_the_limit() -> None:
    family = "\U0001F468\u200D\U0001F469\u200D\U0001F467"
    assert graphemes_left(family * 300) == 0
    assert graphemes_left(family * 301) == -1
    assert graphemes_left("hi") == MAX_GRAPHEMES - 2


def test_the_recorded_too_long_message_names_the_same_limit() -> None:
    [recording] = ref_json("bluesky/bskyr-vcr-cassettes/decoded/r_post_errors.json")
    assert f"longer than {MAX_GRAPHEMES} graphemes" in recording["response_body"]["message"]


def test_facet_offsets_are_utf8_bytes_after_multibyte_text() -> None:
    text = "Café 日本 \U0001F468\u200D\U0001F469\u200D\U0001F467 @alice.bsky.social see https://acme.com/help #ayuda"
    found = facets(text, resolve)
    assert [sliced(text, f) for f in found] == ["@alice.bsky.social", "https://acme.com/help", "#ayuda"]
    assert [feature(f) for f in found] == [
        {"$type": MENTION, "did": "did:plc:alice"},
        {"$type": LINK, "uri": "https://acme.com/help"},
        {"$type": TAG, "tag": "ayuda"},
    ]
    # The byte offsets differ from character offsets here: the test would catch a mix-up.
    assert found[0]["index"]["byteStart"] != text.index("@alice")
    assert all(f["$type"] == "app.bsky.richtext.facet" for f in found)


def test_matches_the_recorded_facets_of_a_real_post() -> None:
    recording = ref_json("bluesky/bskyr-vcr-cassettes/decoded/r_post_reply.json")
    record = next(r for r in recording if "getRecord" in r["uri"])["response_body"]["value"]
    found = facets(record["text"], resolve)
    expected = sorted(record["facets"], key=lambda f: f["index"]["byteStart"])
    assert [f["index"] for f in found] == [f["index"] for f in expected]
    assert [feature(f) for f in found] == [f["features"][0] for f in expected]


def test_bare_domains_get_https_and_trailing_punctuation_is_left_out() -> None:
    text = "Try example.com/path, or (https://en.wikipedia.org/wiki/Fish_(disambiguation)). Done."
    found = facets(text, resolve)
    assert [sliced(text, f) for f in found] == [
        "example.com/path", "https://en.wikipedia.org/wiki/Fish_(disambiguation)"]
    assert [feature(f)["uri"] for f in found] == [
        "https://example.com/path", "https://en.wikipedia.org/wiki/Fish_(disambiguation)"]


@pytest.mark.parametrize("text", ["see file.txt", "version v1.2 is out", "mail me@acme.com", "https:// nothing"])
def test_things_that_are_not_links(text: str) -> None:
    assert [f for f in facets(text, resolve) if feature(f)["$type"] == LINK] == []


def test_mentions_only_when_the_handle_resolves() -> None:
    text = "@alice.bsky.social and @nobody.bsky.social and @notahandle and email@alice.bsky.social"
    found = facets(text, resolve)
    assert [sliced(text, f) for f in found] == ["@alice.bsky.social"]


def test_mention_ends_before_trailing_punctuation() -> None:
    text = "thanks @alice.bsky.social."
    [found] = facets(text, resolve)
    assert sliced(text, found) == "@alice.bsky.social"


@pytest.mark.parametrize(("text", "tags"), [
    ("#refund please", ["refund"]),
    ("order #123 is late", []),  # digits only: not a tag
    ("#1stworld problems", ["1stworld"]),
    ("love it #happy!!! and #sad.", ["happy", "sad"]),
    ("no#tag here", []),  # a tag starts a word
    ("全角 ＃タグ です", ["タグ"]),
    ("#" + "a" * 65, []),  # over 64 graphemes
])
def test_hashtags(text: str, tags: list[str]) -> None:
    found = [f for f in facets(text, resolve) if feature(f)["$type"] == TAG]
    assert [feature(f)["tag"] for f in found] == tags
    for facet, tag in zip(found, tags):
        assert sliced(text, facet)[1:] == tag


def test_no_facets_in_plain_text() -> None:
    assert facets("just words, nothing else", resolve) == []
