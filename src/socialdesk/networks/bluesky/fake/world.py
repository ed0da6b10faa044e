"""An in-memory AT Protocol world for tests and the demo: accounts, posts, notifications.

Everything is shaped as Bluesky shapes it (see ../shared/refs/bluesky/lexicons and the
bskyr recordings): post records (`app.bsky.feed.post`), postView, profileViewBasic /
Detailed, notifications. Record keys are real TIDs (13 base32-sortable characters,
microseconds since 1970 and a clock id) and CIDs are real CIDv1 strings
(dag-cbor, sha2-256 of the record's JSON: "bafyrei…").

Every created or deleted post is announced to `subscribe()`d callbacks as a Jetstream
v1 commit event (the shape of jetstream's golden_v1.jsonl), so a fake Jetstream server
can relay it. The brand account is the one whose mentions, replies and quotes become
notifications. Thread-safe: the fake PDS serves it from several threads.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import random
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
_WORD = re.compile(r"#?\w+")
_BARE_WORD = re.compile(r"\w+")
_MENTION = re.compile(r"(?<![^\s(])@([a-zA-Z0-9.-]+[a-zA-Z0-9])")
POST = "app.bsky.feed.post"


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(when: datetime) -> str:
    """Bluesky's datetime format: UTC, milliseconds, "Z"."""
    when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def tid(micros: int, clock_id: int) -> str:
    """A TID: 0, 53 bits of microseconds, 10 bits of clock id, as 13 sortable base32 chars."""
    value = (micros << 10) | (clock_id & 0x3FF)
    return "".join(_TID_ALPHABET[(value >> (60 - 5 * i)) & 31] for i in range(13))


def cid_for(data: Any) -> str:
    """A CIDv1 (dag-cbor, sha2-256) for `data`, in base32 with the "b" prefix."""
    digest = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).digest()
    return "b" + base64.b32encode(bytes([0x01, 0x71, 0x12, 0x20]) + digest).decode().lower().rstrip("=")


@dataclass
class Account:
    did: str
    handle: str
    display_name: str
    followers: int
    password: str | None
    created_at: datetime

    @property
    def avatar(self) -> str:
        return f"https://cdn.bsky.app/img/avatar/plain/{self.did}/{cid_for(self.did)}@jpeg"


@dataclass
class StoredPost:
    uri: str
    cid: str
    did: str
    rkey: str
    record: dict[str, Any]
    indexed_at: datetime
    likes: set[str] = field(default_factory=set)

    @property
    def sort_at(self) -> datetime:
        created = datetime.fromisoformat(self.record["createdAt"])
        return min(created, self.indexed_at)


