"""Reading a published App Home view (views.publish's `view`) in tests."""

from __future__ import annotations


def texts(view: dict) -> str:
    """Every text the view shows, one block part per line."""
    out = []
    for b in view["blocks"]:
        if isinstance(b.get("text"), dict):
            out.append(b["text"]["text"])
        out += [f["text"] for f in b.get("fields") or []]
        out += [e["text"] for e in b.get("elements") or [] if isinstance(e.get("text"), str)]
    return "\n".join(out)


def listed(view: dict, prefix: str) -> list[int]:
    """The case ids of the blocks whose block_id starts with `prefix`, in order."""
    return [int(b["block_id"].removeprefix(prefix)) for b in view["blocks"] if b.get("block_id", "").startswith(prefix)]
