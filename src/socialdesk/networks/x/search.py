"""X (Twitter) API v2 recent search, polled the way X documents it.

Polling: the first page of a walk carries `meta.newest_id`; follow `next_token`
until it is absent, then the next walk starts with `since_id` = that newest id.
A walk interrupted between pages resumes from the stored `next_token`, so nothing
is skipped; duplicates are dropped downstream on (network, id).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from socialdesk.domain import Author, Post
from socialdesk.networks.x.links import post_url
from socialdesk.networks.base import (
    BilledReads,
    ConversationWalk,
    CursorExpired,
    Page,
    RateLimited,
    SourceRejected,
    SourceUnavailable,
)

SEARCH_PATH = "/2/tweets/search/recent"
TWEET_FIELDS = (
    "author_id,created_at,conversation_id,lang,public_metrics,referenced_tweets,"
    "in_reply_to_user_id,entities,note_tweet"
)
USER_FIELDS = "name,username,profile_image_url,public_metrics,verified,verified_type,created_at"  # created_at: account age (spam)
MAX_QUERY_LENGTH = 512  # recent search on self-serve plans (network.INFO says the same)
_TWITTER_EPOCH_MS = 1288834974657
# A 429 that names no reset (a proxy or gateway in front of X, not X's own answer):
# wait briefly, then ask again; X's own 429 always carries x-rate-limit-reset.
_DEFAULT_RATE_LIMIT_WAIT = timedelta(seconds=60)
_MAX_RETRY_AFTER = timedelta(minutes=15)  # X's rate-limit window: no sane Retry-After is longer
RECENT_SEARCH_REACH = timedelta(days=7) - timedelta(minutes=10)  # with a margin for clock skew


def snowflake_time(tweet_id: str) -> datetime:
    """The creation time encoded in an X id (used when `created_at` is absent)."""
    ms = (int(tweet_id) >> 22) + _TWITTER_EPOCH_MS
    return datetime.fromtimestamp(ms / 1000, UTC)


def snowflake_at(when: datetime) -> int:
    """The smallest X id created at `when` (for since_id)."""
    return (int(when.timestamp() * 1000) - _TWITTER_EPOCH_MS) << 22


def cursor_since(when: datetime, now: datetime) -> dict[str, Any]:
    """A search cursor for posts since `when` (no further back than recent search reaches)."""
    return {"since_id": str(snowflake_at(max(when, now - RECENT_SEARCH_REACH)))}


def conversation_walks(floors: Mapping[str, int], now: datetime) -> list[ConversationWalk]:
    """As few searches as fit X's query length for new posts in these conversations.

    `floors` maps a conversation id to the newest post id already seen in it.
    Conversations with similar floors share a search. Recent search reaches back 7
    days and refuses an older since_id, so older floors are raised to that.
    """
    oldest = snowflake_at(now - RECENT_SEARCH_REACH)
    walks: list[ConversationWalk] = []
    members: list[str] = []

    def close() -> None:
        since = max(min(floors[c] for c in members), oldest)
        query = " OR ".join(f"conversation_id:{c}" for c in members)
        walks.append(ConversationWalk(query, {"since_id": str(since)}, list(members)))

    for conversation in sorted(floors, key=lambda c: floors[c]):
        clause_length = len(" OR conversation_id:") + len(conversation)
        if members and len(" OR ".join(f"conversation_id:{c}" for c in members)) + clause_length > MAX_QUERY_LENGTH:
            close()
            members = []
        members.append(conversation)
    if members:
        close()
    return walks


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


def json_body(response: httpx.Response) -> Any:
    """The body of a 200 as JSON; SourceUnavailable when it is not (an HTML page from a proxy, a cut-off body)."""
    try:
        return response.json()
    except ValueError:  # JSONDecodeError and UnicodeDecodeError both
        kind = response.headers.get("content-type", "no content type").split(";")[0].strip() or "no content type"
        start = " ".join(response.text[:60].split())
        raise SourceUnavailable(
            f"X answered with a body that is not JSON ({kind}, {len(response.content)} bytes"
            + (f": {start!r}" if start else "") + ")"
        ) from None


def describe_error(error: dict[str, Any]) -> str:
    """One line from either of X's error shapes (problem details or code/message)."""
    title = error.get("title") or error.get("code") or "error"
    detail = error.get("detail") or error.get("message") or ""
    return f"{title}: {detail}".strip(": ")


