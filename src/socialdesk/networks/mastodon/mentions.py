"""Posts that mention the brand account: /api/v1/notifications?types[]=mention, read forward.

A reply to one of the brand's posts mentions it too, so this is also where answers to
our replies arrive. Notifications are the token's account's own: the rule's query is
that account's id (`socialdesk rules add --network mastodon --kind mentions` looks it
up), and a rule naming another account is refused rather than silently fed the
token's mentions.

Cursor: {"min_id": <newest notification id read>} (notification ids, not status ids);
paging follows `walk` (forward with min_id, nothing skipped, nothing twice). A new
rule (cursor None) takes the newest page only. A cursor of a time (`search.cursor_since`,
{"since_id": <snowflake>}) walks down from the newest mention to that time first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from socialdesk.networks.base import Page, SourceRejected
from socialdesk.networks.mastodon.api import (
    TOKEN_SETTING,
    MastodonApi,
    parse_time,
    utcnow,
)
from socialdesk.networks.mastodon.parse import handle_of, snowflake_at, time_of
from socialdesk.networks.mastodon.search import FLOOR, posts_of
from socialdesk.networks.mastodon.threads import Threads
from socialdesk.networks.mastodon.walk import MAX_LIMIT, forward_page, newest_id

NOTIFICATIONS = "/api/v1/notifications"
TYPES = [("types[]", "mention")]


class MastodonMentions:
    """A `Source` for mentions rules of the brand account."""

    def __init__(self, api: MastodonApi, threads: Threads, *, limit: int = MAX_LIMIT,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self._api, self._threads, self._limit, self._clock = api, threads, min(limit, MAX_LIMIT), clock

    def fetch(self, query: str, cursor: dict[str, Any] | None) -> Page:
        self._check_account(query.strip())
        start = (cursor or {}).get("min_id")
        floor = (cursor or {}).get(FLOOR)
        if not isinstance(start, str) and isinstance(floor, str) and floor.isdigit():
            return self._back_to(floor, cursor or {})
        page = forward_page(self._api, NOTIFICATIONS, TYPES, min_id=start if isinstance(start, str) else None,
                            limit=self._limit)
        following = page.min_id or (start if isinstance(start, str) else None)
        return Page(posts_of(_mention_statuses(page.items), self._api, self._threads),
                    {"min_id": following} if following else {FLOOR: snowflake_at(self._clock())},
                    done=not (isinstance(start, str) and page.more), not_before=self._wait(page.not_before))

    def _back_to(self, floor: str, cursor: Mapping[str, Any]) -> Page:
        """Every mention since a time (a stream's gap), newest first with max_id down to that time.

        Notification ids are a sequence of their own, not snowflakes, so a time cannot be a min_id:
        the walk goes down from the newest notification (its id, `top`, is where reading forward
        resumes) until one is older than the time or the list ends.
        """
        since = time_of(floor)
        params = [*TYPES, ("limit", str(self._limit))]
        below = cursor.get("max_id")
        if isinstance(below, str):
            params.append(("max_id", below))
        answer = self._api.get(NOTIFICATIONS, params)
        listed = [n for n in answer.json if isinstance(n, Mapping) and n.get("id")] \
            if isinstance(answer.json, list) else []
        top = cursor.get("top") if isinstance(cursor.get("top"), str) else newest_id([str(n["id"]) for n in listed])
        newer = [n for n in listed if since is None or (parse_time(n.get("created_at")) or since) >= since]
        posts = posts_of(_mention_statuses(newer), self._api, self._threads)
        if len(newer) < len(listed) or len(listed) < self._limit:
            return Page(posts, {"min_id": top} if top else {FLOOR: floor}, done=True,
                        not_before=self._wait(answer.not_before))
        oldest = min((str(n["id"]) for n in listed if str(n["id"]).isdigit()), key=int)
        return Page(posts, {FLOOR: floor, "max_id": oldest, "top": top}, done=False,
                    not_before=self._wait(answer.not_before))

    def _wait(self, answered: datetime | None) -> datetime | None:
        """Until when the budget is spent: by the page's answer, or by the calls made after it."""
        return answered or self._api.spent_until()

    def _check_account(self, account_id: str) -> None:
        me = self._api.me()
        if account_id and str(me.get("id")) != account_id:
            handle = handle_of(str(me.get("acct") or ""), self._api.instance().domain)
            raise SourceRejected(
                f"this mentions rule watches Mastodon account {account_id}, but {TOKEN_SETTING} belongs to "
                f"@{handle} ({me.get('id')}): Mastodon only shows an account its own mentions. Add the rule "
                f"again with `socialdesk rules add --network mastodon --kind mentions --account {handle}`, "
                "or set the token of that account")


def _mention_statuses(notifications: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The statuses of mention notifications (a server ignoring types[] may send follows and likes too)."""
    return [n["status"] for n in notifications
            if n.get("type") == "mention" and isinstance(n.get("status"), Mapping) and n["status"].get("id")]
