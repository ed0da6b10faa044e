"""App Home's "Sources" section: which rules and streams are not ok (socialdesk.health), kept short. Pure."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import Block, DividerBlock, HeaderBlock, MarkdownTextObject, SectionBlock

from socialdesk.slack.text import escape, escape_within
from socialdesk.store.views import SourceView

SHOWN = 5  # sources in trouble listed by name; the rest are counted
TEXT_EXCERPT = 200  # of a state's text (the last error in it)
ICON = {"ok": "✅", "paused": "⏸", "paused by budget": "⏸", "idle": "💤", "rate-limited": "⏳"}
FINE = ("ok", "idle", "paused")  # paused: an admin's choice, counted apart


def sources_section(sources: Sequence[SourceView]) -> list[Block]:
    """Three blocks (divider, header, one section): those not ok by name (a few), the rest counted; none without sources."""
    if not sources:
        return []
    troubled = [s for s in sources if s.state not in FINE]
    lines = []
    for source in troubled[:SHOWN]:
        text, _ = escape_within(" ".join(source.text.split()), TEXT_EXCERPT)
        lines.append(f"{ICON.get(source.state, '⚠️')} *{escape(source.name)}* — {text}")
    if len(troubled) > SHOWN:
        lines.append(f"…and {len(troubled) - SHOWN} more not ok — `socialdesk rules list` shows them all")
    paused = sum(1 for s in sources if s.state == "paused")
    fine = len(sources) - len(troubled) - paused
    counts = [f"✅ {'all ' if not troubled and not paused else ''}{fine} ok"] if fine else []
    counts += [f"⏸ {paused} paused"] if paused else []
    if counts:
        lines.append(" · ".join(counts))
    text = "\n".join(lines)[:3000]
    return [DividerBlock(), HeaderBlock(text="Sources"),
            SectionBlock(text=MarkdownTextObject(text=text), block_id="home_sources")]
