"""Who a DID is, and which DID a handle names: cached look-ups that never break a stream.

`app.bsky.actor.getProfiles` answers up to 25 `actors` per call with
profileViewDetailed (handle, display name, avatar, follower count); a Jetstream event
or a search result (profileViewBasic has no follower count) is completed from it.
A look-up that fails leaves the author known by DID alone (handle = the DID): a card
with a DID is better than a stream that stops. Failures are not cached, so the next
batch asks again.

`com.atproto.identity.resolveHandle` turns a handle into a DID for mention facets;
unknown handles are cached too (shorter), so a typo is not looked up on every keystroke.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from socialdesk.domain import Author, Post
from socialdesk.networks.base import NetworkError
from socialdesk.networks.bluesky.parse import (
    NETWORK,
    author_from_profile,
    post_url,
    split_at_uri,
)
from socialdesk.networks.bluesky.xrpc import XrpcClient, XrpcRejected, utcnow

log = logging.getLogger(__name__)

MAX_ACTORS_PER_CALL = 25  # getProfiles `actors` maxLength
V = TypeVar("V")


class TtlCache(Generic[V]):
    """A thread-safe map whose entries expire after `ttl`, oldest dropped past `max_size`."""

    def __init__(self, *, ttl: timedelta, max_size: int, clock: Callable[[], datetime]) -> None:
        self._ttl, self._max, self._clock = ttl, max_size, clock
        self._items: OrderedDict[str, tuple[datetime, V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> V | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            if self._clock() >= item[0]:
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return item[1]

    def __contains__(self, key: str) -> bool:
        return self.get(key) is not None

    def put(self, key: str, value: V, ttl: timedelta | None = None) -> None:
        with self._lock:
            self._items[key] = (self._clock() + (ttl or self._ttl), value)
            self._items.move_to_end(key)
            while len(self._items) > self._max:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


def did_only(did: str) -> Author:
    """An author whose profile could not be read: shown by DID."""
    return Author(network=NETWORK, external_id=did, handle=did, name=did)  # type: ignore[arg-type]


_NO_DID = ""  # cached "this handle names nobody"


class Profiles:
    """Authors by DID (getProfiles) and DIDs by handle (resolveHandle), cached."""

    def __init__(self, xrpc: XrpcClient, *, ttl: timedelta = timedelta(hours=1), max_size: int = 50_000,
                 handle_ttl: timedelta = timedelta(hours=6), unknown_handle_ttl: timedelta = timedelta(minutes=5),
                 clock: Callable[[], datetime] = utcnow) -> None:
        self._xrpc = xrpc
        self._authors: TtlCache[Author] = TtlCache(ttl=ttl, max_size=max_size, clock=clock)
        self._dids: TtlCache[str] = TtlCache(ttl=handle_ttl, max_size=max_size, clock=clock)
        self._unknown_handle_ttl = unknown_handle_ttl

    def lookup(self, dids: Iterable[str]) -> dict[str, Author]:
        """The profiles that could be read, by DID (missing ones are left out)."""
        wanted = list(dict.fromkeys(d for d in dids if d))
        found = {did: author for did in wanted if (author := self._authors.get(did)) is not None}
        missing = [did for did in wanted if did not in found]
        for start in range(0, len(missing), MAX_ACTORS_PER_CALL):
            batch = missing[start:start + MAX_ACTORS_PER_CALL]
            try:
                body = self._xrpc.get("app.bsky.actor.getProfiles", {"actors": batch}).body
            except NetworkError as exc:  # includes sign-in trouble: degrade, never raise
                log.warning("could not read %d Bluesky profile(s): %s", len(batch), exc)
                continue
            for profile in body.get("profiles") or []:
                if isinstance(profile, dict) and profile.get("did"):
                    author = author_from_profile(profile)
                    self._authors.put(author.external_id, author)
                    found[author.external_id] = author
                    if author.handle:
                        self._dids.put(author.handle.lower(), author.external_id)
        return found

    def authors(self, dids: Iterable[str]) -> dict[str, Author]:
        """An Author for every DID: its profile, or the DID alone when it cannot be read."""
        wanted = list(dict.fromkeys(d for d in dids if d))
        found = self.lookup(wanted)
        return {did: found.get(did) or did_only(did) for did in wanted}

    def author(self, did: str) -> Author:
        return self.authors([did])[did]

    def complete(self, posts: Sequence[Post]) -> list[Post]:
        """The posts with full authors (follower counts; handles where events had none)."""
        found = self.lookup(p.author.external_id for p in posts)
        completed = []
        for post in posts:
            author = found.get(post.author.external_id)
            if author is None:
                if post.author.handle:
                    completed.append(post)  # the post's own (basic) profile is better than a DID
                    continue
                author = did_only(post.author.external_id)
            _, _, rkey = split_at_uri(post.external_id)
            completed.append(replace(post, author=author, url=post_url(author.handle or author.external_id, rkey)))
        return completed

    def resolve_handle(self, handle: str) -> str | None:
        """The DID a handle names, or None (no such handle, or Bluesky did not answer)."""
        key = handle.strip().lstrip("@").lower()
        if not key:
            return None
        cached = self._dids.get(key)
        if cached is not None:
            return cached or None
        try:
            did = self._xrpc.get("com.atproto.identity.resolveHandle", {"handle": key}, auth=False).body.get("did")
        except XrpcRejected as exc:  # 400 "Unable to resolve handle": nobody has it
            log.info("Bluesky handle %s does not resolve (%s)", key, exc.error)
            self._dids.put(key, _NO_DID, ttl=self._unknown_handle_ttl)
            return None
        except NetworkError as exc:
            log.warning("could not resolve Bluesky handle %s: %s", key, exc)
            return None  # not cached: it may resolve next time
        if not isinstance(did, str) or not did.startswith("did:"):
            return None
        self._dids.put(key, did)
        return did
