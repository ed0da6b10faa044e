from __future__ import annotations

from socialdesk.slack import ids


def cards(slack_emulator, channel: str) -> list[dict]:
    """socialdesk's cards in the channel, oldest first."""
    return [m for m in reversed(slack_emulator.history(channel))
            if (m.get("metadata") or {}).get("event_type") == ids.CASE_METADATA_TYPE]


def case_id_of(card: dict) -> int:
    return card["metadata"]["event_payload"]["case_id"]


def block_text(card: dict, block_id: str) -> str:
    block = next(b for b in card["blocks"] if b.get("block_id") == block_id)
    if "text" in block:
        return block["text"]["text"]
    return " ".join(e.get("text", "") for e in block.get("elements", []))


def button_ids(card: dict) -> list[str]:
    block = next(b for b in card["blocks"] if b["type"] == "actions")
    return [e["action_id"] for e in block["elements"]]


__all__ = ["cards", "case_id_of", "block_text", "button_ids", "ids"]
