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
