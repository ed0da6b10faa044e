"""The demo workspace's views: modals (views.open, .push, .update) and App Home (views.publish),
with Slack's rules (a trigger id works once and for 3 s, three modals at most, hash conflicts).
Mixed into WorkspaceState, which provides the lock, the users, `team_id` and `_use_trigger`.
"""

from __future__ import annotations

import copy
import time
import uuid
from typing import Any

from socialdesk.demo.identity import APP_ID, BOT_ID, BOT_NAME, ApiError


def _plain(value: Any) -> Any:
    if isinstance(value, str):
        return {"type": "plain_text", "text": value, "emoji": True}
    return value


class ViewsApi:
    views: dict[str, dict]  # view id -> full view
    modal_stacks: dict[str, list[str]]  # user -> view ids, bottom first
    home: dict[str, str]  # user -> view id
    users: dict[str, dict]
    team_id: str
    lock: Any
    _use_trigger: Any  # WorkspaceState's (a trigger id's user, or ApiError)
    touch: Any  # WorkspaceState's (wakes the page's long polls)

    def _full_view(self, view: Any, *, view_id: str | None = None, previous: dict | None = None,
                   root_id: str | None = None) -> dict:
        if not isinstance(view, dict):
            raise ApiError("invalid_arguments", response_metadata={"messages": ["[ERROR] missing required field: view"]})
        if view.get("type") not in ("modal", "home"):
            raise ApiError("invalid_arguments", response_metadata={"messages": ["[ERROR] view.type must be modal or home"]})
        vid = view_id or "V" + uuid.uuid4().hex[:10].upper()
        full = {
            "id": vid, "team_id": self.team_id, "type": view["type"], "blocks": view.get("blocks") or [],
            "private_metadata": view.get("private_metadata") or "", "callback_id": view.get("callback_id") or "",
            "state": {"values": {}}, "hash": f"{int(time.time())}.{uuid.uuid4().hex[:8]}",
            "title": _plain(view.get("title") or {"type": "plain_text", "text": BOT_NAME}),
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "close": _plain(view.get("close")), "submit": _plain(view.get("submit")),
            "previous_view_id": (previous or {}).get("id"), "root_view_id": root_id or vid,
            "app_id": APP_ID, "external_id": view.get("external_id") or "",
            "app_installed_team_id": self.team_id, "bot_id": BOT_ID,
        }
        if view["type"] == "home":
            for key in ("close", "submit", "title"):
                if not view.get(key):
                    full[key] = None
        return full

    def api_views_open(self, p: dict) -> dict:
        user = self._use_trigger(p.get("trigger_id"))
        full = self._full_view(p.get("view"))
        if full["type"] != "modal":
            raise ApiError("invalid_arguments")
        self.views[full["id"]] = full | {"_user": user}
        self.modal_stacks[user] = [full["id"]]
        return {"view": self._view_out(full)}

    def api_views_push(self, p: dict) -> dict:
        user = self._use_trigger(p.get("trigger_id"))
        stack = self.modal_stacks.get(user) or []
        if not stack:
            raise ApiError("not_found")
        if len(stack) >= 3:
            raise ApiError("push_limit_reached")
        prev = self.views[stack[-1]]
        full = self._full_view(p.get("view"), previous=prev, root_id=prev["root_view_id"])
        self.views[full["id"]] = full | {"_user": user}
        stack.append(full["id"])
        return {"view": self._view_out(full)}

    def api_views_update(self, p: dict) -> dict:
        vid = p.get("view_id")
        if not vid and p.get("external_id"):
            vid = next((k for k, v in self.views.items() if v.get("external_id") == p["external_id"]), None)
        old = self.views.get(str(vid or ""))
        if old is None:
            raise ApiError("not_found")
        if p.get("hash") and p["hash"] != old["hash"]:
            raise ApiError("hash_conflict")
        full = self._full_view(p.get("view"), view_id=old["id"], root_id=old["root_view_id"])
        full["previous_view_id"] = old.get("previous_view_id")
        self.views[old["id"]] = full | {"_user": old["_user"]}
        return {"view": self._view_out(full)}

    def api_views_publish(self, p: dict) -> dict:
        user = str(p.get("user_id") or "")
        if user not in self.users:
            raise ApiError("user_not_found")
        view = p.get("view")
        if not isinstance(view, dict) or view.get("type") != "home":
            raise ApiError("invalid_arguments")
        old = self.views.get(self.home.get(user, ""))
        if old and p.get("hash") and p["hash"] != old["hash"]:
            raise ApiError("hash_conflict")
        full = self._full_view(view, view_id=old["id"] if old else None)
        self.views[full["id"]] = full | {"_user": user}
        self.home[user] = full["id"]
        return {"view": self._view_out(full)}

    @staticmethod
    def _view_out(full: dict) -> dict:
        return {k: copy.deepcopy(v) for k, v in full.items() if not k.startswith("_")}

    def view(self, view_id: str) -> dict | None:
        with self.lock:
            v = self.views.get(view_id)
            return self._view_out(v) if v else None

    def close_view(self, user: str, view_id: str, *, all_views: bool = False) -> None:
        with self.lock:
            stack = self.modal_stacks.get(user) or []
            if all_views:
                stack.clear()
            elif view_id in stack:
                del stack[stack.index(view_id):]
        self.touch()
