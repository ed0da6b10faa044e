"""Who may send public replies: named users or user groups, else the case channel's members."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from slack_sdk import WebClient

CACHE_SECONDS = 60.0


class ReplyPermissions:
    def __init__(self, *, client: WebClient, users: frozenset[str], groups: frozenset[str],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._client = client
        self._users = users
        self._groups = groups
        self._clock = clock
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def allowed(self, user_id: str, channel_id: str) -> bool:
        if self._users or self._groups:
            return user_id in self._users or any(user_id in self._members(f"group:{g}") for g in self._groups)
        return user_id in self._members(f"channel:{channel_id}")

    def _members(self, key: str) -> frozenset[str]:
        with self._lock:
            cached = self._cache.get(key)
            if cached and cached[0] > self._clock():
                return cached[1]
        kind, ident = key.split(":", 1)
        members = self._group_members(ident) if kind == "group" else self._channel_members(ident)
        with self._lock:
            self._cache[key] = (self._clock() + CACHE_SECONDS, members)
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
        self._cache: dict[str, tuple[float, bool]] = {}
        self._lock = threading.Lock()

    def is_admin(self, user_id: str) -> bool:
        if user_id in self._admins:
            return True
        if self._client is None or not user_id:
            return False
        with self._lock:
            cached = self._cache.get(user_id)
            if cached and cached[0] > self._clock():
                return cached[1]
        try:
            user = self._client.users_info(user=user_id).get("user") or {}
            answer = bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))
        except Exception:  # noqa: BLE001 - unknown stays "not an admin"; the refusal says whom to ask
            return False
        with self._lock:
            self._cache[user_id] = (self._clock() + CACHE_SECONDS, answer)
        return answer
