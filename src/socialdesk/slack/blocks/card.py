"""The case card: one message per case, updated in place as the case moves."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    ImageElement,
    MarkdownTextObject,
    SectionBlock,
)
from slack_sdk.models.metadata import Metadata

from socialdesk.domain import CaseStatus, CaseView, Network
from socialdesk.slack import ids
from socialdesk.slack.text import escape, escape_within, link, plain_cut

SECTION_TEXT_LIMIT = 3000  # Block Kit's limit for a section's text
POST_TEXT_BUDGET = 2800  # leaves room for the "read the rest" link
FALLBACK_LIMIT = 300  # notification text: short, like Slack's own previews
NETWORK_LABEL = {Network.X: "𝕏"}
NETWORK_NAME = {Network.X: "X"}
STATUS_LINE = {
    CaseStatus.NEW: "🆕 *New* · unclaimed",
    CaseStatus.CLAIMED: "🙋 *Claimed*",
    CaseStatus.REPLIED: "💬 *Replied*",
    CaseStatus.RESOLVED: "✅ *Resolved*",
    CaseStatus.IGNORED: "🚫 *Ignored*",
}


@dataclass(frozen=True)
class Card:
    """Everything chat.postMessage / chat.update needs for a card."""

    text: str
    blocks: list[Block]
    metadata: Metadata

    def as_kwargs(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": [b.to_dict() for b in self.blocks], "metadata": self.metadata}


def slack_date(when: datetime, token: str, fallback_format: str = "%Y-%m-%d %H:%M UTC") -> str:
    """Slack's date syntax: shown in each reader's own time zone."""
    return f"<!date^{int(when.timestamp())}^{token}|{when.strftime(fallback_format)}>"


def followers_label(count: int) -> str:
    if count >= 1_000_000:
        return f"{count / 1_000_000:.1f}M followers"
    if count >= 10_000:
        return f"{count / 1_000:.0f}k followers"
    return f"{count:,} follower{'s' if count != 1 else ''}"


def post_text(view: CaseView) -> str:
    """The post, escaped, cut to fit a section with a link to the rest."""
    body, cut = escape_within(view.post.text, POST_TEXT_BUDGET)
    if cut:
        body += f"… {link(view.post.url, 'read the whole post on ' + NETWORK_NAME[view.post.network])}"
    return body or "_(no text)_"


def author_line(view: CaseView) -> str:
    author = view.post.author
    handle = f"@{author.handle}" if author.handle else "unknown account"
    profile = f"https://x.com/{author.handle}" if author.handle else view.post.url
    parts = [f"{NETWORK_LABEL[view.post.network]} *{escape(author.name or handle)}* {link(profile, handle)}"]
    parts.append(followers_label(author.followers))
    if author.verified:
        parts.append("verified ✔︎")
    return " · ".join(parts)


def status_line(view: CaseView) -> str:
    line = STATUS_LINE[view.status]
    if view.assignee and view.status is not CaseStatus.NEW:
        line += f" by <@{view.assignee}>"
        if view.claimed_at:
            line += f" · {slack_date(view.claimed_at, '{ago}')}"
    return line


def rule_line(view: CaseView) -> str:
    posted = f"{link(view.post.url, 'posted')} {slack_date(view.post.created_at, '{date_short_pretty} at {time}')}"
    if view.rule_id is None:
        return f"{posted} · rule removed · case #{view.case_id}"
    query, cut = escape_within(view.rule_query or "", 120)
    return f"{posted} · rule #{view.rule_id} `{query}{'…' if cut else ''}` · case #{view.case_id}"


def buttons(view: CaseView) -> list[ButtonElement]:
    value = str(view.case_id)
    items: list[ButtonElement] = []
    if view.status is CaseStatus.NEW:
        items.append(ButtonElement(text="Claim", action_id=ids.CLAIM, value=value, style="primary"))
    elif view.status is CaseStatus.CLAIMED:
        items.append(ButtonElement(text="Unclaim", action_id=ids.UNCLAIM, value=value))
    items.append(
        ButtonElement(text=f"Open in {NETWORK_NAME[view.post.network]}", action_id=ids.OPEN_POST, url=view.post.url, value=value)
    )
    return items


def fallback_text(view: CaseView) -> str:
    author = view.post.author
    who = f"@{author.handle}" if author.handle else "someone"
    text, cut = escape_within(f"{NETWORK_NAME[view.post.network]} post from {who}: {view.post.text}", FALLBACK_LIMIT - 1)
    return text + "…" if cut else text


def case_card(view: CaseView) -> Card:
    header: list[Any] = []
    if view.post.author.avatar_url:
        header.append(ImageElement(image_url=view.post.author.avatar_url, alt_text=plain_cut(view.post.author.handle or "avatar", 100)))
    header.append(MarkdownTextObject(text=author_line(view)))
    blocks: list[Block] = [
        ContextBlock(block_id="author", elements=header),
        SectionBlock(block_id="post", text=MarkdownTextObject(text=post_text(view))),
        ContextBlock(block_id="meta", elements=[MarkdownTextObject(text=rule_line(view))]),
        ContextBlock(block_id="status", elements=[MarkdownTextObject(text=status_line(view))]),
        ActionsBlock(block_id="actions", elements=buttons(view)),
    ]
    metadata = Metadata(event_type=ids.CASE_METADATA_TYPE, event_payload={"case_id": view.case_id})
    return Card(text=fallback_text(view), blocks=blocks, metadata=metadata)
