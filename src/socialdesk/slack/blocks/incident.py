"""Incidents in Slack: the anchor's card as the incident card, each member as a message in its thread.

Pure, like the card: `card_for(view)` is what a case's message shows, whichever it is.
- a case in no incident: its card (blocks.card);
- an incident's anchor: its card, then "🌩 6 posts like this in 40 min", the latest
  members, and Reply to all / Resolve all / Ignore all;
- a member: a small card in the incident card's thread with its own buttons and "Split out".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    DividerBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    OverflowMenuElement,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.metadata import Metadata
from slack_sdk.models.views import View

from socialdesk.domain import DUPLICATE, OUTCOMES, CaseView, IncidentView
from socialdesk.networks.base import NetworkInfo
from socialdesk.slack import ids
from socialdesk.slack.blocks.card import (
    STATUS_LABEL,
    Card,
    author_elements,
    buttons,
    case_card,
    fallback_text,
    post_text,
    slack_date,
    status_line,
)
from socialdesk.slack.blocks.lookup import Reply, plain
from socialdesk.slack.blocks.modals import REPLY_MAX_INPUT, metadata, quoted_post
from socialdesk.slack.blocks.resolve import DESCRIPTIONS
from socialdesk.slack.text import escape, escape_within, link
from socialdesk.store.incidents import IncidentSummary
from socialdesk.store.lifecycle import IGNORE_REASONS

LINE_TEXT = 90  # characters of each listed member's post


def card_for(view: CaseView) -> Card:
    """The message the case shows as (see the module's docstring)."""
    if view.in_incident_thread:
        return member_card(view)
    if view.incident is not None:
        return incident_card(view)
    return case_card(view)


def span_label(first: datetime, last: datetime) -> str:
    """How long the storm took: "in 40 min", "in 2 h 5 min", "in under a minute"."""
    minutes = max(0, round((last - first).total_seconds() / 60))
    if minutes < 1:
        return "in under a minute"
    if minutes < 60:
        return f"in {minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"in {hours} h {minutes} min" if minutes else f"in {hours} h"


def storm_line(incident: IncidentView) -> str:
    line = f"🌩 *{incident.count} posts like this {span_label(incident.first_at, incident.last_at)}*"
    closed = incident.count - incident.open_count
    line += f" · {incident.open_count} open" + (f", {closed} done" if closed else "")
    return line + f" · incident #{incident.incident_id}"


def latest_lines(incident: IncidentView) -> str:
    """The newest members, one line each; the rest are in the thread."""
    lines = []
    for member in incident.latest:
        text, cut = escape_within(" ".join(member.text.split()), LINE_TEXT)
        label = STATUS_LABEL[member.status].replace("*", "")
        # A date token cannot be a link's label: the time, then the link.
        lines.append(f"• *@{escape(member.handle)}* {text}{'…' if cut else ''} · {label} · "
                     f"{slack_date(member.written_at, '{time}', '%H:%M UTC')} {link(member.url, 'post')}")
    more = incident.count - 1 - len(incident.latest)  # the anchor is the card itself
    if more > 0:
        lines.append(f"_…and {more} more: each one is its own case, in the thread_")
    else:
        lines.append("_Each one is its own case, in the thread._")
    return "\n".join(lines)


def incident_actions(view: CaseView) -> ActionsBlock:
    incident = view.incident
    assert incident is not None
    value = str(view.case_id)  # the anchor's: the click is checked against its card
    elements = [
        ButtonElement(text="Reply to all…", action_id=ids.INCIDENT_REPLY_ALL, value=value, style="primary"),
        ButtonElement(text="Resolve all…", action_id=ids.INCIDENT_RESOLVE_ALL, value=value),
        ButtonElement(text="Ignore all…", action_id=ids.INCIDENT_IGNORE_ALL, value=value),
    ]
    return ActionsBlock(block_id="incident_actions", elements=elements)


def incident_card(view: CaseView) -> Card:
    """The anchor's card with the storm under it."""
    incident = view.incident
    assert incident is not None
    card = case_card(view)
    blocks: list[Block] = [
        *card.blocks,
        DividerBlock(block_id="incident_divider"),
        SectionBlock(block_id="incident", text=MarkdownTextObject(text=storm_line(incident))),
        SectionBlock(block_id="incident_latest", text=MarkdownTextObject(text=latest_lines(incident))),
    ]
    if incident.open_count:
        blocks.append(incident_actions(view))
    text = f"🌩 {incident.count} posts like this · {card.text}"
    return Card(text=text[:300], blocks=blocks, metadata=card.metadata)


def member_buttons(view: CaseView) -> list[Any]:
    """The case's own buttons, with "Split out" before its ⋯ menu."""
    items = buttons(view)
    split = ButtonElement(text="Split out", action_id=ids.INCIDENT_SPLIT, value=str(view.case_id),
                          confirm=ConfirmObject(title="Split it out?", confirm="Split out", deny="Cancel",
                                                text="This post leaves the incident and gets a card of its own."))
    if items and isinstance(items[-1], OverflowMenuElement):
        return [*items[:-1], split, items[-1]]
    return [*items, split]


def member_card(view: CaseView) -> Card:
    """A member's message in the incident card's thread: the case's two lines, its post, its own buttons."""
    incident = view.incident
    assert incident is not None
    blocks: list[Block] = [
        ContextBlock(block_id="status", elements=[MarkdownTextObject(text=status_line(view))]),
        ContextBlock(block_id="author", elements=author_elements(view, also=f"🌩 in incident #{incident.incident_id}")),
        SectionBlock(block_id="post", text=MarkdownTextObject(text=post_text(view))),
        ActionsBlock(block_id="actions", elements=member_buttons(view)),
    ]
    metadata = Metadata(event_type=ids.INCIDENT_MEMBER_METADATA_TYPE,
                        event_payload={"case_id": view.case_id, "incident_id": incident.incident_id})
    return Card(text=fallback_text(view), blocks=blocks, metadata=metadata)


def split_notice(user: str, case_id: int) -> dict[str, Any]:
    """What a member's old message in the thread becomes once it is split out (no buttons left)."""
    text = f"↗️ Case #{case_id} was split out of this incident by <@{user}>: it has a card of its own now."
    return {"text": text, "blocks": [SectionBlock(text=MarkdownTextObject(text=text)).to_dict()],
            "metadata": Metadata(event_type=ids.INCIDENT_MEMBER_METADATA_TYPE,
                                 event_payload={"case_id": case_id, "split": True})}


def recipients_line(handles: list[str], limit: int = 20) -> PlainTextObject:
    """Who a reply to all goes to, as plain text (handles are the customers' own)."""
    shown = ", ".join(f"@{h}" for h in handles[:limit])
    more = f" and {len(handles) - limit} more" if len(handles) > limit else ""
    return PlainTextObject(text=f"To: {shown}{more}"[:2000], emoji=False)


MAX_RECIPIENTS = 100  # customers one reply to all reaches; the others still wait, for the next one
AUTHOR = "{author}"  # in a reply to all: each customer's @handle (listeners.incidents)


def reply_all_modal(view: CaseView, *, brand: str, recipients: list[tuple[int, str]], rules: NetworkInfo,
                    opened_at: float) -> View:
    """One text for the incident's customers still waiting for an answer (`recipients`: case id, handle).

    The cases are kept in the modal: what the agent reviewed is what goes out, whoever joins meanwhile.
    """
    incident = view.incident
    assert incident is not None
    chosen = recipients[:MAX_RECIPIENTS]
    n = len(chosen)
    blocks: list[Block] = [
        quoted_post(view, 300),
        ContextBlock(elements=[MarkdownTextObject(
            text=f"⚠️ Sending *publicly* as *@{escape(brand)}* to *{n} customer{'s' if n != 1 else ''}*, each in "
                 "reply to their own post, one after the other. Each reply is sent once and kept in its case's history.")]),
        ContextBlock(block_id="incident_recipients", elements=[recipients_line([h for _, h in chosen])]),
    ]
    if len(recipients) > n:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(
            text=f"_The first {n} of {len(recipients)}; press Reply to all again for the rest._")]))
    blocks.append(InputBlock(
        block_id=ids.INCIDENT_REPLY_INPUT, label="Reply to each of them",
        element=PlainTextInputElement(action_id=ids.INCIDENT_REPLY_INPUT, multiline=True, max_length=REPLY_MAX_INPUT,
                                      initial_value=AUTHOR + " "),
        hint=(f"{rules.text_hint} {AUTHOR} becomes each customer's @handle: keep it, networks refuse the same text "
              "sent many times as duplicates.")[:2000]))
    meta = metadata(view.case_id, incident_id=incident.incident_id, cases=[c for c, _ in chosen],
                    opened_at=opened_at, network=view.post.network, channel=view.channel_id)
    return View(type="modal", callback_id=ids.INCIDENT_REPLY_MODAL, private_metadata=meta,
                title="Reply to all", submit=f"Send {n} repl{'ies' if n != 1 else 'y'}"[:24], close="Cancel",
                blocks=blocks)


