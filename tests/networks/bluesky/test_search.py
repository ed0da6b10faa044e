"""BlueskySearch against a running FakeBluesky: paging, floors, faults, the query language."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from socialdesk.networks.base import (
    CursorExpired,
    RateLimited,
    SourceRejected,
    SourceUnavailable,
)
from socialdesk.networks.bluesky.profiles import Profiles
from socialdesk.networks.bluesky.search import BlueskySearch, translate
from socialdesk.networks.bluesky.session import Session
from socialdesk.networks.bluesky.xrpc import XrpcClient
from tests.networks.bluesky.pds_fixtures import *
from tests.networks.bluesky.pds_fixtures import BRAND, MemoryStore

SEARCH = "app.bsky.feed.searchPosts"


@pytest.fixture
def ann(fake) -> str:
    return fake.world.add_account("ann.bsky.social", "Ann", followers=77)


@pytest.fixture
def search(xrpc, clock) -> BlueskySearch:
    return BlueskySearch(xrpc, limit=3, clock=clock)


def post(fake, clock, did: str, text: str, **kwargs) -> str:
    clock.advance(seconds=1)
    return fake.world.add_post(did, text, **kwargs)["uri"]


def walk(search: BlueskySearch, query: str, cursor: dict | None, max_pages: int = 20) -> tuple[list[str], dict, int]:
    """Fetch pages until the source is caught up: (uris in order, cursor, pages)."""
    uris: list[str] = []
    for pages in range(1, max_pages + 1):
        page = search.fetch(query, cursor)
        uris += [p.external_id for p in page.posts]
        cursor = page.cursor
        if page.done:
            return uris, cursor, pages
    raise AssertionError("the walk never finished")


def test_a_new_rule_takes_only_the_newest_page(fake, clock, ann, search) -> None:
    uris = [post(fake, clock, ann, f"my order {i} is late") for i in range(5)]
    page = search.fetch("order", None)
    assert [p.external_id for p in page.posts] == uris[::-1][:3]
    assert page.done
    assert all(p.network == "bluesky" and p.author.handle == "ann.bsky.social" for p in page.posts)
    [request] = fake.requests(SEARCH)
    assert request.query["sort"] == ["latest"] and request.query["limit"] == ["3"] and request.query["q"] == ["order"]


def test_later_walks_read_every_new_post_once(fake, clock, ann, search) -> None:
    post(fake, clock, ann, "order one")
    first = search.fetch("order", None)
    new = [post(fake, clock, ann, f"order number {i}") for i in range(7)]
    post(fake, clock, ann, "something else entirely")
    uris, cursor, pages = walk(search, "order", first.cursor)
    assert uris == new[::-1]
    assert pages == 3
    again, _, _ = walk(search, "order", cursor)
    assert again == []
    # Each walk narrows the search to what is new.
    assert all("since" in r.query for r in fake.requests(SEARCH)[1:])


def test_an_interrupted_walk_resumes_without_skipping_or_repeating(fake, clock, ann, search) -> None:
    first = search.fetch("order", None)
    older = [post(fake, clock, ann, f"order {i}") for i in range(8)]
    page = search.fetch("order", first.cursor)
    assert not page.done and len(page.posts) == 3
    # Posts arriving mid-walk shift Bluesky's offset cursor: page 2 would repeat page 1's tail.
    arrivals = [post(fake, clock, ann, f"order arrival {i}") for i in range(2)]
    rest, cursor, _ = walk(search, "order", page.cursor)
    seen = [p.external_id for p in page.posts] + rest
    assert seen == older[::-1]
    next_walk, _, _ = walk(search, "order", cursor)
    assert next_walk == arrivals[::-1]


def test_posts_sharing_a_timestamp_are_neither_skipped_nor_repeated(fake, clock, ann, search) -> None:
    first = search.fetch("order", None)
    clock.advance(seconds=1)
    same_time = [fake.world.add_post(ann, f"order {i}")["uri"] for i in range(5)]  # the clock stands still
    uris, cursor, _ = walk(search, "order", first.cursor)
    assert sorted(uris) == sorted(same_time) and len(uris) == 5
    more = [fake.world.add_post(ann, f"order late {i}")["uri"] for i in range(2)]  # still the same instant
    uris, _, _ = walk(search, "order", cursor)
    assert sorted(uris) == sorted(more)


def test_a_refused_cursor_is_cursor_expired_and_the_walk_restarts_from_the_floor(fake, clock, ann, search) -> None:
    first = search.fetch("order", None)
    new = [post(fake, clock, ann, f"order {i}") for i in range(7)]
    page = search.fetch("order", first.cursor)
    fake.reject_cursors = True
    with pytest.raises(CursorExpired) as refused:
        search.fetch("order", page.cursor)
    fake.reject_cursors = False
    # The poller stores the cursor the error names (store.rules.reset_cursor_walk) and walks from it.
    assert refused.value.restart == {"since_id": page.cursor["since_id"]}
    uris, _, _ = walk(search, "order", refused.value.restart)
    assert uris == new[::-1]  # the restart re-reads page one (dedup by id downstream), skips nothing


def test_a_cursor_without_a_floor_takes_the_newest_page(fake, clock, ann, search) -> None:
    [post(fake, clock, ann, f"order {i}") for i in range(5)]
    page = search.fetch("order", {})
    assert len(page.posts) == 3 and page.done and page.cursor.get("since_id")


def test_an_empty_first_walk_still_sets_a_floor(fake, clock, ann, search) -> None:
    first = search.fetch("order", None)
    assert first.posts == [] and first.cursor["since_id"]
    new = [post(fake, clock, ann, f"order {i}") for i in range(4)]
    uris, _, _ = walk(search, "order", first.cursor)
    assert uris == new[::-1]


def test_429_is_rate_limited_with_the_header_reset(fake, clock, ann, search) -> None:
    reset = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)
    fake.limit(SEARCH, 1, reset_at=reset)
    page = search.fetch("order", None)
    assert page.not_before == reset  # the quota is spent: the poller waits for the reset
    with pytest.raises(RateLimited) as limited:
        search.fetch("order", page.cursor)
    assert limited.value.reset_at == reset


@pytest.mark.parametrize("status", [503, 0])
def test_503_and_dropped_connections_are_unavailable(fake, session, search, status) -> None:
    session.access_token()
    fake.fail(SEARCH, status)
    with pytest.raises(SourceUnavailable):
        search.fetch("order", None)


def test_a_bad_query_is_rejected(fake, search) -> None:
    fake.fail(SEARCH, 400, {"error": "BadQueryString", "message": "bad query"})
    with pytest.raises(SourceRejected) as rejected:
        search.fetch("order", None)
    assert not isinstance(rejected.value, CursorExpired)


def test_sign_in_trouble_is_a_source_error(fake, http, clock) -> None:
    session = Session(http=http, store=MemoryStore(), handle=BRAND, app_password="wrong",
                      service_url=fake.url, clock=clock)
    with pytest.raises(SourceRejected) as rejected:
        BlueskySearch(XrpcClient(http, fake.url, session=session), clock=clock).fetch("order", None)
    assert "SOCIALDESK_BLUESKY_APP_PASSWORD" in str(rejected.value)
    fake.fail("com.atproto.server.createSession", 503)
    session = Session(http=http, store=MemoryStore(), handle=BRAND, app_password="x", service_url=fake.url, clock=clock)
    with pytest.raises(SourceUnavailable):
        BlueskySearch(XrpcClient(http, fake.url, session=session), clock=clock).fetch("order", None)


def test_the_query_language_maps_to_search_parameters(fake, clock, ann, search) -> None:
    bob = fake.world.add_account("bob.bsky.social", "Bob")
    wanted = post(fake, clock, ann, "where is my refund @brand.bsky.social", langs=("en",))
    post(fake, clock, bob, "where is my refund @brand.bsky.social")
    post(fake, clock, ann, "where is my refund", langs=("en",))  # no mention
    post(fake, clock, ann, "dónde está mi refund @brand.bsky.social", langs=("es",))
    page = search.fetch('refund from:ann.bsky.social lang:en @brand.bsky.social -spam', None)
    assert [p.external_id for p in page.posts] == [wanted]
    [request] = fake.requests(SEARCH)
    assert request.query["q"] == ["refund"]
    assert request.query["author"] == ["ann.bsky.social"]
    assert request.query["lang"] == ["en"]
    assert request.query["mentions"] == ["brand.bsky.social"]


def test_translate() -> None:
    assert translate('"late delivery" #acme') == ('"late delivery" #acme', {})
    assert translate("from:@ann.bsky.social") == ("from:ann.bsky.social", {"author": "ann.bsky.social"})
    assert translate("refund -scam -\"not me\"") == ("refund", {})
    with pytest.raises(SourceRejected, match="no OR"):
        translate("refund OR return")
    with pytest.raises(SourceRejected, match="one from:"):
        translate("refund from:a.bsky.social from:b.bsky.social")
    with pytest.raises(SourceRejected, match="no words"):
        translate("lang:en -spam")


def test_profiles_fill_in_follower_counts(fake, clock, ann, xrpc) -> None:
    post(fake, clock, ann, "order late")
    page = BlueskySearch(xrpc, profiles=Profiles(xrpc, clock=clock), clock=clock).fetch("order", None)
    [found] = page.posts
    assert found.author.followers == 77 and found.author.handle == "ann.bsky.social"


def test_or_and_groups_become_one_search_per_alternative() -> None:
    from socialdesk.networks.bluesky.search import search_queries

    assert search_queries('acme (refund OR "money back") -spam') == ['acme refund', 'acme "money back"']
    assert search_queries("late OR lost OR (broken screen)") == ["late", "lost", "broken screen"]
    assert search_queries("from:ann.bsky.social lang:en order") == ["from:ann.bsky.social lang:en order"]
    with pytest.raises(SourceRejected, match="more than 8 Bluesky searches"):
        search_queries("(a OR b OR c) (d OR e OR f)")


def test_a_rule_with_or_walks_each_alternative_and_misses_nothing(fake, clock, ann, search) -> None:
    query = "order (late OR lost)"
    first = search.fetch(query, None)  # a new rule: the newest page of each alternative
    assert first.done and {r.query["q"][0] for r in fake.requests(SEARCH)} == {"order late", "order lost"}
    made = [post(fake, clock, ann, f"my order {i} is {'late' if i % 2 else 'lost'}") for i in range(8)]
    post(fake, clock, ann, "my order is fine")  # neither alternative
    uris, cursor, pages = walk(search, query, first.cursor)
    assert sorted(uris) == sorted(made) and len(uris) == len(set(uris)) and pages > 1
    assert walk(search, query, cursor)[0] == []
