"""BlueskyMentions against a running FakeBluesky: mentions, replies and quotes of the brand."""

from __future__ import annotations

import pytest

from socialdesk.networks.base import CursorExpired, SourceUnavailable
from socialdesk.networks.bluesky.mentions import BlueskyMentions
from tests.networks.bluesky.pds_fixtures import *

LIST = "app.bsky.notification.listNotifications"


@pytest.fixture
def ann(fake) -> str:
    return fake.world.add_account("ann.bsky.social", "Ann", followers=5)


@pytest.fixture
def mentions(xrpc, clock) -> BlueskyMentions:
    return BlueskyMentions(xrpc, limit=3, clock=clock)


def say(fake, clock, did: str, text: str, **kwargs) -> str:
    clock.advance(seconds=1)
    return fake.world.add_post(did, text, **kwargs)["uri"]


def walk(source: BlueskyMentions, cursor: dict | None) -> tuple[list[str], dict]:
    uris: list[str] = []
    for _ in range(20):
        page = source.fetch("", cursor)
        uris += [p.external_id for p in page.posts]
        cursor = page.cursor
        if page.done:
            return uris, cursor
    raise AssertionError("the walk never finished")


def test_mentions_replies_and_quotes_become_posts_likes_do_not(fake, clock, ann, mentions) -> None:
    brand = fake.world.brand_did
    ours = say(fake, clock, brand, "We are here to help")
    first = mentions.fetch("", None)
    assert first.posts == []
    mention = say(fake, clock, ann, "hey @brand.bsky.social my parcel is lost")
    reply = say(fake, clock, ann, "still lost", reply_to=ours)
    quote = say(fake, clock, ann, "look at this", quote=ours)
    clock.advance(seconds=1)
    fake.world.like(ann, ours)
    say(fake, clock, ann, "unrelated post")
    uris, _ = walk(mentions, first.cursor)
    assert uris == [quote, reply, mention]
    page_posts = {p.external_id: p for p in mentions.fetch("", None).posts}
    assert page_posts[reply].in_reply_to_id == ours and page_posts[reply].conversation_id == ours
    assert page_posts[mention].author.handle == "ann.bsky.social"
    [request, *_] = fake.requests(LIST)
    assert request.query["reasons"] == ["mention", "reply", "quote"]


def test_walks_resume_and_never_repeat(fake, clock, ann, mentions) -> None:
    first = mentions.fetch("", None)
    batch = [say(fake, clock, ann, f"@brand.bsky.social help {i}") for i in range(7)]
    page = mentions.fetch("", first.cursor)
    assert not page.done and len(page.posts) == 3
    late = [say(fake, clock, ann, f"@brand.bsky.social more {i}") for i in range(2)]
    rest, cursor = walk(mentions, page.cursor)
    assert [p.external_id for p in page.posts] + rest == batch[::-1]
    nxt, cursor = walk(mentions, cursor)
    assert nxt == late[::-1]
    assert walk(mentions, cursor)[0] == []


def test_a_page_of_likes_only_does_not_end_the_walk(fake, clock, ann, xrpc) -> None:
    """When the server ignores `reasons`, a page can hold no mention at all."""
    brand = fake.world.brand_did
    ours = say(fake, clock, brand, "our post")
    source = BlueskyMentions(xrpc, limit=2, clock=clock)
    first = source.fetch("", None)
    wanted = say(fake, clock, ann, "@brand.bsky.social help")
    for _ in range(3):
        clock.advance(seconds=1)
        fake.world.like(fake.world.add_account(f"fan{_}.bsky.social"), ours)
    fake.ignore_reasons = True
    uris, _ = walk(source, first.cursor)
    assert uris == [wanted]


def test_a_refused_cursor_is_cursor_expired(fake, clock, ann, mentions) -> None:
    first = mentions.fetch("", None)
    [say(fake, clock, ann, f"@brand.bsky.social {i}") for i in range(5)]
    page = mentions.fetch("", first.cursor)
    fake.reject_cursors = True
    with pytest.raises(CursorExpired):
        mentions.fetch("", page.cursor)


def test_503_is_unavailable(fake, session, mentions) -> None:
    session.access_token()
    fake.fail(LIST, 503)
    with pytest.raises(SourceUnavailable):
        mentions.fetch("", None)
