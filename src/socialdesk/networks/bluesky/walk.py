"""Newest-first paging down to a floor: the cursor discipline of search and mentions.

Bluesky lists posts and notifications newest first with a best-effort page `cursor`
(searchPosts' is an offset: new posts shift later pages down, deleted ones up). So a
walk reads pages from the top until it reaches what the previous walk already saw:

    cursor = {"since_id": <floor>,   newest mark of the previous walks (what was seen)
              "page": "<token>",     Bluesky's cursor for the next page of this walk
              "top": <mark>,         newest mark of this walk (the next floor)
              "bottom": <mark>}      oldest mark of this walk (drops posts a shift repeats)

A mark is {"at": ISO time, "uris": [the URIs seen at exactly that time]}, so posts
sharing a timestamp are neither skipped nor read twice. When a page token expires the
walk restarts from the floor (CursorExpired.restart): nothing is lost.

A new rule (cursor None), or a cursor without a floor, takes the newest page only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from socialdesk.domain import Post
from socialdesk.networks.base import CursorExpired, Page
from socialdesk.networks.bluesky.parse import parse_datetime
from socialdesk.networks.bluesky.xrpc import Quota, XrpcRejected

FLOOR = "since_id"


@dataclass(frozen=True)
class Item:
    """One listed post with the time its list is sorted by."""

    at: datetime
    post: Post

    @property
    def uri(self) -> str:
        return self.post.external_id


@dataclass(frozen=True)
class Listing:
    """One page as Bluesky gave it: items newest first, the next page's token."""

    items: list[Item]
    next_page: str | None
    quota: Quota
    last: tuple[datetime, str] | None = None  # (time, uri) of the page's last entry, kept or not

    def bottom(self) -> tuple[datetime, str] | None:
        if self.last is not None:
            return self.last
        return (self.items[-1].at, self.items[-1].uri) if self.items else None


@dataclass(frozen=True)
class Mark:
    at: datetime
    uris: frozenset[str]

    @staticmethod
    def load(data: Any) -> Mark | None:
        if not isinstance(data, dict):
            return None
        at = parse_datetime(data.get("at"))
        return Mark(at, frozenset(data.get("uris") or ())) if at else None

    def dump(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "uris": sorted(self.uris)}

    def below(self, item: Item) -> bool:
        """`item` is newer than this mark (not seen when the mark was taken)."""
        return self.newer(item.at, item.uri)

    def newer(self, at: datetime, uri: str) -> bool:
        return at > self.at or (at == self.at and uri not in self.uris)

    def above(self, item: Item) -> bool:
        """`item` is older than this mark (a bottom): not yet read by this walk."""
        return item.at < self.at or (item.at == self.at and item.uri not in self.uris)


def newest(marks: Sequence[Mark | None], items: Sequence[Item]) -> Mark | None:
    return _extreme(marks, items, max)


def oldest(marks: Sequence[Mark | None], items: Sequence[Item]) -> Mark | None:
    return _extreme(marks, items, min)


def _extreme(marks: Sequence[Mark | None], items: Sequence[Item], pick: Callable[..., datetime]) -> Mark | None:
    points = [(m.at, m.uris) for m in marks if m] + [(i.at, frozenset({i.uri})) for i in items]
    if not points:
        return None
    at = pick(p[0] for p in points)
    return Mark(at, frozenset().union(*(uris for when, uris in points if when == at)))


def not_before(quota: Quota) -> datetime | None:
    """When a spent quota allows the next call (None: it is not spent)."""
    return quota.reset_at if quota.spent else None


def cursor_since(when: datetime) -> dict[str, Any]:
    """A walk that reads every post after `when` (filling a stream's gap)."""
    return {FLOOR: Mark(when, frozenset()).dump()}


def walk_page(cursor: dict[str, Any] | None, list_page: Callable[[str | None, Mark | None], Listing],
              now: Callable[[], datetime]) -> Page:
    """The next page of the walk `cursor` describes.

    `list_page(token, floor)` fetches one listing (token None: the top; the floor lets
    the caller narrow the request, e.g. searchPosts' `since`).
    """
    floor = Mark.load((cursor or {}).get(FLOOR))
    if floor is None:  # a new rule: its newest page only, and everything after it next time
        listing = list_page(None, None)
        top = newest([], listing.items) or Mark(now(), frozenset())
        return Page([i.post for i in listing.items], {FLOOR: top.dump()}, done=True,
                    not_before=not_before(listing.quota))
    assert cursor is not None
    token = cursor.get("page") if isinstance(cursor.get("page"), str) else None
    top, bottom = Mark.load(cursor.get("top")), Mark.load(cursor.get("bottom"))
    try:
        listing = list_page(token, floor)
    except XrpcRejected as exc:
        if token is None or exc.status >= 500:
            raise
        raise CursorExpired(f"Bluesky no longer accepts the stored page cursor ({exc.error}: {exc.detail})",
                            restart={FLOOR: cursor[FLOOR]}) from exc
    # Newer than the floor and not already read on an earlier page of this walk.
    fresh = [i for i in listing.items if floor.below(i) and (bottom is None or bottom.above(i))]
    top = newest([top], fresh)
    last = listing.bottom()
    # Only a last entry strictly older than the floor ends the walk: posts sharing the floor's
    # time may be listed in any order, so an unseen one can follow a seen one.
    reached_floor = last is None or last[0] < floor.at
    if reached_floor or not listing.next_page:
        next_floor = newest([floor, top], [])
        assert next_floor is not None
        page_cursor: dict[str, Any] = {FLOOR: next_floor.dump()}
        done = True
    else:
        assert last is not None  # a page whose last entry is newer than the floor
        bottom = oldest([bottom, Mark(last[0], frozenset({last[1]}))], listing.items)
        assert bottom is not None
        page_cursor = {FLOOR: floor.dump(), "page": listing.next_page, "top": (top or floor).dump(),
                       "bottom": bottom.dump()}
        done = False
    return Page([i.post for i in fresh], page_cursor, done=done, not_before=not_before(listing.quota))