def error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, dict) and body.get("errors") and not body.get("detail"):
        return "; ".join(describe_error(e) for e in body["errors"])
    if not isinstance(body, dict):
        return str(body)[:200]
    # "Invalid Request" says which parameter only inside `errors`: keep that part.
    inner = "; ".join(e["message"] for e in body.get("errors") or [] if isinstance(e, dict) and e.get("message"))
    return describe_error(body) + (f" ({inner})" if inner else "")


def reset_time(response: httpx.Response, now: datetime) -> datetime:
    """When to ask again: x-rate-limit-reset, else Retry-After (seconds or an HTTP date), else a short wait."""
    reset = (response.headers.get("x-rate-limit-reset") or "").strip()
    if reset.isdigit():
        return datetime.fromtimestamp(int(reset), UTC)
    retry_after = _retry_after(response.headers.get("retry-after"), now)
    if retry_after is not None:
        return retry_after
    return now + _DEFAULT_RATE_LIMIT_WAIT


_reset_time = reset_time  # the name tests/jobs imports


def _retry_after(value: str | None, now: datetime) -> datetime | None:
    """Retry-After as a time (RFC 9110: delay-seconds or an HTTP date), capped at X's window; None if unusable."""
    value = (value or "").strip()
    if not value:
        return None
    if value.isdigit():
        return now + min(timedelta(seconds=int(value)), _MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max(when, now), now + _MAX_RETRY_AFTER)


def start_walk(cursor: dict[str, Any] | None) -> tuple[dict[str, Any], str | None, str | None]:
    """The stored cursor as (a copy, since_id, page token to resume with)."""
    cursor = dict(cursor or {})
    return cursor, cursor.get("since_id"), cursor.get("next_token")


# What X bills (refs/x/docs/pricing.mdx), as network.billing names them: a post read, a user read,
# an owned read (the app owner's own data read with that user's token, not the app's bearer token),
# a post created (a reply), and a post created with a URL in it ("Post: Create (with URL)", dearer).
POST_READ, USER_READ, OWNED_READ, POST_CREATED, POST_CREATED_URL = "post", "user", "owned", "created", "created_url"


def billed_reads(body: Any, *, owned: bool = False) -> list[BilledReads]:
    """What X charges for a page it returned: each post in `data` and each user in `includes`.

    `owned`: the app owner's own data read with that user's own token, billed as owned reads whatever the
    resource (X: "when {id} matches the authenticated user"; the app's bearer token authenticates no user)."""
    posts = tuple(str(t["id"]) for t in body.get("data") or [])
    users = tuple(str(u["id"]) for u in (body.get("includes") or {}).get("users") or [])
    if owned:
        return [BilledReads(OWNED_READ, posts + tuple(f"user:{u}" for u in users))] if posts or users else []
    return [reads for reads in (BilledReads(POST_READ, posts), BilledReads(USER_READ, users)) if reads.ids]


def page_of(response: httpx.Response, cursor: dict[str, Any] | None, *, owned: bool = False) -> Page:
    """One page of a walk (search or timeline), and the cursor that follows it.

    `cursor` None is a new rule: only its newest page is taken; {} walks every page.
    `owned`: the app owner's own data read with that user's token (its reads are billed as owned reads).
    """
    fresh = cursor is None
    cursor, since_id, token = start_walk(cursor)
    body = json_body(response)
    posts, meta, warnings = parse_search_body(body)
    # The first page of a walk names the newest id; remember it until the walk ends.
    newest = cursor.get("pending_newest_id") if token else meta.get("newest_id")
    newest = newest or since_id
    more = meta.get("next_token") if not fresh else None
    if more:
        page_cursor = {"since_id": since_id, "next_token": more, "pending_newest_id": newest}
    else:
        page_cursor = {"since_id": newest}
    return Page(posts=posts, cursor=page_cursor, done=not more, not_before=quota_spent_until(response),
                warnings=warnings, billed=billed_reads(body, owned=owned))


