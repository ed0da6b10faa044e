"""Forward paging with `min_id`: how hashtag timelines and notifications are read without gaps.

Mastodon lists newest first, but `min_id=X` returns the page *immediately newer* than X
(still newest first), and the answer's Link header names `rel="prev"` with the
`min_id` of the page after it. So a walk starts where the last one stopped and reads
forward until a page comes back short: nothing is skipped, nothing is read twice.

The cursor is just that id. A new walk (no id) reads the newest page only and starts
after it. Ids are snowflakes (`parse.snowflake_at`), so "everything since a time"
is a `min_id` too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from socialdesk.networks.mastodon.api import MastodonApi
from socialdesk.networks.mastodon.parse import is_newer

MAX_LIMIT = 40  # timelines allow 40 (notifications 80): one size for both


@dataclass
class Forward:
    """One page read forward: its entries oldest first, and where the next page starts."""

    items: list[dict[str, Any]]
    min_id: str | None  # the next page's `min_id`: this page's newest id, or the one given
    more: bool  # the page was full: more may follow right after it
    not_before: datetime | None = None  # the rate-limit budget is spent until then


def newest_id(ids: Sequence[str | None]) -> str | None:
    best: str | None = None
    for value in ids:
        if value and value.isdigit() and (best is None or is_newer(value, best)):
            best = value
    return best


def forward_page(api: MastodonApi, path: str, params: Sequence[tuple[str, str]] = (), *,
                 min_id: str | None, limit: int = MAX_LIMIT) -> Forward:
    """The page right after `min_id` (None: the newest page). Raises the api's SourceErrors."""
    query = [*params, ("limit", str(limit))]
    if min_id:
        query.append(("min_id", min_id))
    answer = api.get(path, query)
    listed = answer.json if isinstance(answer.json, list) else []
    entries = [e for e in listed if isinstance(e, Mapping) and isinstance(e.get("id"), str | int)]
    if min_id:  # a server that ignored min_id must not make us read old entries again
        entries = [e for e in entries if is_newer(str(e["id"]), min_id)]
    entries.sort(key=lambda e: int(e["id"]) if str(e["id"]).isdigit() else -1)
    prev = (answer.links.get("prev") or {}).get("min_id")
    following = newest_id([prev, *(str(e["id"]) for e in entries), min_id])
    return Forward([dict(e) for e in entries], following, more=len(listed) >= limit and bool(entries),
                   not_before=answer.not_before)
