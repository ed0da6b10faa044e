"""The demo workspace's state and its Slack Web API methods (in memory, thread-safe).

Shapes follow Slack's answers (and the `emulate` emulator the tests use):
`{"ok": true, ...}` or `{"ok": false, "error": "..."}`. Everything the page shows
is read from here; every change bumps `version` and wakes the page's long polls.
Messages (chat.*), files and views are mixed in from `workspace_chat`, `workspace_files`
and `workspace_views`; conversations, users and the dispatch (`call`) are here.
"""

from __future__ import annotations

import copy
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from socialdesk.demo.identity import APP_ID, BOT_ID, BOT_NAME, BOT_USER_ID, ApiError
from socialdesk.demo.workspace_chat import ChatApi
from socialdesk.demo.workspace_files import FilesApi
from socialdesk.demo.workspace_views import ViewsApi

__all__ = ["APP_ID", "BOT_ID", "BOT_NAME", "BOT_USER_ID", "ApiError", "WorkspaceState"]

TRIGGER_TTL = 3.0  # seconds, like Slack


@dataclass
class Channel:
    id: str
    name: str
    members: list[str]
    is_im: bool = False
    im_user: str | None = None
    messages: list[dict] = field(default_factory=list)  # every message, oldest first (incl. thread replies)


def _as_json(value: Any) -> Any:
    """Form bodies carry blocks/metadata/view as JSON strings."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _truthy(value: Any) -> bool:
    return value in (True, 1, "1", "true", "True")


class WorkspaceState(ChatApi, FilesApi, ViewsApi):
    def __init__(self, *, team_name: str, users: tuple[str, ...] | list[str], channels: tuple[str, ...] | list[str],
                 domain: str = "acme-phones") -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.version = 0
        self.team_id = "T0DEMO0001"
        self.team_name = team_name
        self.domain = domain
        self.bot_token = "xoxb-demo-" + uuid.uuid4().hex[:16]
        self.users: dict[str, dict] = {}
        for i, name in enumerate(users):
            uid = f"U0{name.upper().replace('-', '')[:6]}{i + 1:02d}"
            self.users[uid] = self._user(uid, name, is_bot=False)
        self.users[BOT_USER_ID] = self._user(BOT_USER_ID, BOT_NAME, is_bot=True)
        self.channels: dict[str, Channel] = {}
        humans = [u for u in self.users if u != BOT_USER_ID]
        for i, name in enumerate(channels):
            cid = f"C0{name.upper().replace('-', '')[:6]}{i + 1:02d}"
            self.channels[cid] = Channel(id=cid, name=name, members=[*humans, BOT_USER_ID])
        for i, uid in enumerate(humans):
            did = f"D0{uid[2:8]}{i + 1:02d}"
            self.channels[did] = Channel(id=did, name=uid, members=[uid, BOT_USER_ID], is_im=True, im_user=uid)
        self.ephemerals: list[dict] = []  # {channel, user, ts, text, blocks, thread_ts?, from_command?}
        self.views: dict[str, dict] = {}  # view id -> full view
        self.modal_stacks: dict[str, list[str]] = {}  # user -> view ids, bottom first
        self.home: dict[str, str] = {}  # user -> view id
        self.triggers: dict[str, tuple[str, float]] = {}  # trigger id -> (user, issued at)
        self.used_triggers: set[str] = set()
        self.last_ts = 0.0
        self.log: list[dict] = []  # what was sent to the app and how it answered (newest last)
        self.local_pages: list[tuple[str, str]] = []  # (label, url): the local networks' pages, linked from the page
        self.base_url = "http://127.0.0.1"  # where people and the app reach it; the Workspace sets it once bound
        self._init_files()

    # --- helpers ---------------------------------------------------------------------------

    def _user(self, uid: str, name: str, *, is_bot: bool) -> dict:
        real = name.capitalize() if not is_bot else name
        return {
            "id": uid, "team_id": self.team_id, "name": name, "deleted": False, "real_name": real,
            "tz": "Europe/London", "tz_label": "British Summer Time", "tz_offset": 3600,
            "profile": {"real_name": real, "display_name": name, "email": None if is_bot else f"{name}@acme-phones.test",
                        "image_48": "", "team": self.team_id},
            "is_admin": False, "is_owner": False, "is_bot": is_bot, "is_app_user": False,
            "updated": int(time.time()),
        } | ({"profile": {"real_name": real, "display_name": name, "bot_id": BOT_ID, "api_app_id": APP_ID,
                          "team": self.team_id}} if is_bot else {})

    def touch(self) -> None:
        with self.changed:
            self.version += 1
            self.changed.notify_all()

    def wait(self, since: int, timeout: float) -> int:
        with self.changed:
            if self.version <= since:
                self.changed.wait(timeout)
            return self.version

    def next_ts(self) -> str:
        with self.lock:
            now = max(time.time(), self.last_ts + 0.000001)
            self.last_ts = now
            return f"{now:.6f}"

    def user_id(self, name: str) -> str:
        for uid, user in self.users.items():
            if user["name"] == name or uid == name:
                return uid
        raise KeyError(name)

    def channel_id(self, name: str) -> str:
        name = name.lstrip("#")
        for cid, ch in self.channels.items():
            if cid == name or (ch.name == name and not ch.is_im):
                return cid
        raise KeyError(name)

    def dm_of(self, user_id: str) -> Channel:
        for ch in self.channels.values():
            if ch.is_im and ch.im_user == user_id:
                return ch
        raise ApiError("channel_not_found")

    def _channel(self, ref: Any, *, allow_user: bool = False) -> Channel:
        if not ref:
            raise ApiError("channel_not_found")
        ref = str(ref)
        if allow_user and ref in self.users and ref != BOT_USER_ID:
            return self.dm_of(ref)
        try:
            return self.channels[self.channel_id(ref)]
        except KeyError:
            raise ApiError("channel_not_found") from None

    def _find(self, ch: Channel, ts: Any) -> dict:
        for m in ch.messages:
            if m["ts"] == str(ts):
                return m
        raise ApiError("message_not_found")

    def issue_trigger(self, user_id: str) -> str:
        trigger = f"{int(time.time())}.{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex}"
        with self.lock:
            self.triggers[trigger] = (user_id, time.time())
        return trigger

    def _use_trigger(self, trigger: Any) -> str:
        with self.lock:
            issued = self.triggers.pop(str(trigger or ""), None)
            if issued is None:
                raise ApiError("exchanged_trigger_id" if str(trigger) in self.used_triggers else "invalid_trigger_id")
            self.used_triggers.add(str(trigger))
        user, at = issued
        if time.time() - at > TRIGGER_TTL:
            raise ApiError("expired_trigger_id")
        return user

    # --- the Web API -----------------------------------------------------------------------

    def call(self, method: str, params: dict[str, Any], token: str | None) -> dict:
        handler = getattr(self, "api_" + method.replace(".", "_"), None)
        if handler is None:
            return {"ok": False, "error": "unknown_method", "req_method": method}
        if not token:
            return {"ok": False, "error": "not_authed"}
        if token != self.bot_token:
            return {"ok": False, "error": "invalid_auth"}
        params = {k: _as_json(v) if k in ("blocks", "attachments", "metadata", "view", "files") else v
                  for k, v in params.items()}
        try:
            with self.lock:
                result = handler(params)
        except ApiError as exc:
            return {"ok": False, "error": exc.error, **exc.extra}
        self.touch()
        return {"ok": True, **result}

    def api_auth_test(self, p: dict) -> dict:
        return {"url": f"https://{self.domain}.slack.com/", "team": self.team_name, "user": BOT_NAME,
                "team_id": self.team_id, "user_id": BOT_USER_ID, "bot_id": BOT_ID, "app_id": APP_ID,
                "is_enterprise_install": False}

    def api_views_generateTriggerId(self, p: dict) -> dict:  # noqa: N802 - the emulator's method, for tests
        user = str(p.get("user_id") or next(iter(self.users)))
        return {"trigger_id": self.issue_trigger(user)}

    @staticmethod
    def _public(msg: dict) -> dict:
        return copy.deepcopy(msg)

    def _page(self, items: list, p: dict, key: str) -> dict:
        limit = int(p.get("limit") or 100) or 100
        limit = max(1, min(limit, 1000))
        start = int(p.get("cursor") or 0) if str(p.get("cursor") or "0").isdigit() else 0
        page = items[start:start + limit]
        more = start + limit < len(items)
        return {key: page, "has_more": more,
                "response_metadata": {"next_cursor": str(start + limit) if more else ""}}

    def _in_range(self, msgs: list[dict], p: dict) -> list[dict]:
        oldest, latest = p.get("oldest"), p.get("latest")
        inclusive = _truthy(p.get("inclusive"))
        out = []
        for m in msgs:
            t = float(m["ts"])
            if oldest and (t < float(oldest) or (t == float(oldest) and not inclusive)):
                continue
            if latest and (t > float(latest) or (t == float(latest) and not inclusive)):
                continue
            out.append(m)
        return out

    def api_conversations_history(self, p: dict) -> dict:
        ch = self._channel(p.get("channel"))
        top = [m for m in ch.messages if m.get("thread_ts", m["ts"]) == m["ts"]]
        top = self._in_range(list(reversed(top)), p)
        result = self._page([self._public(m) for m in top], p, "messages")
        return result | {"pin_count": 0, "channel_actions_ts": None, "channel_actions_count": 0}

    def api_conversations_replies(self, p: dict) -> dict:
        ch = self._channel(p.get("channel"))
        msg = self._find(ch, p.get("ts"))
        root = msg.get("thread_ts", msg["ts"])
        thread = [m for m in ch.messages if m["ts"] == root or m.get("thread_ts") == root]
        parent, replies = thread[0], self._in_range(thread[1:], p)
        page = self._page([self._public(m) for m in replies], p, "messages")
        page["messages"] = [self._public(parent), *page["messages"]]
        return page

    def api_conversations_members(self, p: dict) -> dict:
        ch = self._channel(p.get("channel"))
        return self._page(list(ch.members), p, "members")

    def api_conversations_info(self, p: dict) -> dict:
        ch = self._channel(p.get("channel"))
        return {"channel": self.channel_info(ch)}

    def channel_info(self, ch: Channel) -> dict:
        if ch.is_im:
            return {"id": ch.id, "is_im": True, "user": ch.im_user, "created": 0, "is_org_shared": False}
        return {"id": ch.id, "name": ch.name, "is_channel": True, "is_private": False, "is_im": False,
                "is_archived": False, "is_member": BOT_USER_ID in ch.members, "num_members": len(ch.members),
                "topic": {"value": f"#{ch.name}"}, "purpose": {"value": ""}, "created": 0}

    def api_conversations_open(self, p: dict) -> dict:
        """The bot's DM with one person (digests, SLA escalations, test pings go there)."""
        users = [u for u in str(p.get("users") or "").split(",") if u]
        if len(users) != 1 or users[0] not in self.users or users[0] == BOT_USER_ID:
            raise ApiError("user_not_found" if len(users) == 1 else "not_enough_users")
        return {"channel": {"id": self.dm_of(users[0]).id}}

    def api_conversations_list(self, p: dict) -> dict:
        chans = [self.channel_info(c) for c in self.channels.values() if not c.is_im]
        return self._page(chans, p, "channels")

    def api_users_info(self, p: dict) -> dict:
        user = self.users.get(str(p.get("user") or ""))
        if user is None:
            raise ApiError("user_not_found")
        return {"user": copy.deepcopy(user)}

    def api_users_list(self, p: dict) -> dict:
        return self._page([copy.deepcopy(u) for u in self.users.values()], p, "members") | {"cache_ts": int(time.time())}

    def api_usergroups_users_list(self, p: dict) -> dict:
        return {"users": []}

    # --- what the page sees ---------------------------------------------------------------

    def snapshot(self, user: str) -> dict:
        with self.lock:
            channels = []
            for ch in self.channels.values():
                if user not in ch.members:
                    continue
                channels.append({"id": ch.id, "name": ch.name if not ch.is_im else "App Home", "is_im": ch.is_im,
                                 "messages": [self._public(m) for m in ch.messages]})
            ephemerals = [copy.deepcopy(e) for e in self.ephemerals if e["user"] == user]
            stack = self.modal_stacks.get(user) or []
            modal = self._view_out(self.views[stack[-1]]) if stack else None
            home = self._view_out(self.views[self.home[user]]) if user in self.home else None
            users = {uid: {"name": u["name"], "real_name": u["real_name"], "is_bot": u["is_bot"]}
                     for uid, u in self.users.items()}
            # Every channel's name, also of those this person is not in: `<#C…>` shows it, as in Slack.
            names = {cid: ch.name for cid, ch in self.channels.items() if not ch.is_im}
            return {"version": self.version, "team": self.team_name, "user": user, "users": users,
                    "channels": channels, "channel_names": names, "ephemerals": ephemerals, "modal": modal,
                    "home": home, "modal_depth": len(stack), "log": self.log[-30:],
                    "local_pages": [{"label": label, "url": url} for label, url in self.local_pages]}