def get(http: httpx.Client, url: str, params: dict[str, Any], headers: dict[str, str], *, what: str) -> httpx.Response:
    """GET from X, turning its failures into the source errors (`what`: "search", …)."""
    return send(http, "GET", url, params, headers, what=what)


def send(http: httpx.Client, method: str, url: str, params: dict[str, Any], headers: dict[str, str], *,
         what: str, body: Any = None, accept: Callable[[httpx.Response], bool] | None = None) -> httpx.Response:
    """A request to X (`body`: sent as JSON), its failures turned into the source errors.

    `accept`: an error answer the caller reads itself (returned, not raised).
    """
    now = datetime.now(UTC)
    try:
        response = http.request(method, url, params=params, headers=headers, json=body)
    except httpx.TimeoutException as exc:
        raise SourceUnavailable(f"X did not answer in time ({type(exc).__name__})") from exc
    except httpx.TransportError as exc:
        raise SourceUnavailable(f"could not reach X: {exc}") from exc
    status = response.status_code
    if status >= 400 and accept is not None and accept(response):
        return response
    if status == 429:
        reset_at = reset_time(response, now)
        raise RateLimited(f"X rate limit reached: {error_text(response)}", reset_at=reset_at, status=status)
    if status >= 500:
        raise SourceUnavailable(f"X answered {status}: {error_text(response)}", status=status)
    if status in (401, 403):
        raise SourceRejected(
            f"X refused the credentials ({status}: {error_text(response)}); "
            "check SOCIALDESK_X_BEARER_TOKEN and the app's access level", status=status
        )
    if status >= 400:
        text = error_text(response)
        if "next_token" in text or "pagination_token" in text:
            raise CursorExpired(f"X refused the stored page token: {text}")
        raise SourceRejected(f"X refused the {what} ({status}): {text}", status=status)
    return response


def get_page(http: httpx.Client, url: str, params: dict[str, Any], headers: dict[str, str], *, what: str,
             since_id: str | None) -> httpx.Response:
    """`get` for a walk: a refused page token restarts the walk from since_id (nothing skipped)."""
    try:
        return get(http, url, params, headers, what=what)
    except CursorExpired as exc:
        raise CursorExpired(str(exc), restart={"since_id": since_id}) from exc


def quota_spent_until(response: httpx.Response) -> datetime | None:
    if response.headers.get("x-rate-limit-remaining") == "0":
        return reset_time(response, datetime.now(UTC))
    return None


def field_params(page_size: int) -> dict[str, Any]:
    """The fields and expansions every X fetch asks for."""
    return {
        "max_results": page_size,
        "expansions": "author_id",
        "tweet.fields": TWEET_FIELDS,
        "user.fields": USER_FIELDS,
    }


class XSource:
    """Recent search with an app bearer token."""

    def __init__(self, *, http: httpx.Client, api_url: str, bearer_token: str, page_size: int = 100) -> None:
        self._http = http
        self._url = api_url.rstrip("/") + SEARCH_PATH
        self._headers = {"Authorization": f"Bearer {bearer_token}"}
        self._page_size = page_size

    def fetch(self, query: str, cursor: dict[str, Any] | None) -> Page:
        _, since_id, next_token = start_walk(cursor)
        params: dict[str, Any] = {"query": query, **field_params(self._page_size)}
        if since_id:
            params["since_id"] = since_id
        if next_token:
            params["next_token"] = next_token
        return page_of(get_page(self._http, self._url, params, self._headers, what="search", since_id=since_id), cursor)
