"""What notices say (jobs.notices): the assignee's DM, the owner's ping on a follow-up, the SLA nudges.

Pure: plain views in, text and blocks out. Untrusted text (the customer's handle and post) is
escaped; mentions are built only from Slack ids.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement, ContextBlock, MarkdownTextObject, SectionBlock

from socialdesk.domain import CaseView
from socialdesk.networks import registry
from socialdesk.slack import ids
from socialdesk.slack.blocks.card import slack_date
from socialdesk.slack.text import escape, escape_within

DUE_FORMAT = "{date_short_pretty} at {time}"
DUE_FALLBACK = "%Y-%m-%d %H:%M UTC"
QUOTE_LIMIT = 600  # of the customer's post in a DM: enough to know the case, the card has the rest
USER = re.compile(r"^[UW][A-Z0-9]{2,20}$")
GROUP = re.compile(r"^S[A-Z0-9]{2,20}$")
NOBODY = "nobody owns this case yet"


@dataclass(frozen=True)
class Message:
    """chat.postMessage's text (the notification) and, when there are any, its blocks."""

    text: str
    blocks: list[Block] = field(default_factory=list)

    def as_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"text": self.text}
        if self.blocks:
            kwargs["blocks"] = [b.to_dict() for b in self.blocks]
        return kwargs


def mention(who: str) -> str:
    """A user (U…/W…) or user group (S…) as a mention that notifies them; anything else shown, escaped."""
    if USER.match(who or ""):
        return f"<@{who}>"
    if GROUP.match(who or ""):
        return f"<!subteam^{who}>"
    return escape(who or "?")


def minutes(delta: timedelta) -> str:
    total = max(0, int(delta.total_seconds() // 60))
    if total < 120:
        return f"{total} min"
    return f"{total // 60} h {total % 60:02d} min"


def _due(when: datetime) -> str:
    return slack_date(when, DUE_FORMAT, DUE_FALLBACK)


def _who(owner: str | None, oncall: str | None) -> str:
    """Whom a nudge is for: the owner; else on-call, said to be because nobody owns it; else that alone."""
    if owner:
        return f" {mention(owner)}"
    if oncall:
        return f" {mention(oncall)} — {NOBODY}"
    return f" — {NOBODY}"


def at_risk(*, due: datetime, left: timedelta, owner: str | None, oncall: str | None) -> Message:
    """The nudge in the card's thread when the first reply is at risk."""
    return Message(f"⏰ First-response SLA at risk: due {_due(due)} ({minutes(left)} left){_who(owner, oncall)}")


def breached(*, due: datetime, target: timedelta, priority: str, owner: str | None, oncall: str | None) -> Message:
    """The line in the card's thread when the first reply is overdue."""
    return Message(f"🚨 SLA breached: no first response within {minutes(target)} ({escape(priority)} priority, "
                   f"was due {_due(due)}){_who(owner, oncall)}")


def lead_dm(*, case_id: int, channel_id: str, permalink: str | None, priority: str, due: datetime,
            owner: str | None) -> Message:
    """The team lead's DM on a breach (SOCIALDESK_SLA_LEAD)."""
    card = f"<{permalink}|case #{case_id}>" if permalink else f"case #{case_id} in <#{channel_id}>"
    owned = f"owned by {mention(owner)}" if owner else "unclaimed"
    return Message(f"🚨 First-response SLA breached on {card}: {escape(priority)} priority, due {_due(due)}, {owned}.")


def assigned_dm(view: CaseView, *, by: str, permalink: str | None) -> Message:
    """The assignee's DM: who gave them which case, the post, and an Open button to its card (no Claim:
    assigning made it theirs)."""
    handle = escape(view.post.author.handle)
    where = escape(registry.label(view.post.network))
    head = f"👉 {mention(by)} assigned you *case #{view.case_id}*: @{handle} on {where}"
    body, cut = escape_within(view.post.text, QUOTE_LIMIT)
    quoted = ">" + body.replace("\n", "\n>") + ("…" if cut else "")
    facts = [f"{escape(view.priority)} priority"]
    if view.sla_due is not None:
        facts.append(f"⏱ reply due {_due(view.sla_due)}")
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=f"{head}\n{quoted}"), block_id="notice"),
        ContextBlock(elements=[MarkdownTextObject(text=" · ".join(facts))], block_id="notice_facts"),
    ]
    if permalink:
        blocks.append(ActionsBlock(block_id="notice_actions", elements=[
            ButtonElement(text="Open", url=permalink, action_id=ids.NOTICE_OPEN, value=str(view.case_id))]))
    else:  # no link to the card (Slack did not give one): say where it is
        blocks.append(ContextBlock(block_id="notice_where", elements=[MarkdownTextObject(
            text=f"Its card is in <#{view.channel_id}>; `/social case {view.case_id}` links to it.")]))
    return Message(f"{mention(by)} assigned you case #{view.case_id} (@{handle} on {where})", blocks)


def reassigned_dm(view: CaseView, *, by: str, to: str, permalink: str | None) -> Message:
    """The DM to the owner a case was taken from: who gave it to whom, so they stop working it."""
    handle = escape(view.post.author.handle)
    where = escape(registry.label(view.post.network))
    case = f"<{permalink}|case #{view.case_id}>" if permalink else f"case #{view.case_id}"
    text = (f"↪️ {mention(by)} gave {case} (@{handle} on {where}), which you owned, to {mention(to)}. "
            "It is theirs now: nothing more to do on it unless they ask you.")
    return Message(text)


def follow_up_ping(*, owner: str, handle: str, posts: int, reopened: bool) -> Message:
    """The owner's ping in the card's thread: the customer wrote again (`posts` times since the last ping)."""
    again = f"wrote again ({posts} new posts)" if posts > 1 else "wrote again"
    state = ": the case is reopened and still yours." if reopened else "."
    return Message(f"🔔 {mention(owner)} @{escape(handle)} {again}{state}")
