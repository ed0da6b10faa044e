"""What the demo workspace puts in the payloads it sends the app: the element a click was on,
the option chosen, and a view's state values typed the way Slack types them (pure functions)."""

from __future__ import annotations

from typing import Any


def find_element(blocks: list[dict], block_id: str, action_id: str) -> dict | None:
    """The element (button, select, input) `action_id` in the block `block_id`; Slack numbers unnamed ones."""
    for i, block in enumerate(blocks or []):
        bid = block.get("block_id") or f"b{i}"
        if bid != block_id:
            continue
        elements = []
        if block.get("type") == "actions":
            elements = block.get("elements") or []
        elif block.get("type") == "input" and block.get("element"):
            elements = [block["element"]]
        elif block.get("type") == "section" and block.get("accessory"):
            elements = [block["accessory"]]
        for j, el in enumerate(elements):
            if (el.get("action_id") or f"a{j}") == action_id:
                return el
    return None


def option_of(el: dict, value: Any) -> dict | None:
    for opt in el.get("options") or []:
        if opt.get("value") == value:
            return opt
    for group in el.get("option_groups") or []:
        for opt in group.get("options") or []:
            if opt.get("value") == value:
                return opt
    return None


def state_values(view: dict, raw: dict) -> dict:
    """The page sends {block_id: {action_id: raw}}; Slack sends typed values."""
    values: dict[str, dict] = {}
    for block_id, actions in (raw or {}).items():
        for action_id, value in (actions or {}).items():
            el = find_element(view.get("blocks") or [], block_id, action_id) or {}
            kind = el.get("type", "plain_text_input")
            if kind in ("static_select", "external_select"):
                entry = {"type": kind, "selected_option": option_of(el, value) if value else None}
            elif kind in ("multi_static_select", "multi_external_select"):
                entry = {"type": kind, "selected_options": [o for v in (value or []) if (o := option_of(el, v))]}
            elif kind == "users_select":
                entry = {"type": kind, "selected_user": value or None}
            elif kind == "multi_users_select":
                entry = {"type": kind, "selected_users": list(value or [])}
            elif kind == "conversations_select":
                entry = {"type": kind, "selected_conversation": value or None}
            elif kind == "multi_conversations_select":
                entry = {"type": kind, "selected_conversations": list(value or [])}
            else:
                entry = {"type": kind, "value": value if value not in ("",) else None}
            values.setdefault(block_id, {})[action_id] = entry
    return values
