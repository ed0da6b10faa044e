"""Links to Bluesky posts and profiles, and reading the links agents paste (pure)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from socialdesk.networks.bluesky.parse import POST_COLLECTION, BadUri, at_uri, post_url, split_at_uri

_POST_LINK = re.compile(r"^https://(?:www\.)?bsky\.app/profile/([^/?#]+)/post/([A-Za-z0-9._~:-]{1,512})(?:[/?#].*)?$")
HOSTS = {"bsky.app", "www.bsky.app"}
# Links that name an account: what `socialdesk forget` must redact besides @handle.
HANDLE_LINK = r"\bbsky\.app/profile/{handle}(?![\w.-])"


def conversation_url(conversation_id: str, fallback: str) -> str:
    """The thread's root post (bsky.app takes a DID where the handle would be)."""
    try:
        did, collection, rkey = split_at_uri(conversation_id)
    except BadUri:
        return fallback
    return post_url(did, rkey) if collection == POST_COLLECTION else fallback


def reply_link_id(url: str) -> str | None:
    """The post a pasted bsky.app link names, as an at:// URI (with the handle if the link has one)."""
    match = _POST_LINK.match(url.strip())
    return at_uri(match.group(1), match.group(2)) if match else None


def redact_link(url: str) -> str | None:
    """A bsky.app link without the account it names; None: not a Bluesky link."""
    try:
        parts = urlsplit(url if "://" in url else "https://" + url)
    except ValueError:
        return None
    if parts.hostname not in HOSTS:
        return None
    if parts.path.startswith("/profile/"):
        return "https://bsky.app/profile/[handle]"
    return url


def _rkey(uri: str) -> str:
    try:
        return split_at_uri(uri)[2]
    except BadUri:
        return ""


def is_newer(a: str, b: str) -> bool:
    """Post rkeys are TIDs: base32-sortable timestamps, so a later post has a larger rkey."""
    return _rkey(a) > _rkey(b)
