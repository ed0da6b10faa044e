"""Who may send public replies: named users or user groups, else the case channel's members.

Both checks have two answers. `allowed` / `is_admin` ask Slack when the cached answer is over
CACHE_SECONDS old: for work after an ack. `known` never calls Slack: for a modal's submission,
whose ack must not wait on Slack (a slow or rate-limited API would blow the 3-second deadline);
None there means "not known here", and the work after the ack decides with `allowed`."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

CACHE_SECONDS = 60.0
# How old a cached answer `known` still gives. Opening a modal fills the cache, so its submission
# is answered at once unless it stayed open longer than this or another replica opened it.
KNOWN_FOR_SECONDS = 3600.0

log = logging.getLogger(__name__)


class ReplyPermissions:
    def __init__(self, *, client: WebClient, users: frozenset[str], groups: frozenset[str],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._client = client
        self._users = users
        self._groups = groups
        self._clock = clock
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}  # key -> (when fetched, members)
        self._lock = threading.Lock()

    def allowed(self, user_id: str, channel_id: str) -> bool:
        if self._users or self._groups:
            return user_id in self._users or any(user_id in self._members(f"group:{g}") for g in self._groups)
        return user_id in self._members(f"channel:{channel_id}")

    def known(self, user_id: str, channel_id: str) -> bool | None:
        """`allowed` from what is cached (up to KNOWN_FOR_SECONDS old), without calling Slack; None: not known."""
        if self._users or self._groups:
            if user_id in self._users:
                return True
            groups = [self._cached(f"group:{g}") for g in self._groups]
            if any(members is not None and user_id in members for members in groups):
                return True
            return None if None in groups else False
        members = self._cached(f"channel:{channel_id}")
        return None if members is None else user_id in members

    def _cached(self, key: str, within: float = KNOWN_FOR_SECONDS) -> frozenset[str] | None:
        with self._lock:
            cached = self._cache.get(key)
        return cached[1] if cached and self._clock() - cached[0] < within else None

    def _members(self, key: str) -> frozenset[str]:
        cached = self._cached(key, CACHE_SECONDS)
        if cached is not None:
            return cached
        kind, ident = key.split(":", 1)
        members = self._group_members(ident) if kind == "group" else self._channel_members(ident)
        with self._lock:
            self._cache[key] = (self._clock(), members)
        return members

    def _channel_members(self, channel_id: str) -> frozenset[str]:
        members: set[str] = set()
        cursor = None
        while True:
            page = self._client.conversations_members(channel=channel_id, limit=1000, cursor=cursor)
            members.update(page.get("members") or [])
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return frozenset(members)

    def _group_members(self, group_id: str) -> frozenset[str]:
        return frozenset(self._client.usergroups_users_list(usergroup=group_id).get("users") or [])


class AdminCheck:
    """Who may manage rules, digests and webhooks from Slack.

    SOCIALDESK_ADMINS, plus the workspace's admins and owners (users.info), cached
    for CACHE_SECONDS so App Home and commands stay fast.
    """

    def __init__(self, *, client: WebClient | None, admins: frozenset[str],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._client = client
        self._admins = admins
        self._clock = clock
        self._cache: dict[str, tuple[float, bool]] = {}  # user -> (when asked, admin)
        self._lock = threading.Lock()

    def known(self, user_id: str) -> bool | None:
        """`is_admin` from what is cached (up to KNOWN_FOR_SECONDS old), without calling Slack; None: not known."""
        if user_id in self._admins:
            return True
        if self._client is None or not user_id:
            return False
        return self._cached(user_id, KNOWN_FOR_SECONDS)

    def _cached(self, user_id: str, within: float) -> bool | None:
        with self._lock:
            cached = self._cache.get(user_id)
        return cached[1] if cached and self._clock() - cached[0] < within else None

    def is_admin(self, user_id: str) -> bool:
        if user_id in self._admins:
            return True
        if self._client is None or not user_id:
            return False
        cached = self._cached(user_id, CACHE_SECONDS)
        if cached is not None:
            return cached
        try:
            user = self._client.users_info(user=user_id).get("user") or {}
            answer = bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))
        except Exception as exc:  # noqa: BLE001 - unknown stays "not an admin"; the refusal says whom to ask
            # Said, so an operator sees why an admin was refused (a missing users:read scope, Slack down).
            error = exc.response.get("error") if isinstance(exc, SlackApiError) else type(exc).__name__
            log.warning("could not tell whether %s is a Slack admin (users.info: %s); refused as not one until "
                        "Slack answers", user_id[:40], error)
            return False
        with self._lock:
            self._cache[user_id] = (self._clock(), answer)
        return answer
