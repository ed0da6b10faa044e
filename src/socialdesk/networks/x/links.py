"""Links to X: posts, profiles, threads, and reading the links agents paste (pure)."""

from __future__ import annotations

import re
from urllib.parse import quote, urlencode, urlsplit

STATUS_URL = re.compile(r"^https://(?:www\.|mobile\.)?(?:x|twitter)\.com/([A-Za-z0-9_]{1,15})/status(?:es)?/(\d{1,25})(?:[/?#].*)?$")
HOSTS = {"x.com", "twitter.com", "www.x.com", "www.twitter.com", "mobile.twitter.com", "mobile.x.com"}
_NOT_ACCOUNTS = {"i", "search", "hashtag", "home", "intent", "explore", "settings", "notifications", "messages"}
_STATUS_PATH = re.compile(r"^/[^/]+/status(?:es)?/(\d+)")
# Links that name an account: what `socialdesk forget` must redact besides @handle.
HANDLE_LINK = r"\b(?:x|twitter)\.com/{handle}(?!\w)"


def post_url(handle: str, tweet_id: str) -> str:
    return f"https://x.com/{handle or 'i'}/status/{tweet_id}"


def profile_url(handle: str) -> str:
    return f"https://x.com/{handle}" if handle else ""


def conversation_url(conversation_id: str, fallback: str) -> str:
    """The thread's root, whoever wrote it."""
    if conversation_id and conversation_id.isdigit():
        return f"https://x.com/i/web/status/{conversation_id}"
    return fallback


def intent_url(text: str, in_reply_to: str) -> str:
    """X's reply composer, prefilled (docs.x.com, Post Web Intent): the agent sends it by hand."""
    return f"https://x.com/intent/tweet?{urlencode({'text': text, 'in_reply_to': in_reply_to}, quote_via=quote)}"


def reply_link_id(url: str) -> str | None:
    """The post id in a pasted link to a post (Mark as replied), or None."""
    match = STATUS_URL.match(url.strip())
    return match.group(2) if match else None


def redact_link(url: str) -> str | None:
    """The link without the account it names (…/dana/status/1 → …/i/web/status/1); None: not ours."""
    try:
        parts = urlsplit(url if "://" in url else "https://" + url)
    except ValueError:
        return None
    if parts.hostname not in HOSTS:
        return None
    status = _STATUS_PATH.match(parts.path)
    if status:
        return f"https://x.com/i/web/status/{status.group(1)}"
    first = parts.path.strip("/").split("/", 1)[0]
    if first and first.lower() not in _NOT_ACCOUNTS:
        return "https://x.com/[handle]"
    return url


def is_newer(a: str, b: str) -> bool:
    """X ids are snowflakes: a larger id is a later post."""
    return (int(a) if a.isdigit() else -1) > (int(b) if b.isdigit() else -1)
