"""X (Twitter) API v2 recent search, polled the way X documents it.

Polling: the first page of a walk carries `meta.newest_id`; follow `next_token`
until it is absent, then the next walk starts with `since_id` = that newest id.
A walk interrupted between pages resumes from the stored `next_token`, so nothing
is skipped; duplicates are dropped downstream on (network, id). Recent search refuses
a since_id older than its 7 days: such a cursor (a quiet rule, one stopped for days)
starts a new walk at the oldest id search takes; the poller reports what lay before
as the rule's gap (it knows when the rule last read).

This module holds the search itself (`XSource`), the walk over its pages (`page_of`,
shared with the mentions timeline) and the follow-up searches for conversations;
reading X's JSON is parse.py, the HTTP calls and their errors api.py, what X bills
billing.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from socialdesk.networks.base import ConversationWalk, Page
from socialdesk.networks.x.api import get_page, json_body, quota_spent_until
from socialdesk.networks.x.billing import billed_reads
from socialdesk.networks.x.parse import parse_search_body, snowflake_at, snowflake_time

SEARCH_PATH = "/2/tweets/search/recent"
TWEET_FIELDS = (
    "author_id,created_at,conversation_id,lang,public_metrics,referenced_tweets,"
    "in_reply_to_user_id,entities,note_tweet"
)
USER_FIELDS = "name,username,profile_image_url,public_metrics,verified,verified_type,created_at"  # created_at: account age (spam)
MAX_QUERY_LENGTH = 512  # recent search on self-serve plans (network.INFO says the same)
RECENT_SEARCH_REACH = timedelta(days=7) - timedelta(minutes=10)  # with a margin for clock skew


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


def within_reach(cursor: dict[str, Any] | None, now: datetime) -> dict[str, Any] | None:
    """The cursor, or a new walk from the oldest id recent search takes when its since_id is older (X
    refuses it with a 400). The old walk's page token goes too: it ran from before the window."""
    since = str((cursor or {}).get("since_id") or "")
    if not since.isdigit() or now - snowflake_time(since) <= RECENT_SEARCH_REACH:
        return cursor
    return cursor_since(now - RECENT_SEARCH_REACH, now)


def start_walk(cursor: dict[str, Any] | None) -> tuple[dict[str, Any], str | None, str | None]:
    """The stored cursor as (a copy, since_id, page token to resume with)."""
    cursor = dict(cursor or {})
    return cursor, cursor.get("since_id"), cursor.get("next_token")


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

    def __init__(self, *, http: httpx.Client, api_url: str, bearer_token: str, page_size: int = 100,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._http = http
        self._url = api_url.rstrip("/") + SEARCH_PATH
        self._headers = {"Authorization": f"Bearer {bearer_token}"}
        self._page_size = page_size
        self._clock = clock

    def fetch(self, query: str, cursor: dict[str, Any] | None) -> Page:
        cursor = within_reach(cursor, self._clock())
        _, since_id, next_token = start_walk(cursor)
        params: dict[str, Any] = {"query": query, **field_params(self._page_size)}
        if since_id:
            params["since_id"] = since_id
        if next_token:
            params["next_token"] = next_token
        return page_of(get_page(self._http, self._url, params, self._headers, what="search", since_id=since_id), cursor)