class World:
    def __init__(self, *, brand_handle: str = "brand.bsky.social", brand_password: str = "brand-app-password",
                 brand_name: str = "Brand Support", clock: Callable[[], datetime] = utcnow) -> None:
        self.clock = clock
        self._lock = threading.RLock()
        self._clock_id = random.Random(brand_handle).randrange(1024)
        self._last_micros = 0
        self.accounts: dict[str, Account] = {}
        self.posts: dict[str, StoredPost] = {}
        self.notifications: list[dict[str, Any]] = []  # oldest first
        self._subscribers: list[Callable[[dict[str, Any]], None]] = []
        self.brand_did = self.add_account(brand_handle, brand_name, followers=1200, password=brand_password)

    # --- accounts ----------------------------------------------------------------------

    def add_account(self, handle: str, display_name: str | None = None, followers: int = 0, *,
                    password: str | None = None) -> str:
        with self._lock:
            did = "did:plc:" + base64.b32encode(hashlib.sha256(handle.encode()).digest()).decode().lower()[:24]
            self.accounts[did] = Account(did, handle.lower(), display_name if display_name is not None else handle,
                                         followers, password, self.clock())
            return did

    def did_of(self, actor: str) -> str | None:
        """The DID an at-identifier (DID or handle) names."""
        with self._lock:
            actor = actor.lstrip("@").lower()
            if actor in self.accounts:
                return actor
            return next((a.did for a in self.accounts.values() if a.handle == actor), None)

    @property
    def brand(self) -> Account:
        return self.accounts[self.brand_did]

    # --- posts -------------------------------------------------------------------------

    def add_post(self, did: str, text: str, *, reply_to: str | None = None, langs: tuple[str, ...] | list[str] = ("en",),
                 facets: list[dict[str, Any]] | None = None, created_at: datetime | None = None,
                 quote: str | None = None) -> dict[str, Any]:
        """Store a post by `did` (as the app would write it) and announce it; returns its refs."""
        record: dict[str, Any] = {"$type": POST, "text": text, "createdAt": iso(created_at or self.clock())}
        if langs:
            record["langs"] = list(langs)
        with self._lock:
            if reply_to:
                parent = self.posts[reply_to]
                root = (parent.record.get("reply") or {}).get("root") or {"uri": parent.uri, "cid": parent.cid}
                record["reply"] = {"root": dict(root), "parent": {"uri": parent.uri, "cid": parent.cid}}
            if quote:
                quoted = self.posts[quote]
                record["embed"] = {"$type": "app.bsky.embed.record", "record": {"uri": quoted.uri, "cid": quoted.cid}}
            record["facets"] = facets if facets is not None else self._mention_facets(text)
            if not record["facets"]:
                del record["facets"]
            return self.create_post(did, record)

    def create_post(self, did: str, record: dict[str, Any]) -> dict[str, Any]:
        """Store a record as it came (createRecord), index it, notify, announce."""
        with self._lock:
            micros = max(int(self.clock().timestamp() * 1_000_000), self._last_micros + 1)
            self._last_micros = micros
            rkey = tid(micros, self._clock_id)
            uri = f"at://{did}/{POST}/{rkey}"
            cid = cid_for(record)
            now = self.clock()
            now = now.replace(microsecond=now.microsecond // 1000 * 1000)  # served with milliseconds
            post = StoredPost(uri, cid, did, rkey, copy.deepcopy(record), now)
            self.posts[uri] = post
            self._notify_brand(post)
            event = {"did": did, "time_us": micros, "kind": "commit",
                     "commit": {"rev": tid(micros + 1, self._clock_id), "operation": "create",
                                "collection": POST, "rkey": rkey, "record": copy.deepcopy(record), "cid": cid}}
        self._announce(event)
        return {"uri": uri, "cid": cid, "did": did, "rkey": rkey, "record": copy.deepcopy(record),
                "indexedAt": iso(post.indexed_at)}

    def delete_post(self, uri: str) -> None:
        with self._lock:
            post = self.posts.pop(uri)
            self.notifications = [n for n in self.notifications if n["uri"] != uri]
            micros = max(int(self.clock().timestamp() * 1_000_000), self._last_micros + 1)
            self._last_micros = micros
            event = {"did": post.did, "time_us": micros, "kind": "commit",
                     "commit": {"rev": tid(micros, self._clock_id), "operation": "delete",
                                "collection": POST, "rkey": post.rkey}}
        self._announce(event)

    def like(self, did: str, uri: str) -> None:
        """`did` likes a post (a "like" notification when the post is the brand's)."""
        with self._lock:
            post = self.posts[uri]
            post.likes.add(did)
            if post.did == self.brand_did:
                like_key = tid(int(self.clock().timestamp() * 1_000_000), self._clock_id)
                self._add_notification(f"at://{did}/app.bsky.feed.like/{like_key}", cid_for([did, uri]), did, "like",
                                       {"$type": "app.bsky.feed.like", "subject": {"uri": uri, "cid": post.cid},
                                        "createdAt": iso(self.clock())}, reason_subject=uri)

    def subscribe(self, callback: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
        """Call `callback(event)` for every commit from now on; returns the unsubscribe function."""
        with self._lock:
            self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback) if callback in self._subscribers else None

    # --- views -------------------------------------------------------------------------

    def profile_view(self, did: str, *, detailed: bool = False) -> dict[str, Any]:
        account = self.accounts[did]
        view: dict[str, Any] = {"did": did, "handle": account.handle, "displayName": account.display_name,
                                "avatar": account.avatar, "viewer": {"muted": False, "blockedBy": False},
                                "labels": [], "createdAt": iso(account.created_at)}
        if detailed:
            mine = sum(1 for p in self.posts.values() if p.did == did)
            view.update({"description": "", "indexedAt": iso(account.created_at), "followersCount": account.followers,
                         "followsCount": 0, "postsCount": mine})
        return view

    def post_view(self, uri: str) -> dict[str, Any] | None:
        with self._lock:
            post = self.posts.get(uri)
            if post is None:
                return None
            replies = sum(1 for p in self.posts.values() if (p.record.get("reply") or {}).get("parent", {}).get("uri") == uri)
            quotes = sum(1 for p in self.posts.values()
                         if ((p.record.get("embed") or {}).get("record") or {}).get("uri") == uri)
            return {"uri": uri, "cid": post.cid, "author": self.profile_view(post.did),
                    "record": copy.deepcopy(post.record), "replyCount": replies, "repostCount": 0,
                    "likeCount": len(post.likes), "quoteCount": quotes, "indexedAt": iso(post.indexed_at),
                    "viewer": {"threadMuted": False, "embeddingDisabled": False}, "labels": []}

    def search(self, q: str, *, author: str | None = None, lang: str | None = None, mentions: str | None = None,
               since: datetime | None = None, until: datetime | None = None) -> list[dict[str, Any]]:
        """searchPosts with sort=latest: every word of `q` (case-insensitive), newest first."""
        phrases = [p.lower() for p in re.findall(r'"([^"]*)"', q)]
        rest = re.sub(r'"[^"]*"', " ", q)
        words = []
        for term in rest.split():
            key, _, value = term.partition(":")
            if value and key.lower() == "from":
                author = author or value
            elif value and key.lower() == "lang":
                lang = lang or value
            elif value and key.lower() in ("mentions", "to"):
                mentions = mentions or value
            else:
                words.extend(_WORD.findall(term.lower()))
        author_did = self.did_of(author) if author else None
        mention_did = self.did_of(mentions) if mentions else None
        with self._lock:
            found = []
            for post in self.posts.values():
                text = post.record.get("text", "").lower()
                tokens = set(_WORD.findall(text)) | set(_BARE_WORD.findall(text))
                if any(w not in tokens for w in words) or any(p not in text for p in phrases):
                    continue
                if author and post.did != author_did:
                    continue
                if lang and lang.lower() not in [x.lower() for x in post.record.get("langs") or []]:
                    continue
                if mentions and mention_did not in _mentioned(post.record):
                    continue
                if (since and post.sort_at < since) or (until and post.sort_at >= until):
                    continue
                found.append(post)
            found.sort(key=lambda p: (p.sort_at, p.uri), reverse=True)
            return [v for p in found if (v := self.post_view(p.uri)) is not None]

    # --- internals ---------------------------------------------------------------------

    def _mention_facets(self, text: str) -> list[dict[str, Any]]:
        facets = []
        for match in _MENTION.finditer(text):
            did = self.did_of(match.group(1))
            if did:
                start = len(text[:match.start()].encode())
                end = len(text[:match.end()].encode())
                facets.append({"$type": "app.bsky.richtext.facet", "index": {"byteStart": start, "byteEnd": end},
                               "features": [{"$type": "app.bsky.richtext.facet#mention", "did": did}]})
        return facets

    def _notify_brand(self, post: StoredPost) -> None:
        if post.did == self.brand_did:
            return
        parent_uri = ((post.record.get("reply") or {}).get("parent") or {}).get("uri")
        parent = self.posts.get(parent_uri or "")
        quoted_uri = ((post.record.get("embed") or {}).get("record") or {}).get("uri")
        quoted = self.posts.get(quoted_uri or "")
        at = post.indexed_at
        if parent is not None and parent.did == self.brand_did:
            self._add_notification(post.uri, post.cid, post.did, "reply", post.record, reason_subject=parent.uri, at=at)
        elif quoted is not None and quoted.did == self.brand_did:
            self._add_notification(post.uri, post.cid, post.did, "quote", post.record, reason_subject=quoted.uri, at=at)
        elif self.brand_did in _mentioned(post.record):
            self._add_notification(post.uri, post.cid, post.did, "mention", post.record, at=at)

    def _add_notification(self, uri: str, cid: str, did: str, reason: str, record: dict[str, Any], *,
                          reason_subject: str | None = None, at: datetime | None = None) -> None:
        notification: dict[str, Any] = {"uri": uri, "cid": cid, "author": self.profile_view(did), "reason": reason,
                                        "record": copy.deepcopy(record), "isRead": False,
                                        "indexedAt": iso(at or self.clock()), "labels": []}
        if reason_subject:
            notification["reasonSubject"] = reason_subject
        self.notifications.append(notification)

    def _announce(self, event: dict[str, Any]) -> None:
        for callback in list(self._subscribers):
            callback(copy.deepcopy(event))


def _mentioned(record: dict[str, Any]) -> set[str]:
    return {f.get("did") for facet in record.get("facets") or [] for f in facet.get("features") or []
            if f.get("$type") == "app.bsky.richtext.facet#mention"}
