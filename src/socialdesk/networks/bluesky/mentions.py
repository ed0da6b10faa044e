"""Posts addressed to the brand account: `app.bsky.notification.listNotifications`.

Only the notifications that are posts are kept: mentions, replies and quotes (the
`reasons` parameter asks for those; the filter is applied again here because older
servers ignore it). Likes, reposts and follows are not cases. Each notification
carries the post's record, so the Post is built from it (`parse.post_from_notification`).

The list is newest first by `indexedAt`; paging follows `walk` (a floor of what was
seen, pages from the top down to it). The rule's query is not sent: notifications are
those of the account the session is signed in as.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from socialdesk.networks.base import Page
from socialdesk.networks.bluesky.parse import (
    BadUri,
    parse_datetime,
    post_from_notification,
)
from socialdesk.networks.bluesky.profiles import Profiles
from socialdesk.networks.bluesky.walk import Item, Listing, Mark, walk_page
from socialdesk.networks.bluesky.xrpc import XrpcClient, as_source_errors, utcnow

log = logging.getLogger(__name__)

LIST_NOTIFICATIONS = "app.bsky.notification.listNotifications"
REASONS = ("mention", "reply", "quote")
MAX_LIMIT = 100


def items_of(notifications: list[Any]) -> list[Item]:
    items = []
    for notification in notifications:
        if not isinstance(notification, dict) or notification.get("reason") not in REASONS:
            continue
        record = notification.get("record") or {}
        if record.get("$type", "app.bsky.feed.post") != "app.bsky.feed.post":
            continue
        when = parse_datetime(notification.get("indexedAt"))
        try:
            if when is None:
                raise KeyError("indexedAt")
            items.append(Item(when, post_from_notification(notification)))
        except (KeyError, TypeError, AttributeError, BadUri) as exc:
            log.warning("skipping a Bluesky notification that could not be read (%s): %.200r", exc, notification)
    return items


def last_entry(notifications: list[Any]) -> tuple[datetime, str] | None:
    """The page's last notification, whatever its reason: where the page reaches down to."""
    for notification in reversed(notifications):
        when = parse_datetime(notification.get("indexedAt")) if isinstance(notification, dict) else None
        if when is not None:
            return when, str(notification.get("uri") or "")
    return None


class BlueskyMentions:
    """A `Source` for mentions rules: mentions, replies and quotes of the brand account."""

    def __init__(self, xrpc: XrpcClient, *, limit: int = 50, profiles: Profiles | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self._xrpc, self._limit, self._profiles, self._clock = xrpc, min(limit, MAX_LIMIT), profiles, clock

    def fetch(self, query: str, cursor: dict[str, Any] | None) -> Page:
        def list_page(token: str | None, floor: Mark | None) -> Listing:
            request: dict[str, Any] = {"limit": self._limit, "reasons": list(REASONS)}
            if token:
                request["cursor"] = token
            response = self._xrpc.get(LIST_NOTIFICATIONS, request)
            notifications = response.body.get("notifications")
            entries = notifications if isinstance(notifications, list) else []
            next_page = response.body.get("cursor")
            # A page may be all likes (filtered out): its last entry, not its last mention,
            # says whether the walk has reached the floor.
            return Listing(items_of(entries), next_page if isinstance(next_page, str) and next_page else None,
                           response.quota, last=last_entry(entries))

        with as_source_errors():
            page = walk_page(cursor, list_page, self._clock)
        if self._profiles is not None and page.posts:
            page.posts = self._profiles.complete(page.posts)
        return page
