"""Bluesky JSON → our `Post` and `Author` (pure: no I/O).

Shapes (see the lexicons): a `postView` (searchPosts, getPosts) carries `uri`, `cid`,
`author` (profileViewBasic), `record` (the app.bsky.feed.post itself), counts and
`indexedAt`; a notification carries `uri`, `cid`, `author`, `reason`, `record`,
`indexedAt`; a Jetstream commit carries only the DID, rkey, cid and record.

A post's id is its `at://did/app.bsky.feed.post/rkey` URI. Its conversation is the
thread root (`record.reply.root.uri`), or the post itself when it starts the thread.
`raw` keeps `uri`, `cid` and `record`: a reply needs the parent's strong ref and root.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from socialdesk.domain import Author, Post

NETWORK = "bluesky"
POST_COLLECTION = "app.bsky.feed.post"
APP_URL = "https://bsky.app"

_ELLIPSIS = ("...", "\u2026")
_SCHEME = re.compile(r"^https?://(www\.)?", re.IGNORECASE)
_FRACTION = re.compile(r"(\.\d{6})\d+")  # nanoseconds: Python keeps microseconds


class BadUri(ValueError):
    """Not an at:// URI of the form at://<did>/<collection>/<rkey>."""


class BadRecord(TypeError):
    """A field we read has the wrong type (anyone can write any JSON into a record): the post is skipped."""


def _optional(value: Any, kind: type, field: str) -> Any:
    """`value` when it is a `kind` or missing (None); else BadRecord naming `field`."""
    if value is not None and not isinstance(value, kind):
        raise BadRecord(f"{field} is a {type(value).__name__}, not a {kind.__name__}")
    return value


def _ref_uri(reply: dict[str, Any], key: str) -> str | None:
    """`reply.<key>.uri` (a strongRef), None when there is none; BadRecord when it is not a string."""
    ref = _optional(reply.get(key), dict, f"reply.{key}") or {}
    return _optional(ref.get("uri"), str, f"reply.{key}.uri") or None


def split_at_uri(uri: str) -> tuple[str, str, str]:
    """`at://did:plc:x/app.bsky.feed.post/3k…` → (did, collection, rkey)."""
    if not isinstance(uri, str) or not uri.startswith("at://"):
        raise BadUri(f"{uri!r} is not an at:// URI")
    parts = uri[len("at://"):].split("/")
    if len(parts) != 3 or not all(parts):
        raise BadUri(f"{uri!r} is not an at://<did>/<collection>/<rkey> URI")
    return parts[0], parts[1], parts[2]


def at_uri(did: str, rkey: str, collection: str = POST_COLLECTION) -> str:
    return f"at://{did}/{collection}/{rkey}"


def post_url(handle_or_did: str, rkey: str) -> str:
    """The post in the Bluesky app (a DID works where the handle is unknown)."""
    return f"{APP_URL}/profile/{handle_or_did}/post/{rkey}"


def profile_url(handle: str) -> str:
    return f"{APP_URL}/profile/{handle.lstrip('@')}"


