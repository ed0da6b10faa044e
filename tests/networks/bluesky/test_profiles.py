"""Profiles against a running FakeBluesky: batching, caching, degrading, handle resolution."""

from __future__ import annotations

from datetime import timedelta

from socialdesk.networks.bluesky.parse import post_from_record
from socialdesk.networks.bluesky.profiles import Profiles, TtlCache
from tests.networks.bluesky.pds_fixtures import *

GET_PROFILES = "app.bsky.actor.getProfiles"
RESOLVE = "com.atproto.identity.resolveHandle"


def test_dids_are_looked_up_25_per_call_and_cached(fake, xrpc, clock) -> None:
    dids = [fake.world.add_account(f"user{i}.bsky.social", f"User {i}", followers=i) for i in range(60)]
    profiles = Profiles(xrpc, clock=clock)
    authors = profiles.authors(dids)
    assert [authors[d].followers for d in dids] == list(range(60))
    assert authors[dids[3]].handle == "user3.bsky.social" and authors[dids[3]].name == "User 3"
    assert [len(r.query["actors"]) for r in fake.requests(GET_PROFILES)] == [25, 25, 10]
    profiles.authors(dids)
    assert len(fake.requests(GET_PROFILES)) == 3  # cached
    clock.advance(hours=2)
    profiles.authors(dids[:1])
    assert len(fake.requests(GET_PROFILES)) == 4  # expired


def test_failures_degrade_to_the_did_and_are_not_cached(fake, xrpc, session, clock) -> None:
    did = fake.world.add_account("ann.bsky.social", "Ann")
    session.access_token()
    fake.fail(GET_PROFILES, 503)
    profiles = Profiles(xrpc, clock=clock)
    author = profiles.author(did)
    assert (author.external_id, author.handle, author.name) == (did, did, did)
    assert profiles.author(did).handle == "ann.bsky.social"  # asked again, now answered


def test_complete_fills_in_authors_of_stream_posts(fake, xrpc, clock) -> None:
    did = fake.world.add_account("ann.bsky.social", "Ann", followers=9)
    record = {"$type": "app.bsky.feed.post", "text": "hi", "createdAt": "2025-05-19T17:10:09Z"}
    unknown = post_from_record(did=did, rkey="3lpk2u6qo222m", cid="bafy", record=record, author=None)
    nobody = post_from_record(did="did:plc:gone", rkey="3lpk2u6qo222n", cid="bafy", record=record, author=None)
    done = Profiles(xrpc, clock=clock).complete([unknown, nobody])
    assert done[0].author.handle == "ann.bsky.social" and done[0].author.followers == 9
    assert done[0].url == "https://bsky.app/profile/ann.bsky.social/post/3lpk2u6qo222m"
    assert done[1].author.handle == "did:plc:gone"


def test_resolve_handle_is_cached_both_ways(fake, xrpc, clock) -> None:
    did = fake.world.add_account("ann.bsky.social", "Ann")
    profiles = Profiles(xrpc, clock=clock)
    assert profiles.resolve_handle("@Ann.bsky.social") == did
    assert profiles.resolve_handle("ann.bsky.social") == did
    assert profiles.resolve_handle("nobody.bsky.social") is None
    assert profiles.resolve_handle("nobody.bsky.social") is None
    assert [r.query["handle"] for r in fake.requests(RESOLVE)] == [["ann.bsky.social"], ["nobody.bsky.social"]]
    assert "authorization" not in fake.requests(RESOLVE)[0].headers  # a public call
    clock.advance(minutes=10)
    fake.world.add_account("nobody.bsky.social")
    assert profiles.resolve_handle("nobody.bsky.social") is not None


def test_resolve_handle_when_bluesky_is_down_is_none_and_not_cached(fake, xrpc, clock) -> None:
    did = fake.world.add_account("ann.bsky.social", "Ann")
    profiles = Profiles(xrpc, clock=clock)
    fake.fail(RESOLVE, 0)
    assert profiles.resolve_handle("ann.bsky.social") is None
    assert profiles.resolve_handle("ann.bsky.social") == did


def test_the_cache_is_capped(clock) -> None:
    cache: TtlCache[int] = TtlCache(ttl=timedelta(minutes=1), max_size=3, clock=clock)
    for i in range(5):
        cache.put(str(i), i)
    assert len(cache) == 3 and cache.get("0") is None and cache.get("4") == 4
