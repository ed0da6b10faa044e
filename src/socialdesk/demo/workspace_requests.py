"""What people do on the demo workspace's page, sent to the app as the signed requests Slack would
send: clicks (`block_actions`), a modal's submit and cancel (`view_submission`, `view_closed`),
slash commands and opening App Home (`app_home_opened`), POSTed to `app_events_url`.

Apart from the workspace's life and its response URLs (`workspace`); mixed into Workspace, which
provides `state`, `signing_secret`, `app_events_url`, `_response_url` and `_show_response`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from socialdesk.demo.identity import APP_ID, BOT_USER_ID
from socialdesk.demo.payloads import find_element, option_of, state_values

if TYPE_CHECKING:
    from socialdesk.demo.workspace_api import WorkspaceState

VERIFICATION_TOKEN = "legacy-verification-token"
APP_TIMEOUT = 10.0


def sign(body: bytes, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """Slack's v0 signature: HMAC-SHA256 of `v0:{timestamp}:{body}`."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


class Requests:
    state: WorkspaceState
    signing_secret: str
    app_events_url: str | None
    team_id: str
    bot_token: str
    _response_url: Any  # Workspace's (a response_url for this user, channel and message)
    _show_response: Any  # Workspace's (the app's answer shown as Slack would)

    def _user_obj(self, user_id: str) -> dict:
        name = self.state.users[user_id]["name"]
        return {"id": user_id, "username": name, "name": name, "team_id": self.team_id}

    def _team(self) -> dict:
        return {"id": self.team_id, "domain": self.state.domain}

    def send_to_app(self, body: bytes, content_type: str, kind: str) -> tuple[int, bytes]:
        """POST a signed request to the app; returns (status, body). Status 0: unreachable."""
        if not self.app_events_url:
            self._log(kind, 0, "app_events_url is not set")
            return 0, b"The app is not connected (app_events_url is not set)."
        headers = {"Content-Type": content_type, **sign(body, self.signing_secret)}
        req = urllib.request.Request(self.app_events_url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=APP_TIMEOUT) as resp:  # noqa: S310 - a local URL we were given
                status, data = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            status, data = exc.code, exc.read()
        except (urllib.error.URLError, OSError) as exc:
            self._log(kind, 0, str(exc))
            return 0, f"The app did not answer: {exc}".encode()
        self._log(kind, status, data[:300].decode(errors="replace"))
        return status, data

    def _log(self, kind: str, status: int, detail: str) -> None:
        with self.state.lock:
            self.state.log.append({"at": time.time(), "kind": kind, "status": status, "detail": detail})
            del self.state.log[:-100]

    @staticmethod
    def _form_payload(payload: dict) -> bytes:
        return urlencode({"payload": json.dumps(payload)}).encode()

    def click(self, *, user: str, block_id: str, action_id: str, value: Any = None, channel: str | None = None,
              message_ts: str | None = None, ephemeral: bool = False, view_id: str | None = None,
              values: dict | None = None, element: dict | None = None) -> dict:
        """A click on an interactive element of a message, a modal or App Home.

        `element`: the element as the person's page showed it. When the message or view has
        changed since (another agent claimed the card a moment ago), Slack still sends the
        click as the person saw it, and the app answers it ("already claimed by @bob"); so
        does this, instead of refusing it."""
        trigger = self.state.issue_trigger(user)
        view = self.state.view(view_id) if view_id else None
        if view_id and view is None:
            return {"ok": False, "error": "view_not_found"}
        blocks: list[dict] = []
        message = None
        if view is not None:
            blocks = view["blocks"]
        elif channel and message_ts:
            with self.state.lock:
                if ephemeral:
                    found = [e for e in self.state.ephemerals if e["ts"] == message_ts and e["user"] == user]
                else:
                    ch = self.state.channels.get(channel)
                    found = [m for m in (ch.messages if ch else []) if m["ts"] == message_ts]
                if not found:
                    return {"ok": False, "error": "message_not_found"}
                message = json.loads(json.dumps(found[0]))
            blocks = message.get("blocks") or []
        el = find_element(blocks, block_id, action_id)
        if el is None and isinstance(element, dict) and element.get("type") and \
                element.get("action_id", action_id) == action_id:
            el = element
        if el is None:
            return {"ok": False, "error": "element_not_found"}
        action: dict[str, Any] = {"action_id": action_id, "block_id": block_id, "type": el.get("type"),
                                  "action_ts": f"{time.time():.6f}"}
        kind = el.get("type")
        if kind == "button":
            action["text"] = el.get("text")
            if "value" in el:
                action["value"] = el["value"]
            if el.get("style"):
                action["style"] = el["style"]
            if el.get("url"):
                action["url"] = el["url"]
        elif kind in ("overflow", "static_select", "radio_buttons"):
            opt = option_of(el, value)
            if opt is None:
                return {"ok": False, "error": "option_not_found"}
            action["selected_option"] = opt
        elif kind == "multi_static_select":
            action["selected_options"] = [o for v in (value or []) if (o := option_of(el, v))]
        elif kind == "users_select":
            action["selected_user"] = value
        elif kind == "plain_text_input":
            action["value"] = value
        else:
            action["value"] = value
        payload: dict[str, Any] = {
            "type": "block_actions", "user": self._user_obj(user), "api_app_id": APP_ID, "token": VERIFICATION_TOKEN,
            "trigger_id": trigger, "team": self._team(), "enterprise": None, "is_enterprise_install": False,
        }
        if view is not None:
            view["state"] = {"values": state_values(view, values or {})}
            payload["container"] = {"type": "view", "view_id": view["id"]}
            payload["view"] = view
            payload["state"] = view["state"]
        else:
            ch = self.state.channels[channel]  # type: ignore[index]
            payload["container"] = {"type": "message", "message_ts": message_ts, "channel_id": channel,
                                    "is_ephemeral": ephemeral}
            payload["channel"] = {"id": channel, "name": "directmessage" if ch.is_im else ch.name}
            payload["state"] = {"values": {}}
            if message is not None and not ephemeral:
                payload["message"] = message
            thread = (message or {}).get("thread_ts")
            payload["response_url"] = self._response_url(user, channel, thread, (str(message_ts), ephemeral))
        payload["actions"] = [action]
        status, body = self.send_to_app(self._form_payload(payload), "application/x-www-form-urlencoded",
                                        f"block_actions {action_id}")
        return {"ok": 200 <= status < 300, "status": status, "trigger_id": trigger,
                "error": None if 200 <= status < 300 else body.decode(errors="replace")[:500]}

    def submit(self, *, user: str, view_id: str, values: dict | None = None) -> dict:
        """Press a modal's submit button."""
        view = self.state.view(view_id)
        if view is None:
            return {"ok": False, "error": "view_not_found"}
        view["state"] = {"values": state_values(view, values or {})}
        payload = {
            "type": "view_submission", "team": self._team(), "user": self._user_obj(user), "api_app_id": APP_ID,
            "token": VERIFICATION_TOKEN, "trigger_id": self.state.issue_trigger(user), "view": view,
            "response_urls": [], "is_enterprise_install": False, "enterprise": None,
        }
        status, body = self.send_to_app(self._form_payload(payload), "application/x-www-form-urlencoded",
                                        f"view_submission {view.get('callback_id')}")
        if not 200 <= status < 300:
            return {"ok": False, "status": status, "error": "We had some trouble connecting. Try again? "
                    + body.decode(errors="replace")[:300]}
        answer: dict = {}
        if body.strip():
            try:
                answer = json.loads(body)
            except ValueError:
                answer = {}
        action = answer.get("response_action")
        if action == "errors":
            return {"ok": True, "errors": answer.get("errors") or {}}
        if action == "update" and isinstance(answer.get("view"), dict):
            self.state.call("views.update", {"view_id": view_id, "view": answer["view"]}, self.bot_token)
            return {"ok": True, "updated": True}
        if action == "push" and isinstance(answer.get("view"), dict):
            trigger = self.state.issue_trigger(user)
            self.state.call("views.push", {"trigger_id": trigger, "view": answer["view"]}, self.bot_token)
            return {"ok": True, "pushed": True}
        self.state.close_view(user, view_id, all_views=action == "clear")
        return {"ok": True, "closed": True}

    def cancel(self, *, user: str, view_id: str, values: dict | None = None) -> dict:
        """Close a modal (the Cancel button or ×): view_closed if it asked for it."""
        view = self.state.view(view_id)
        self.state.close_view(user, view_id)
        if view is None or not view.get("notify_on_close"):
            return {"ok": True, "notified": False}
        view["state"] = {"values": state_values(view, values or {})}
        payload = {
            "type": "view_closed", "team": self._team(), "user": self._user_obj(user), "api_app_id": APP_ID,
            "token": VERIFICATION_TOKEN, "view": view, "is_cleared": False, "is_enterprise_install": False,
            "enterprise": None,
        }
        status, _ = self.send_to_app(self._form_payload(payload), "application/x-www-form-urlencoded",
                                     f"view_closed {view.get('callback_id')}")
        return {"ok": 200 <= status < 300, "notified": True, "status": status}

    def command(self, *, user: str, channel: str, text: str) -> dict:
        """A slash command typed in the message box: "/social help"."""
        command, _, rest = text.strip().partition(" ")
        ch = self.state.channels.get(channel)
        fields = {
            "token": VERIFICATION_TOKEN, "team_id": self.team_id, "team_domain": self.state.domain,
            "channel_id": channel, "channel_name": ("directmessage" if ch and ch.is_im else ch.name if ch else ""),
            "user_id": user, "user_name": self.state.users[user]["name"], "command": command, "text": rest.strip(),
            "api_app_id": APP_ID, "is_enterprise_install": "false",
            "response_url": self._response_url(user, channel), "trigger_id": self.state.issue_trigger(user),
        }
        status, body = self.send_to_app(urlencode(fields).encode(), "application/x-www-form-urlencoded", command)
        if not 200 <= status < 300:
            msg = f"{command} failed with the error \"dispatch_failed\" ({status or 'no answer'})"
            self.state.add_ephemeral(channel, user, text=msg)
            return {"ok": False, "status": status, "error": msg}
        self._show_response(user, channel, None, body)
        return {"ok": True, "status": status}

    def open_home(self, *, user: str) -> dict:
        event = {"type": "app_home_opened", "user": user, "channel": self.state.dm_of(user).id, "tab": "home",
                 "event_ts": f"{time.time():.6f}"}
        home = self.state.home.get(user)
        if home:
            event["view"] = self.state.view(home)
        payload = {
            "token": VERIFICATION_TOKEN, "team_id": self.team_id, "api_app_id": APP_ID, "event": event,
            "type": "event_callback", "event_id": "Ev" + uuid.uuid4().hex[:10].upper(), "event_time": int(time.time()),
            "authorizations": [{"enterprise_id": None, "team_id": self.team_id, "user_id": BOT_USER_ID,
                                "is_bot": True, "is_enterprise_install": False}],
            "is_ext_shared_channel": False, "event_context": f"4-{uuid.uuid4().hex}",
        }
        status, _ = self.send_to_app(json.dumps(payload).encode(), "application/json", "app_home_opened")
        return {"ok": 200 <= status < 300, "status": status, "event_id": payload["event_id"]}