def parse_datetime(value: Any) -> datetime | None:
    """An AT Protocol datetime, tolerating what clients really send; None if unreadable.

    Seen in the wild: "…561858Z", "…+00:00", "…Z" with 3 digits, nanoseconds, no zone.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    text = _FRACTION.sub(r"\1", value.strip())
    if text.endswith(("z", "Z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)  # the spec requires a zone; assume UTC
    return parsed.astimezone(UTC)


def author_from_profile(profile: dict[str, Any]) -> Author:
    """profileViewBasic / profileView / profileViewDetailed → Author (DID as its id)."""
    # A field of the wrong type reads as absent: the profile only decorates the post.
    did, handle, shown = (_text(profile.get(key)) for key in ("did", "handle", "displayName"))
    if handle == "handle.invalid":
        handle = ""  # Bluesky's placeholder when the handle no longer verifies
    verification = profile.get("verification")
    followers = profile.get("followersCount")
    return Author(
        network=NETWORK,  # type: ignore[arg-type]  # Post/Author.network is becoming a str
        external_id=did,
        handle=handle,
        name=shown or handle or did,
        followers=followers if isinstance(followers, int) and not isinstance(followers, bool) else 0,
        verified=isinstance(verification, dict) and verification.get("verifiedStatus") == "valid",
        avatar_url=_text(profile.get("avatar")) or None,
        created_at=parse_datetime(profile.get("createdAt")),  # optional in the lexicon: the account's age (spam)
    )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def unknown_author(did: str) -> Author:
    """An author known only by DID (Jetstream events): filled in later by Profiles."""
    return Author(network=NETWORK, external_id=did, handle="", name=did)  # type: ignore[arg-type]


def expand_links(text: str, facets: list[dict[str, Any]] | None) -> str:
    """Show shortened link text ("example.com/pa...") as the full URI the facet holds.

    The app truncates long links in the text and keeps the full one in a link facet.
    Only link text that is a shortened form of its URI is replaced: "click here"
    linking elsewhere stays as written.
    """
    data = text.encode("utf-8")
    replacements: list[tuple[int, int, bytes]] = []
    for facet in _optional(facets, list, "facets") or []:
        facet = _optional(facet, dict, "facet") or {}
        index = _optional(facet.get("index"), dict, "facet.index") or {}
        start, end = index.get("byteStart"), index.get("byteEnd")
        if not isinstance(start, int) or not isinstance(end, int) or not 0 <= start < end <= len(data):
            continue
        links = [_optional(f, dict, "facet feature") or {} for f in _optional(facet.get("features"), list,
                                                                               "facet.features") or []]
        uri = next((_optional(f.get("uri"), str, "link uri") for f in links
                    if f.get("$type") == "app.bsky.richtext.facet#link" and f.get("uri")), None)
        if not uri:
            continue
        try:
            shown = data[start:end].decode("utf-8")
        except UnicodeDecodeError:
            continue  # offsets not on character boundaries: leave the text alone
        stem = shown
        for mark in _ELLIPSIS:
            stem = stem.removesuffix(mark)
        bare = _SCHEME.sub("", uri)
        if shown != uri and stem and (uri.startswith(stem) or bare.startswith(_SCHEME.sub("", stem))):
            replacements.append((start, end, uri.encode("utf-8")))
    for start, end, full in sorted(replacements, reverse=True):
        data = data[:start] + full + data[end:]
    return data.decode("utf-8")


def post_from_view(view: dict[str, Any]) -> Post:
    """A postView (searchPosts, getPosts) → Post, with its counts as metrics."""
    author = author_from_profile(view.get("author") or {})
    metrics = {name: int(view[key]) for key, name in (
        ("likeCount", "like_count"), ("repostCount", "repost_count"),
        ("replyCount", "reply_count"), ("quoteCount", "quote_count"),
    ) if isinstance(view.get(key), int)}
    return _post(view["uri"], view.get("cid"), view.get("record"), author,
                 view.get("indexedAt"), metrics, view)


def post_from_record(*, did: str, rkey: str, cid: str | None, record: dict[str, Any],
                     author: Author | None, indexed_at: str | None = None) -> Post:
    """A post record known by its repo and key (a Jetstream commit) → Post."""
    uri = at_uri(did, rkey)
    raw = {"uri": uri, "cid": cid, "record": record}
    if indexed_at:
        raw["indexedAt"] = indexed_at
    return _post(uri, cid, record, author or unknown_author(did), indexed_at, {}, raw)


def post_from_notification(notification: dict[str, Any]) -> Post:
    """A listNotifications entry (mention, reply, quote) → the post that caused it."""
    author = author_from_profile(notification.get("author") or {})
    return _post(notification["uri"], notification.get("cid"), notification.get("record"),
                 author, notification.get("indexedAt"), {}, notification)


def _post(uri: str, cid: str | None, record: dict[str, Any] | None, author: Author,
          indexed_at: str | None, metrics: dict[str, int], raw: dict[str, Any]) -> Post:
    """Raises BadUri or BadRecord: the record is anyone's JSON, and what we keep of it must have the
    types the rest of the app relies on (a list as a conversation id broke the stream for every post)."""
    did, _, rkey = split_at_uri(uri)
    _optional(cid, str, "cid")
    record = _optional(record, dict, "record") or {}
    if not author.external_id:
        author = unknown_author(did)
    reply = _optional(record.get("reply"), dict, "reply") or {}
    root, parent = _ref_uri(reply, "root"), _ref_uri(reply, "parent")
    text = _optional(record.get("text"), str, "text") or ""
    langs = _optional(record.get("langs"), list, "langs") or []
    created = (parse_datetime(record.get("createdAt")) or parse_datetime(indexed_at)
               or datetime.now(UTC))
    raw = dict(raw)
    raw.setdefault("uri", uri)
    raw.setdefault("cid", cid)
    raw.setdefault("record", record)
    return Post(
        network=NETWORK,  # type: ignore[arg-type]
        external_id=uri,
        url=post_url(author.handle or did, rkey),
        author=author,
        text=expand_links(text, record.get("facets")),
        created_at=created,
        lang=langs[0] if langs and isinstance(langs[0], str) else None,
        conversation_id=root or uri,
        in_reply_to_id=parent,
        is_reply=bool(parent),
        metrics=metrics,
        raw=raw,
    )
