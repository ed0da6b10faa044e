"""What the reply modal's payloads carry, read safely: when it was opened, its box's revision and text,
when a keystroke happened. Every value is Slack's echo of what the app wrote, or forged: checked."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from socialdesk.listeners.views import state_value
from socialdesk.slack import ids


def opened_when(meta: dict[str, Any]) -> datetime:
    """When the agent opened the modal (kept in its private metadata)."""
    return datetime.fromtimestamp(opened_at(meta), UTC)


def opened_at(meta: dict[str, Any]) -> float:
    """When the modal was opened, from its metadata; now when that is not a plausible time."""
    value = meta.get("opened_at")
    now = time.time()
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value <= now + 60
    return float(value) if ok else now  # type: ignore[arg-type]


def revision_of(meta: dict[str, Any]) -> int:
    value = meta.get("revision")
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1000 else 0


def action_ts(body: dict[str, Any]) -> float:
    """When Slack saw the keystroke (orders a modal's redraws); now, for a payload without one."""
    actions = body.get("actions")
    stamp = actions[0].get("action_ts") if isinstance(actions, list) and actions and isinstance(actions[0], dict) else None
    try:
        return float(stamp) if isinstance(stamp, str) and len(stamp) < 32 else time.time()
    except ValueError:
        return time.time()


def input_text(modal: dict[str, Any]) -> str:
    value = state_value(modal, ids.REPLY_INPUT, ids.REPLY_INPUT).get("value")
    return value.strip() if isinstance(value, str) else ""
