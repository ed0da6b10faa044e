"""The demo workspace's messages: chat.postMessage (threads included), chat.update, chat.delete,
chat.postEphemeral and chat.getPermalink, with Slack's answers and errors.

Apart from the workspace's state (`workspace_api`), as its files and views are; mixed into
WorkspaceState, which provides the lock, the channels, `_channel`, `_find`, `next_ts` and `_public`.
"""

from __future__ import annotations

from typing import Any

from socialdesk.demo.identity import APP_ID, BOT_ID, BOT_NAME, BOT_USER_ID, ApiError


class ChatApi:
    ephemerals: list[dict]  # {channel, user, ts, text, blocks, thread_ts?, from_command?}
    users: dict[str, dict]
    team_id: str
    base_url: str
    lock: Any
    touch: Any  # WorkspaceState's (wakes the page's long polls)
    next_ts: Any  # WorkspaceState's (a ts later than any before)
    _channel: Any  # WorkspaceState's (a channel by id, name or, for DMs, user; or ApiError)
    _find: Any  # WorkspaceState's (a message of a channel by ts; or ApiError)
    _public: Any  # WorkspaceState's (a copy of a message to hand out)

    def _bot_message(self, p: dict, ts: str) -> dict:
        msg: dict[str, Any] = {"type": "message", "text": str(p.get("text") or ""), "user": BOT_USER_ID,
                               "bot_id": BOT_ID, "app_id": APP_ID, "ts": ts, "team": self.team_id}
        if p.get("blocks"):
            msg["blocks"] = p["blocks"]
        if isinstance(p.get("metadata"), dict):
            msg["metadata"] = p["metadata"]
        msg["bot_profile"] = {"id": BOT_ID, "app_id": APP_ID, "name": BOT_NAME, "deleted": False,
                              "team_id": self.team_id}
        return msg

    def api_chat_postMessage(self, p: dict) -> dict:  # noqa: N802
        ch = self._channel(p.get("channel"), allow_user=True)
        if BOT_USER_ID not in ch.members:
            raise ApiError("not_in_channel")
        if not p.get("text") and not p.get("blocks") and not p.get("attachments"):
            raise ApiError("no_text")
        ts = self.next_ts()
        msg = self._bot_message(p, ts)
        thread_ts = p.get("thread_ts")
        if thread_ts:
            parent = self._find(ch, thread_ts)
            root = parent.get("thread_ts", parent["ts"])
            parent = self._find(ch, root)
            msg["thread_ts"] = root
            msg["parent_user_id"] = parent.get("user")
            parent["thread_ts"] = root
            parent["reply_count"] = parent.get("reply_count", 0) + 1
            parent["latest_reply"] = ts
            users = parent.setdefault("reply_users", [])
            if msg["user"] not in users:
                users.append(msg["user"])
            parent["reply_users_count"] = len(users)
        ch.messages.append(msg)
        return {"channel": ch.id, "ts": ts, "message": self._public(msg)}

    def api_chat_update(self, p: dict) -> dict:
        ch = self._channel(p.get("channel"))
        msg = self._find(ch, p.get("ts"))
        if msg.get("user") != BOT_USER_ID:
            raise ApiError("cant_update_message")
        if "text" in p and p["text"] is not None:
            msg["text"] = str(p["text"])
        if "blocks" in p and p["blocks"] is not None:
            if p["blocks"]:
                msg["blocks"] = p["blocks"]
            else:
                msg.pop("blocks", None)
        elif "text" in p:
            msg.pop("blocks", None)  # Slack: text without blocks replaces the blocks
        if isinstance(p.get("metadata"), dict):
            msg["metadata"] = p["metadata"]
        msg["edited"] = {"user": BOT_USER_ID, "ts": self.next_ts()}
        return {"channel": ch.id, "ts": msg["ts"], "text": msg["text"], "message": self._public(msg)}

    def api_chat_delete(self, p: dict) -> dict:
        """The bot's own message (retention and `socialdesk forget` delete cards and their replies). A thread's
        parent with replies stays as Slack's "This message was deleted." so the replies keep their place."""
        ch = self._channel(p.get("channel"))
        msg = self._find(ch, p.get("ts"))
        if msg.get("user") != BOT_USER_ID:
            raise ApiError("cant_delete_message")
        root = msg.get("thread_ts")
        if msg.get("reply_count"):
            keep = {k: msg[k] for k in ("ts", "thread_ts", "reply_count", "reply_users", "reply_users_count",
                                          "latest_reply") if k in msg}
            msg.clear()
            msg.update({"type": "message", "subtype": "tombstone", "text": "This message was deleted.",
                        "user": "USLACKBOT", "hidden": True, **keep})
        else:
            ch.messages.remove(msg)
            if root and root != msg["ts"]:
                parent = next((m for m in ch.messages if m["ts"] == root), None)
                if parent is not None:
                    parent["reply_count"] = max(0, parent.get("reply_count", 1) - 1)
        return {"channel": ch.id, "ts": str(p.get("ts"))}

    def api_chat_postEphemeral(self, p: dict) -> dict:  # noqa: N802
        ch = self._channel(p.get("channel"), allow_user=True)
        user = str(p.get("user") or "")
        if user not in self.users:
            raise ApiError("user_not_found")
        if user not in ch.members:
            raise ApiError("user_not_in_channel")
        if not p.get("text") and not p.get("blocks"):
            raise ApiError("no_text")
        ts = self.next_ts()
        self.add_ephemeral(ch.id, user, text=str(p.get("text") or ""), blocks=p.get("blocks") or None,
                           thread_ts=p.get("thread_ts") or None, ts=ts)
        return {"message_ts": ts}

    def add_ephemeral(self, channel: str, user: str, *, text: str, blocks: list | None = None,
                      thread_ts: str | None = None, ts: str | None = None) -> dict:
        eph = {"type": "message", "subtype": "ephemeral", "channel": channel, "user": user, "ts": ts or self.next_ts(),
               "text": text, "bot_id": BOT_ID, "sender": BOT_USER_ID}
        if blocks:
            eph["blocks"] = blocks
        if thread_ts:
            eph["thread_ts"] = str(thread_ts)
        with self.lock:
            self.ephemerals.append(eph)
        self.touch()
        return eph

    def api_chat_getPermalink(self, p: dict) -> dict:  # noqa: N802
        ch = self._channel(p.get("channel"))
        msg = self._find(ch, p.get("message_ts"))
        # Slack's shape (/archives/C…/p…), on the workspace's own address: the page opens it at the card.
        link = f"{self.base_url}/archives/{ch.id}/p{msg['ts'].replace('.', '')}"
        if msg.get("thread_ts") and msg["thread_ts"] != msg["ts"]:
            link += f"?thread_ts={msg['thread_ts']}&cid={ch.id}"
        return {"channel": ch.id, "permalink": link}
