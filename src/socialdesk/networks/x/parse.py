"""X JSON → our `Post` and `Author` (pure: no I/O).

Shapes are X API v2's (the recordings in refs/x): a page carries `data` (posts),
`includes.users` (their authors, from `expansions=author_id`), `meta` and, beside them,
partial `errors`. Ids are snowflakes: milliseconds since X's epoch shifted left 22 bits,
so an id says when its post was made (`snowflake_time`) and a time is an id
(`snowflake_at`, for since_id). `describe_error` reads either of X's error shapes.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any

from socialdesk.domain import Author, Post
from socialdesk.networks.base import SourceUnavailable
from socialdesk.networks.x.links import post_url

_TWITTER_EPOCH_MS = 1288834974657


def snowflake_time(tweet_id: str) -> datetime:
    """The creation time encoded in an X id (used when `created_at` is absent)."""
    ms = (int(tweet_id) >> 22) + _TWITTER_EPOCH_MS
    return datetime.fromtimestamp(ms / 1000, UTC)


def snowflake_at(when: datetime) -> int:
    """The smallest X id created at `when` (for since_id)."""
    return (int(when.timestamp() * 1000) - _TWITTER_EPOCH_MS) << 22


def parse_time(value: str | None, tweet_id: str) -> datetime:
    if not value:
        return snowflake_time(tweet_id)
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def parse_user(user: dict[str, Any]) -> Author:
    metrics = user.get("public_metrics") or {}
    verified = bool(user.get("verified")) or user.get("verified_type") in {"blue", "business", "government"}
    return Author(
        network="x",
        external_id=str(user["id"]),
        handle=user.get("username") or "",
        name=user.get("name") or user.get("username") or "",
        followers=int(metrics.get("followers_count") or 0),
        verified=verified,
        avatar_url=user.get("profile_image_url"),
        created_at=_account_time(user.get("created_at")),
    )


def _account_time(value: Any) -> datetime | None:
    """When the account was made ("2013-12-14T04:35:55.000Z"); None when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


# X's codes for "no language": undetermined, and posts of only mentions, cashtags, hashtags,
# media links, very short text, or no words (docs: "lang" in the Post object).
_NO_LANGUAGE = frozenset({"und", "qam", "qct", "qht", "qme", "qst", "zxx"})


def _language(value: Any) -> str | None:
    """The post's language as X detected it; None where X could not say (socialdesk guesses it then)."""
    return value if isinstance(value, str) and value and value not in _NO_LANGUAGE else None


def _expand_urls(text: str, entities: dict[str, Any] | None) -> str:
    """Replace t.co links with what they point at, so agents see real links."""
    for url in (entities or {}).get("urls") or []:
        short, expanded = url.get("url"), url.get("expanded_url")
        if short and expanded:
            text = text.replace(short, expanded)
    return text


def parse_tweet(tweet: dict[str, Any], users: dict[str, Author]) -> Post:
    tweet_id = str(tweet["id"])
    author_id = str(tweet.get("author_id") or "")
    author = users.get(author_id) or Author("x", author_id or "unknown", "", "")
    note = tweet.get("note_tweet") or {}
    if note.get("text"):
        text = _expand_urls(note["text"], note.get("entities"))
    else:
        text = _expand_urls(tweet.get("text") or "", tweet.get("entities"))
    refs = {r.get("type"): str(r.get("id")) for r in tweet.get("referenced_tweets") or []}
    metrics = {k: int(v) for k, v in (tweet.get("public_metrics") or {}).items() if isinstance(v, int)}
    return Post(
        network="x",
        external_id=tweet_id,
        url=post_url(author.handle, tweet_id),
        author=author,
        # v2 returns &, < and > HTML-escaped; store the real text, escape on output.
        text=html.unescape(text),
        created_at=parse_time(tweet.get("created_at"), tweet_id),
        lang=_language(tweet.get("lang")),
        conversation_id=str(tweet["conversation_id"]) if tweet.get("conversation_id") else None,
        in_reply_to_id=refs.get("replied_to"),
        is_repost="retweeted" in refs,
        is_reply="replied_to" in refs,
        in_reply_to_account=_answered_handle(tweet),
        metrics=metrics,
        raw=tweet,
    )


def _answered_handle(tweet: dict[str, Any]) -> str | None:
    """Whom a reply answers: X starts a reply with the @ of that account, so it is in the mentions."""
    target = tweet.get("in_reply_to_user_id")
    if not target:
        return None
    for mention in (tweet.get("entities") or {}).get("mentions") or []:
        if str(mention.get("id")) == str(target) and mention.get("username"):
            return str(mention["username"]).lower()
    return None


def parse_search_body(body: Any) -> tuple[list[Post], dict[str, Any], list[str]]:
    """Posts (newest first), `meta`, and the partial errors X put beside `data`.

    SourceUnavailable when the body is not shaped like a page of posts (a proxy's or a
    broken gateway's answer): the poller backs off and asks again, the cursor stays.
    """
    _check_shape(body)
    users = {str(u["id"]): parse_user(u) for u in (body.get("includes") or {}).get("users") or []}
    posts = [parse_tweet(t, users) for t in body.get("data") or []]
    warnings = [describe_error(e) if isinstance(e, dict) else str(e)[:200] for e in body.get("errors") or []]
    return posts, body.get("meta") or {}, warnings


def _not_a_page(what: str) -> SourceUnavailable:
    return SourceUnavailable(f"X answered with a body that is not a page of posts ({what})")


def _check_shape(body: Any) -> None:
    """The cheap checks: the containers are what X's recordings show (deeper fields are parsed as read)."""
    if not isinstance(body, dict):
        raise _not_a_page(f"a JSON {type(body).__name__} where an object belongs")
    data, includes, meta = body.get("data"), body.get("includes"), body.get("meta")
    if data is not None and not (isinstance(data, list) and all(isinstance(t, dict) and "id" in t for t in data)):
        raise _not_a_page("`data` is not a list of posts")
    if includes is not None and not isinstance(includes, dict):
        raise _not_a_page("`includes` is not an object")
    users = (includes or {}).get("users")
    if users is not None and not (isinstance(users, list) and all(isinstance(u, dict) and "id" in u for u in users)):
        raise _not_a_page("`includes.users` is not a list of users")
    if meta is not None and not isinstance(meta, dict):
        raise _not_a_page("`meta` is not an object")
    if not isinstance(body.get("errors") or [], list):
        raise _not_a_page("`errors` is not a list")

def describe_error(error: dict[str, Any]) -> str:
    """One line from either of X's error shapes (problem details or code/message)."""
    title = error.get("title") or error.get("code") or "error"
    detail = error.get("detail") or error.get("message") or ""
    return f"{title}: {detail}".strip(": ")
