"""Mastodon posts for a search rule: hashtag timelines where the query allows, else full-text search.

A rule's query (socialdesk's language, `socialdesk.matcher`) is spread into its OR
alternatives (`acme (refund OR #acmefail)` → `acme refund`, `acme #acmefail`), at most 8:

    an alternative that requires a hashtag   /api/v1/timelines/tag/:hashtag, read forward with
                                             min_id (`walk`): every post the instance knows with
                                             that tag, whoever wrote it. The reliable intake.
    any other alternative                    /api/v2/search?type=statuses: full-text search,
                                             which finds only posts of accounts that opted in to
                                             being indexed, on instances that run it (Mastodon 4.2+)

Each result is matched again locally with the whole query by the poller (INFO.local_match),
so the tag timeline's extra posts, words the search stems differently and the exclusions
(never sent) are settled the same way as on the stream.

Cursor: {"tags": {tag: {"min_id": id}}, "searches": {q: {"since_id": floor, …}}, "since_id": id}.
A new rule (cursor None) takes each branch's newest page only; a branch the cursor does not
know starts at its shared "since_id" (`cursor_since`: a stream's gap) or, without one, as new.
A search walk pages with `offset` inside (floor, ceiling], the ceiling (now) fixed when it starts, so
posts arriving meanwhile do not shift its pages; the next floor is the newest id it saw.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

from socialdesk.domain import Post
from socialdesk.matcher import (
    FromAuthor,
    Hashtag,
    Lang,
    Mention,
    Phrase,
    QueryInvalid,
    alternatives,
    parse,
)
from socialdesk.networks.base import Page, RateLimited, SourceError, SourceRejected
from socialdesk.networks.mastodon.api import ApiRejected, MastodonApi, utcnow
from socialdesk.networks.mastodon.instance import host_of
from socialdesk.networks.mastodon.parse import (
    check_status,
    handle_of,
    is_newer,
    post_from_status,
    snowflake_at,
)
from socialdesk.networks.mastodon.threads import Threads
from socialdesk.networks.mastodon.walk import MAX_LIMIT, forward_page, newest_id

log = logging.getLogger(__name__)

TAGS, SEARCHES, FLOOR = "tags", "searches", "since_id"
MAX_BRANCHES = 8
INDEXING_WARNING = (
    "Mastodon's keyword search only finds posts from accounts that opted in to being found by search, "
    "and only on instances that run full-text search; posts with a hashtag are all found by a #hashtag rule")


def cursor_since(when: datetime) -> dict[str, Any]:
    """A cursor reading every post after `when` (a stream's gap), in every branch."""
    return {FLOOR: snowflake_at(when)}


def branches(query: str) -> tuple[list[str], list[str]]:
    """(hashtags to read, full-text searches to run) that together find every post `query` matches."""
    try:
        root = parse(query).root
    except QueryInvalid as exc:
        raise SourceRejected(f"the rule's query cannot be read: {exc}") from None

    spread = alternatives(root, limit=MAX_BRANCHES)
    if len(spread) > MAX_BRANCHES:
        raise SourceRejected(f"this query needs more than {MAX_BRANCHES} Mastodon requests (one per OR "
                             "alternative); split it into several rules")
    tags: list[str] = []
    searches: list[str] = []
    for terms in spread:
        # Mastodon's hashtags need a letter: "#2024" is plain text to it, so it is searched for.
        tag = next((t.tag for t in terms if isinstance(t, Hashtag) and not t.tag.isdigit()), None)
        if tag is not None:
            tags.append(tag)
        elif terms:
            searches.append(search_text(terms))
    if not tags and not searches:
        raise SourceRejected(f"the query {query!r} has nothing Mastodon can look for; add a word or a #hashtag")
    return list(dict.fromkeys(tags)), list(dict.fromkeys(searches))


def search_text(terms: tuple[Any, ...]) -> str:
    """One alternative as Mastodon's search `q` (its operators from: and language:, Mastodon 4.2+)."""
    words = []
    for term in terms:
        if isinstance(term, Phrase):
            words.append('"' + " ".join(term.parts) + '"')
        elif isinstance(term, Hashtag):
            words.append("#" + term.tag)
        elif isinstance(term, Mention):
            words.append(term.handle.split("@", 1)[0])  # the text reads @user@server; the name finds it
        elif isinstance(term, FromAuthor):
            words.append("from:" + term.handle)
        elif isinstance(term, Lang):
            words.append("language:" + term.code.split("-", 1)[0])
        else:
            words.append(str(term))
    return " ".join(words)


class MastodonSearch:
    """A `Source` for search rules (the module docstring says how a query is read)."""

    def __init__(self, api: MastodonApi, threads: Threads, *, limit: int = MAX_LIMIT,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self._api, self._threads, self._limit, self._clock = api, threads, min(limit, MAX_LIMIT), clock

    def fetch(self, query: str, cursor: dict[str, Any] | None) -> Page:
        tags, searches = branches(query)
        # Hashtag timelines answer anyone, and an instance takes a wrong token for none: the rule
        # would run as a stranger (no search, nothing private). Check the token once instead.
        self._api.me()
        known = cursor or {}
        shared = known.get(FLOOR) if isinstance(known.get(FLOOR), str) else None
        tag_state = known.get(TAGS) if isinstance(known.get(TAGS), Mapping) else {}
        search_state = known.get(SEARCHES) if isinstance(known.get(SEARCHES), Mapping) else {}
        statuses: dict[str, dict[str, Any]] = {}
        new_tags: dict[str, Any] = {}
        new_searches: dict[str, Any] = {}
        done, waits, warnings = True, [], []
        for tag in tags:
            state = tag_state.get(tag)
            start = state.get("min_id") if isinstance(state, Mapping) else shared
            found, new_tags[tag], tag_done, wait = self._tag_page(tag, start if isinstance(start, str) else None)
            statuses.update((str(s["id"]), s) for s in found)
            done, waits = done and tag_done, waits + [wait]
        for q in searches:
            state = search_state.get(q)
            if not isinstance(state, Mapping):
                state = {FLOOR: shared} if shared else None
            found, new_searches[q], search_done, wait = self._search_page(q, state)
            statuses.update((str(s["id"]), s) for s in found)
            done, waits = done and search_done, waits + [wait]
            if state is None and cursor is None:
                warnings.append(INDEXING_WARNING)
        new_cursor: dict[str, Any] = {}
        if new_tags:
            new_cursor[TAGS] = new_tags
        if new_searches:
            new_cursor[SEARCHES] = new_searches
        posts = self._posts(statuses.values())
        spent = [w for w in [*waits, self._api.spent_until()] if w is not None]  # after the threads were asked
        return Page(posts, new_cursor, done=done,
                    not_before=max(spent) if spent else None, warnings=list(dict.fromkeys(warnings)))

    # --- one hashtag ------------------------------------------------------------------

    def _tag_page(self, tag: str, min_id: str | None) -> tuple[list[dict[str, Any]], dict[str, Any], bool, Any]:
        path = f"/api/v1/timelines/tag/{quote(tag, safe='')}"
        try:
            page = forward_page(self._api, path, min_id=min_id, limit=self._limit)
        except ApiRejected as exc:
            if exc.status != 404:
                raise
            # A tag nobody has used yet does not exist on the instance: nothing to read so far.
            return [], {"min_id": min_id or snowflake_at(self._clock())}, True, None
        following = page.min_id or snowflake_at(self._clock())  # an empty new tag: posts from now on
        return page.items, {"min_id": following}, not (min_id and page.more), page.not_before

    # --- one full-text search ---------------------------------------------------------

    def _search_page(self, q: str, state: Mapping[str, Any] | None) -> tuple[list[dict[str, Any]], dict[str, Any],
                                                                             bool, Any]:
        params: list[tuple[str, str]] = [("q", q), ("type", "statuses"), ("limit", str(self._limit))]
        floor = state.get(FLOOR) if state else None
        floor = floor if isinstance(floor, str) and floor.isdigit() else None
        if floor is None:  # a new rule: the newest results only, and what comes after them next time
            answer = self._api.get("/api/v2/search", params)
            found = _statuses(answer.json)
            return found, {FLOOR: newest_id([str(s["id"]) for s in found]) or snowflake_at(self._clock())}, \
                True, answer.not_before
        assert state is not None
        ceiling = state.get("ceiling") if isinstance(state.get("ceiling"), str) else _ceiling(self._clock())
        offset = state.get("offset") if isinstance(state.get("offset"), int) else 0
        top = state.get("top") if isinstance(state.get("top"), str) else None
        params += [("min_id", floor), ("max_id", str(int(ceiling) + 1))]
        if offset:
            params.append(("offset", str(offset)))
        answer = self._api.get("/api/v2/search", params)
        listed = _statuses(answer.json)
        # Only what lies in the walk's range: a server ignoring min_id/max_id must not bring back old posts.
        found = [s for s in listed if is_newer(str(s["id"]), floor) and not is_newer(str(s["id"]), ceiling)]
        top = newest_id([top, *(str(s["id"]) for s in found)])
        if len(listed) >= self._limit and found:
            return found, {FLOOR: floor, "ceiling": ceiling, "offset": offset + len(listed), "top": top or floor}, \
                False, answer.not_before
        return found, {FLOOR: newest_id([floor, top]) or floor}, True, answer.not_before

    # --- statuses → posts -------------------------------------------------------------

    def _posts(self, statuses: Any) -> list[Post]:
        return posts_of(statuses, self._api, self._threads)


def _ceiling(now: datetime) -> str:
    """The largest id Mastodon can have given a post by `now` (its millisecond's ids included)."""
    return str(int(snowflake_at(now)) + 0xFFFF)


def _statuses(body: Any) -> list[dict[str, Any]]:
    listed = body.get("statuses") if isinstance(body, Mapping) else None
    return [s for s in listed or [] if isinstance(s, Mapping) and isinstance(s.get("id"), str | int)]


def local_domain(api: MastodonApi) -> str:
    """The instance's own domain for local handles; "" while it has not said (each profile's host stands in)."""
    instance = api.instance()
    return instance.domain if instance.reachable else ""


def brand_accounts(api: MastodonApi) -> dict[str, str]:
    """The brand's id → handle, so a reply to it that does not mention it still says whom it answers."""
    try:
        me = api.me()
    except SourceError:
        return {}
    return {str(me["id"]): handle_of(str(me.get("acct") or ""), local_domain(api) or host_of(api.base_url))}


def posts_of(statuses: Any, api: MastodonApi, threads: Threads) -> list[Post]:
    """Statuses → Posts, oldest first, each in its thread's conversation; unreadable ones skipped."""
    statuses = list(statuses)
    if not statuses:
        return []
    host, accounts = local_domain(api), brand_accounts(api)
    posts = []
    for status in sorted(statuses, key=lambda s: int(s["id"]) if str(s.get("id")).isdigit() else -1):
        try:  # one status that cannot be read is skipped; the rest of the page is stored
            check_status(status)  # before its thread is asked for
            shown = status.get("reblog") if isinstance(status.get("reblog"), Mapping) else status
            reset_at = api.spent_until() if threads.known_root(shown) is None else None
            if reset_at is not None:
                # Its thread cannot be asked for now: the page waits for the budget rather than filing the
                # reply under its parent (a case of its own) for good.
                raise RateLimited(f"Mastodon's rate limit is spent until {reset_at.isoformat()}; the page waits "
                                  "for the threads of its replies", reset_at=reset_at)
            posts.append(post_from_status(status, instance_host=host, conversation_id=threads.root_of(shown),
                                          accounts=accounts))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:  # BadStatus is a TypeError; the
            # network's errors (RateLimited above) still stop the page, to be read again
            log.warning("skipping Mastodon status %.40s that could not be read: %s: %.200s",
                        status.get("id"), type(exc).__name__, exc)
    return posts
