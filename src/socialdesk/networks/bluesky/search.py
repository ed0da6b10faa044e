"""Bluesky post search for a rule: `app.bsky.feed.searchPosts`, newest first.

Paging follows `walk` (a floor of what was seen; pages from the top down to it). The
floor also narrows each request with `since` (inclusive, on Bluesky's `sortAt`, the
earlier of createdAt and indexedAt), so a walk usually ends on a page without cursor.

Our rule language → searchPosts:

    words, "a phrase", #tag    kept in `q` (Bluesky matches all words; phrases exactly;
                               a #tag matches the hashtag)
    from:handle                the `author` parameter (kept in `q` when it is the only term)
    @handle                    the first one is the `mentions` parameter (facet mentions
                               only: a handle typed without becoming a mention is not
                               found); any further ones are searched as words
    lang:xx                    the `lang` parameter (Bluesky's idea of the post's
                               language, which may differ from the post's own `langs`)
    -word, -"phrase"           not sent: Bluesky's negation is unspecified, so these are
                               applied by the local re-match (more results, none lost)
    a OR b, (groups)           one search per alternative (`search_queries`: at most 8),
                               walked side by side in one cursor; results merged

Bluesky stems and tokenizes words its own way ("refunds" may find "refund"), which is
why results are matched again locally before they become cases.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from socialdesk.domain import Post
from socialdesk.matcher import And, QueryInvalid, alternatives, parse
from socialdesk.networks.base import CursorExpired, Page, SourceRejected
from socialdesk.networks.bluesky.parse import BadUri, parse_datetime, post_from_view
from socialdesk.networks.bluesky.profiles import Profiles
from socialdesk.networks.bluesky.walk import FLOOR, Item, Listing, Mark, walk_page
from socialdesk.networks.bluesky.xrpc import XrpcClient, as_source_errors, utcnow

log = logging.getLogger(__name__)

SEARCH = "app.bsky.feed.searchPosts"
BRANCHES = "branches"  # the cursor of a rule with OR: one walk per alternative
MAX_SEARCHES = 8
MAX_LIMIT = 100  # searchPosts `limit` maximum
_TOKEN = re.compile(r'-?"[^"]*"?|\S+')
_SINCE_SLACK = timedelta(seconds=1)  # `since` may be compared at second precision


def search_queries(query: str) -> list[str]:
    """The searches that together find every post the rule matches: one per OR alternative.

    Bluesky's search has no OR, so the query is spread out (`acme (refund OR return)` →
    `acme refund`, `acme return`). Exclusions are left to the local match (the poller
    matches every post search returns against the rule, as the stream does).
    """
    try:
        root = parse(query).root
    except QueryInvalid as exc:
        raise SourceRejected(f"the rule's query cannot be read: {exc}") from None

    branches = alternatives(root, limit=MAX_SEARCHES)
    if len(branches) > MAX_SEARCHES:
        raise SourceRejected(f"this query needs more than {MAX_SEARCHES} Bluesky searches (one per OR alternative); "
                             "split it into several rules")
    found = [str(And(b) if len(b) > 1 else b[0]) for b in branches if b]
    return list(dict.fromkeys(found)) or [str(root)]


def translate(query: str) -> tuple[str, dict[str, Any]]:
    """Our rule query → (searchPosts `q`, the other parameters). Raises SourceRejected."""
    words: list[str] = []
    params: dict[str, Any] = {}
    authors: list[str] = []
    for token in _TOKEN.findall(query):
        lower = token.lower()
        if token == "OR":
            raise SourceRejected(
                "Bluesky search has no OR (it requires every word): split this rule into one rule per alternative")
        if token.startswith("-") and len(token) > 1:
            continue  # exclusions are applied locally
        if lower.startswith("from:") and len(token) > 5:
            authors.append(token[5:].lstrip("@"))
        elif lower.startswith("lang:") and len(token) > 5:
            params["lang"] = token[5:].lower()
        elif token.startswith("@") and len(token) > 1 and "mentions" not in params:
            params["mentions"] = token[1:].rstrip(".,;:!?")
        elif token.startswith("@") and len(token) > 1:
            words.append(token[1:])
        else:
            words.append(token)
    if len(authors) > 1:
        raise SourceRejected("Bluesky search takes one from: account; make one rule per account")
    if authors:
        params["author"] = authors[0]
        if not words:
            words.append(f"from:{authors[0]}")  # `q` is required; Bluesky reads from: in it too
    if not words:
        raise SourceRejected(f"the query {query!r} has no words Bluesky can search for; add at least one word")
    return " ".join(words), params


def sort_time(view: dict[str, Any]) -> datetime | None:
    """Bluesky's `sortAt`: the earlier of the record's createdAt and indexedAt."""
    indexed = parse_datetime(view.get("indexedAt"))
    created = parse_datetime((view.get("record") or {}).get("createdAt"))
    times = [t for t in (indexed, created) if t is not None]
    return min(times) if times else None


def _zulu(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def items_of(views: list[Any]) -> list[Item]:
    items = []
    for view in views:
        try:
            when = sort_time(view)
            if when is None:
                raise KeyError("indexedAt")
            items.append(Item(when, post_from_view(view)))
        except (KeyError, TypeError, AttributeError, BadUri) as exc:
            log.warning("skipping a Bluesky post that could not be read (%s): %.200r", exc, view)
    return items


class BlueskySearch:
    """A `Source` for search rules (see the module docstring for the query language)."""

    def __init__(self, xrpc: XrpcClient, *, limit: int = 50, profiles: Profiles | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self._xrpc, self._limit, self._profiles, self._clock = xrpc, min(limit, MAX_LIMIT), profiles, clock

    def fetch(self, query: str, cursor: dict[str, Any] | None) -> Page:
        """One page for the rule; a query with OR walks one search per alternative (`branches`)."""
        queries = search_queries(query)
        if len(queries) == 1:
            return self._fetch_one(queries[0], cursor)
        state = dict((cursor or {}).get(BRANCHES) or {})
        # A plain floor (a gap to fill, or a rule whose query gained an OR) starts every branch.
        shared = {FLOOR: cursor[FLOOR]} if cursor is not None and cursor.get(FLOOR) else None
        pages: dict[str, Page] = {}
        for q in queries:
            try:
                pages[q] = self._fetch_one(q, state.get(q, shared) if cursor is not None else None)
            except CursorExpired as exc:
                restart = {k: v for k, v in state.items() if k in queries} | {q: exc.restart}
                raise CursorExpired(str(exc), restart={BRANCHES: restart}) from exc
        seen: dict[str, Post] = {}
        for page in pages.values():
            for post in page.posts:
                seen.setdefault(post.external_id, post)
        waits = [p.not_before for p in pages.values() if p.not_before is not None]
        return Page(list(seen.values()), {BRANCHES: {q: p.cursor for q, p in pages.items()}},
                    done=all(p.done for p in pages.values()), not_before=max(waits) if waits else None,
                    warnings=[w for p in pages.values() for w in p.warnings])

    def _fetch_one(self, query: str, cursor: dict[str, Any] | None) -> Page:
        q, params = translate(query)

        def list_page(token: str | None, floor: Mark | None) -> Listing:
            request = {"q": q, "sort": "latest", "limit": self._limit, **params}
            if token:
                request["cursor"] = token
            if floor is not None:
                request["since"] = _zulu(floor.at - _SINCE_SLACK)
            response = self._xrpc.get(SEARCH, request)
            views = response.body.get("posts")
            items = items_of(views if isinstance(views, list) else [])
            next_page = response.body.get("cursor")
            return Listing(items, next_page if isinstance(next_page, str) and next_page else None, response.quota)

        with as_source_errors():
            page = walk_page(cursor, list_page, self._clock)
        if self._profiles is not None and page.posts:
            page.posts = self._profiles.complete(page.posts)  # follower counts for the rule filters
        return page
