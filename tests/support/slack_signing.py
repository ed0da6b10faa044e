"""Requests as Slack sends them to the app: signed, with the same payload shapes.

Shapes follow the recorded payloads in ../shared/refs/slack/bolt-python-payloads
and java-slack-sdk-json-logs-samples (field names and nesting, not values).
Interactivity payloads travel form-encoded as `payload=<json>`, slash commands
as plain form fields, Events API callbacks as JSON.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from typing import Any
from urllib.parse import urlencode

import httpx

from tests.support.http import to_app
from tests.support.slack_emulator import APP_ID, BOT_ID, BOT_USER_ID

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
TEAM_DOMAIN = "acme-phones"
VERIFICATION_TOKEN = "legacy-verification-token"  # Slack still sends one; nobody should check it


def sign(body: bytes, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """Slack's v0 signature: HMAC-SHA256 of `v0:{timestamp}:{body}` with the signing secret."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def post_signed(
    url: str, body: bytes, secret: str, content_type: str, extra_headers: dict[str, str] | None = None
) -> httpx.Response:
    headers = {"Content-Type": content_type, **sign(body, secret), **(extra_headers or {})}
    return to_app().post(url, content=body, headers=headers, timeout=10)


def new_trigger_id() -> str:
    """A trigger id shaped like Slack's (the emulator's views.open needs its own)."""
    return f"{time.time():.6f}.{uuid.uuid4().hex[:12]}"


def _user(user_id: str, user_name: str, team_id: str) -> dict[str, str]:
    return {"id": user_id, "username": user_name, "name": user_name, "team_id": team_id}


def _team(team_id: str) -> dict[str, Any]:
    return {"id": team_id, "domain": TEAM_DOMAIN}


def _form_payload(payload: dict) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


def block_actions_body(
    *,
    user_id: str,
    user_name: str,
    team_id: str,
    channel_id: str,
    message_ts: str,
    action_id: str,
    value: str,
    block_id: str = "b",
    trigger_id: str,
    message: dict | None = None,
    action_type: str = "button",
    channel_name: str = "",
    api_app_id: str = APP_ID,
) -> bytes:
    """A click on a message's interactive element.

    `action_type="overflow"` (or a select) sends `selected_option` instead of
    `value`, as Slack does. Pass the card as `message` (e.g. from history) when
    the handler reads `body["message"]`.
    """
    action: dict[str, Any] = {
        "action_id": action_id,
        "block_id": block_id,
        "type": action_type,
        "action_ts": f"{time.time():.6f}",
    }
    if action_type == "button":
        action |= {"text": {"type": "plain_text", "text": "Button", "emoji": True}, "value": value}
    else:
        action["selected_option"] = {"text": {"type": "plain_text", "text": value, "emoji": True}, "value": value}
    container = {"type": "message", "message_ts": message_ts, "channel_id": channel_id, "is_ephemeral": False}
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": _user(user_id, user_name, team_id),
        "api_app_id": api_app_id,
        "token": VERIFICATION_TOKEN,
        "container": container,
        "trigger_id": trigger_id,
        "team": _team(team_id),
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": channel_name},
        "state": {"values": {}},
        "response_url": f"https://hooks.slack.com/actions/{team_id}/1/{uuid.uuid4().hex}",
        "actions": [action],
    }
    if message is not None:
        payload["message"] = message
    return _form_payload(payload)


def slash_command_body(
    *,
    command: str,
    text: str,
    user_id: str,
    user_name: str,
    channel_id: str,
    team_id: str,
    trigger_id: str,
    channel_name: str = "",
    api_app_id: str = APP_ID,
) -> bytes:
    fields = {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "team_domain": TEAM_DOMAIN,
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user_id,
        "user_name": user_name,
        "command": command,
        "text": text,
        "api_app_id": api_app_id,
        "is_enterprise_install": "false",
        "response_url": f"https://hooks.slack.com/commands/{team_id}/1/{uuid.uuid4().hex}",
        "trigger_id": trigger_id,
    }
    return urlencode(fields).encode()


def _full_view(view: dict, team_id: str, api_app_id: str, values: dict | None) -> dict:
    """Fill in what Slack adds to a view it sends back (ids, hash, state)."""
    view_id = view.get("id") or f"V{uuid.uuid4().hex[:10].upper()}"
    full = {
        "id": view_id,
        "team_id": team_id,
        "type": "modal",
        "blocks": [],
        "private_metadata": "",
        "callback_id": "",
        "state": {"values": values or {}},
        "hash": f"{int(time.time())}.{uuid.uuid4().hex[:8]}",
        "title": {"type": "plain_text", "text": "socialdesk"},
        "clear_on_close": False,
        "notify_on_close": False,
        "close": None,
        "submit": None,
        "previous_view_id": None,
        "root_view_id": view_id,
        "app_id": api_app_id,
        "external_id": "",
        "app_installed_team_id": team_id,
        "bot_id": BOT_ID,
    }
    given = {k: v for k, v in view.items() if v is not None}
    if values is not None:
        given.pop("state", None)
    return full | given


def view_submission_body(
    *,
    user_id: str,
    user_name: str,
    team_id: str,
    view: dict,
    values: dict | None = None,
    trigger_id: str | None = None,
    api_app_id: str = APP_ID,
) -> bytes:
    """A modal's submit. `view` is the opened view (e.g. views.open's `view`, or
    the dict we sent); `values` is `{block_id: {action_id: {"type": ..., "value": ...}}}`
    as in `view.state.values`."""
    payload = {
        "type": "view_submission",
        "team": _team(team_id),
        "user": _user(user_id, user_name, team_id),
        "api_app_id": api_app_id,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id or new_trigger_id(),
        "view": _full_view(view, team_id, api_app_id, values),
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }
    return _form_payload(payload)


def view_closed_body(
    *,
    user_id: str,
    user_name: str,
    team_id: str,
    view: dict,
    is_cleared: bool = False,
    api_app_id: str = APP_ID,
) -> bytes:
    """Sent only for views opened with notify_on_close=true."""
    payload = {
        "type": "view_closed",
        "team": _team(team_id),
        "user": _user(user_id, user_name, team_id),
        "api_app_id": api_app_id,
        "token": VERIFICATION_TOKEN,
        "view": _full_view(view, team_id, api_app_id, None),
        "is_cleared": is_cleared,
        "is_enterprise_install": False,
        "enterprise": None,
    }
    return _form_payload(payload)


def event_callback_body(
    *,
    event: dict,
    event_id: str,
    team_id: str,
    api_app_id: str = APP_ID,
    event_time: int | None = None,
) -> bytes:
    """An Events API delivery (JSON). Retries resend the same body with an
    `X-Slack-Retry-Num` header and the same event_id."""
    payload = {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "api_app_id": api_app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": event_time or int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": BOT_USER_ID,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-{uuid.uuid4().hex}",
    }
    return json.dumps(payload).encode()


def app_home_opened_event(*, user_id: str, channel_id: str = "D0SOCIALDK", tab: str = "home") -> dict:
    return {
        "type": "app_home_opened",
        "user": user_id,
        "channel": channel_id,
        "tab": tab,
        "event_ts": f"{time.time():.6f}",
    }
