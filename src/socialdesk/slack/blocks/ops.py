"""What the ops channel is told (jobs.ops_alerts): a source's incident, and its recovery. Pure.

The texts come from socialdesk.health (rule queries and network errors in them are escaped here).
"""

from __future__ import annotations

from datetime import datetime

from slack_sdk.models.blocks import ContextBlock, MarkdownTextObject, SectionBlock

from socialdesk.slack.blocks.notices import Message, minutes
from socialdesk.slack.text import escape_within

TEXT_LIMIT = 2900  # a section's text is at most 3000


def _cut(text: str) -> str:
    return escape_within(text, TEXT_LIMIT)[0]


def alert(*, text: str, fix: str) -> Message:
    """An incident: what happened, then what to do."""
    return Message(
        text=f"⚠️ {_cut(text)}",
        blocks=[SectionBlock(text=MarkdownTextObject(text=f"⚠️ *{_cut(text)}*"), block_id="ops_alert"),
                SectionBlock(text=MarkdownTextObject(text=f"*What to do*: {_cut(fix)}"), block_id="ops_fix")],
    )


def recovery(*, text: str, opened_at: datetime, now: datetime) -> Message:
    """The incident is over (its source works again, or it is gone), so long after it was told."""
    said = f"✅ Recovered, {minutes(now - opened_at)} after the alert of {opened_at.strftime('%Y-%m-%d %H:%M UTC')}"
    return Message(text=f"{said}: {_cut(text)}",
                   blocks=[SectionBlock(text=MarkdownTextObject(text=f"{said}"), block_id="ops_recovered"),
                           ContextBlock(elements=[MarkdownTextObject(text=_cut(text))], block_id="ops_was")])
