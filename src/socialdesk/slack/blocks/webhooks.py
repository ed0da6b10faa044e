"""Answers to `/social webhooks`: the webhooks with their last delivery, and a delivery log. Pure builders."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import Block, ContextBlock, MarkdownTextObject, SectionBlock

from socialdesk.slack.blocks.card import slack_date
from socialdesk.slack.blocks.lookup import Reply
from socialdesk.slack.text import escape, escape_within
from socialdesk.store.views import DeliveryView, WebhookSummaryView
from socialdesk.store.webhooks import display_url

STATUS_ICON = {"delivered": "✅", "pending": "⏳", "failed": "❌"}
ERROR_EXCERPT = 160
MAX_LISTED = 40  # Slack allows 50 blocks in a message


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=text[:3000]))


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=text[:3000])])


def delivery_line(d: DeliveryView) -> str:
    """One delivery: status, event, case, when, answer; the receiver's words escaped (they are untrusted)."""
    when = slack_date(d.delivered_at or d.created_at, "{date_short_pretty} {time}")
    code = f"HTTP {d.last_status_code}" if d.last_status_code is not None else "no answer yet" if not d.attempts else "no answer"
    case = f" case #{d.case_id}" if d.case_id else ""
    line = f"{STATUS_ICON.get(d.status, '•')} `{escape(d.kind)}`{case} · {d.status} · {code} · {when} · attempt {d.attempts}"
    if d.status == "pending" and d.attempts:
        line += f" · next try {slack_date(d.next_attempt_at, '{time}')}"
    if d.last_error and d.status != "delivered":
        error, cut = escape_within(" ".join(d.last_error.split()), ERROR_EXCERPT)
        line += f"\n      _{error}{'…' if cut else ''}_"
    return line


def webhook_list_reply(rows: Sequence[WebhookSummaryView]) -> Reply:
    if not rows:
        text = ("No webhooks yet. `/social webhooks add https://crm.example.com/hooks/socialdesk` sends case "
                "events there, signed; `socialdesk webhooks add` does the same on the server.")
        return Reply(text=text, blocks=[_section(text)])
    blocks: list[Block] = [_section(f"*Webhooks ({len(rows)})*")]
    for s in rows[:MAX_LISTED]:
        w = s.webhook
        url, cut = escape_within(display_url(w.url), 300)
        events = ", ".join(escape(e) for e in w.events) if w.events else "all case events"
        state = "✅ active" if w.active else "⏸ paused"
        last = delivery_line(s.last) if s.last else "no deliveries yet"
        counts = " · ".join(part for part in (f"{s.pending} waiting" if s.pending else "",
                                              f"{s.failed} failed" if s.failed else "") if part)
        blocks.append(_section(f"*{w.id}* · `{url}{'…' if cut else ''}` · {state}\n{events}"
                               + (f" · {counts}" if counts else "") + f"\nLast: {last}"))
    blocks.append(_context("`/social webhooks test <id>` sends a ping now · `/social webhooks log <id>` shows "
                           "recent deliveries · `pause`, `resume`, `remove <id>`"))
    return Reply(text=f"{len(rows)} webhook(s)", blocks=blocks)


def delivery_log_reply(webhook_id: int, deliveries: Sequence[DeliveryView]) -> Reply:
    if not deliveries:
        text = f"Webhook {webhook_id} has sent nothing yet. `/social webhooks test {webhook_id}` sends a ping."
        return Reply(text=text, blocks=[_section(text)])
    lines = "\n".join(delivery_line(d) for d in deliveries)
    return Reply(text=f"Webhook {webhook_id}: the last {len(deliveries)} deliveries",
                 blocks=[_section(f"*Webhook {webhook_id}: the last {len(deliveries)} deliveries, newest first*"),
                         _section(lines)])