def resolve_all_modal(view: CaseView) -> View:
    """How the incident's open cases were resolved (one outcome for all; a duplicate is resolved on its own card)."""
    incident = view.incident
    assert incident is not None
    n = incident.open_count
    options = [Option(text=OUTCOMES[o].capitalize(), value=o) for o in OUTCOMES if o != DUPLICATE]
    hint = " · ".join(f"{OUTCOMES[o].capitalize()}: {d}" for o, d in DESCRIPTIONS.items() if o != DUPLICATE)
    return View(
        type="modal", callback_id=ids.INCIDENT_RESOLVE_MODAL,
        private_metadata=metadata(view.case_id, incident_id=incident.incident_id),
        title="Resolve the incident", submit="Resolve all", close="Cancel",
        blocks=[
            SectionBlock(text=MarkdownTextObject(
                text=f"Each of its {n} open case{'s' if n != 1 else ''} is resolved, one by one, in its own "
                     "history; their owners are told.")),
            InputBlock(block_id=ids.OUTCOME_INPUT, label="How were they resolved?", hint=hint,
                       element=StaticSelectElement(action_id=ids.OUTCOME_INPUT, options=options,
                                                   initial_option=options[0], placeholder="Choose an outcome")),
        ],
    )


def ignore_all_modal(view: CaseView) -> View:
    incident = view.incident
    assert incident is not None
    n = incident.open_count
    return View(
        type="modal", callback_id=ids.INCIDENT_IGNORE_MODAL,
        private_metadata=metadata(view.case_id, incident_id=incident.incident_id),
        title="Ignore the incident", submit="Ignore all", close="Cancel",
        blocks=[
            SectionBlock(text=MarkdownTextObject(
                text=f"Each of its {n} open case{'s' if n != 1 else ''} is ignored, one by one, in its own history.")),
            InputBlock(block_id=ids.IGNORE_REASON_INPUT, label="Why",
                       element=StaticSelectElement(action_id=ids.IGNORE_REASON_INPUT, options=[
                           Option(text=label.capitalize(), value=key) for key, label in IGNORE_REASONS.items()])),
        ],
    )


def incidents_reply(items: Sequence[IncidentSummary], *, permalinks: Mapping[int, str | None],
                    limit: int) -> Reply:
    """`/social incidents`: the open incidents, the latest joined first, each with its card's link."""
    if not items:
        return plain("No open incidents: no storm of near-identical posts is waiting. 🎉")
    lines = [f"*Open incidents* ({len(items)}{'+' if len(items) >= limit else ''})"]
    for item in items:
        text, cut = escape_within(" ".join(item.text.split()), LINE_TEXT)
        name = f"Incident #{item.incident_id}"
        link_to = permalinks.get(item.anchor_case_id)
        lines.append(
            f"• {link(link_to, name) if link_to else name} · *{item.count} posts* "
            f"{span_label(item.first_at, item.last_at)} · {item.open_count} open · first: *@{escape(item.handle)}* "
            f"{text}{'…' if cut else ''} · case #{item.anchor_case_id}")
    text = "\n".join(lines)
    return Reply(text=f"{len(items)} open incident{'s' if len(items) != 1 else ''}",
                 blocks=[SectionBlock(text=MarkdownTextObject(text=text[:3000]))])
