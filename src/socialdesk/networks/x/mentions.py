"""X API v2 mentions timeline of our own account: `GET /2/users/:id/mentions`.

A "mentions" rule stores `user:<id>` as its query (the CLI resolves the handle once,
so a renamed account keeps working). Paging and cursors work as for recent search
(see sources.x): `since_id` between walks, `pagination_token` within one.
"""

from __future__ import annotations

from typing import Any

import httpx


from socialdesk.networks.base import Page, SourceRejected
from socialdesk.networks.x.api import get, get_page
from socialdesk.networks.x.search import field_params, page_of, start_walk

MENTIONS_PATH = "/2/users/{id}/mentions"
USER_BY_NAME_PATH = "/2/users/by/username/{username}"
QUERY_PREFIX = "user:"


def mentions_query(user_id: str) -> str:
    return f"{QUERY_PREFIX}{user_id}"


def user_id_of(query: str) -> str:
    """The account id in a mentions rule's query (`user:12345`)."""
    user_id = query.removeprefix(QUERY_PREFIX).strip()
    if not query.startswith(QUERY_PREFIX) or not user_id.isdigit():
        raise SourceRejected(f"a mentions rule needs a query like 'user:12345', not {query!r}; add the rule again")
    return user_id


def lookup_user_id(*, http: httpx.Client, api_url: str, bearer_token: str, handle: str) -> str:
    """The X user id of `handle` (with or without '@'); SourceError when X does not know it."""
    username = handle.lstrip("@")
    url = api_url.rstrip("/") + USER_BY_NAME_PATH.format(username=username)
    response = get(http, url, {}, {"Authorization": f"Bearer {bearer_token}"}, what="user lookup")
    data = response.json().get("data")
    if not data or not data.get("id"):
        raise SourceRejected(f"X has no account @{username}; check the handle")
    return str(data["id"])


class XMentionsSource:
    """Posts that mention our account, with an app bearer token (billed as post and user reads)."""

    def __init__(self, *, http: httpx.Client, api_url: str, bearer_token: str, page_size: int = 100) -> None:
        self._http = http
        self._base = api_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {bearer_token}"}
        self._page_size = max(5, min(page_size, 100))  # the endpoint accepts 5…100

    def fetch(self, query: str, cursor: dict[str, Any] | None) -> Page:
        url = self._base + MENTIONS_PATH.format(id=user_id_of(query))
        _, since_id, token = start_walk(cursor)
        params: dict[str, Any] = field_params(self._page_size)
        if since_id:
            params["since_id"] = since_id
        if token:
            params["pagination_token"] = token  # the timeline's name for search's next_token
        # Not owned reads: X prices the mentions timeline as owned only when `{id}` is the authenticated user
        # (the app's owner, with their user token; refs/x/docs/pricing.mdx). An app bearer token authenticates
        # no user, so its posts and authors are billed as post reads and user reads.
        return page_of(get_page(self._http, url, params, self._headers, what="mentions request", since_id=since_id),
                       cursor)
