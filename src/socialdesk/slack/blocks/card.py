"""The case card: one message per case, updated in place as the case moves.

Four blocks, so a channel of cards reads as a list: the status line first ("🙋 @alice · claimed
4 minutes ago · ⏱ reply due today 16:05 · 🔥 High priority …"), the author's line beside their
avatar (who, followers, when, rule, case number), the post, the buttons. Times are Slack date
tokens: each reader sees them in their own zone, and `{ago}` stays true without a redraw.
"""

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
    Option,
    OverflowMenuElement,
    SectionBlock,
)
from slack_sdk.models.metadata import Metadata

from socialdesk.domain import DUPLICATE, OUTCOMES, CaseStatus, CaseView
from socialdesk.networks import registry
from socialdesk.slack import ids
from socialdesk.slack.text import escape, escape_within, link
from socialdesk.triage.sentiment import sentiment_label
from socialdesk.triage.triaged import LIKELY_SPAM

S = CaseStatus
SECTION_TEXT_LIMIT = 3000  # Block Kit's limit for a section's text
POST_TEXT_BUDGET = 2800  # leaves room for the "read the rest" link
FALLBACK_LIMIT = 300  # notification text: short, like Slack's own previews
STATUS_LABEL = {
    S.NEW: "🆕 *New*",
    S.REOPENED: "🔁 *Reopened*",
    S.CLAIMED: "🙋 *Claimed*",
    S.REPLIED: "💬 *Replied*",
    S.RESOLVED: "✅ *Resolved*",
    S.IGNORED: "🚫 *Ignored*",
}
SENTIMENT_LABEL = {"negative": "😠 negative", "positive": "🙂 positive", "neutral": "😐 neutral"}
# What the post asks of the team (triage.intent); VADER's number stays beside it, small.
INTENT_LABEL = {"complaint": "😠 *complaint*", "question": "❓ *question*", "praise": "🙌 *praise*",
                "other": "💬 *other*"}
COLLAPSED_TEXT = 150  # a collapsed card (filed as likely spam) shows this much of the post
PRIORITY_LABEL = {"high": "🔥 *High priority*", "normal": "Normal priority", "low": "Low priority"}
DAY_AND_TIME = "{date_short_pretty} {time}"  # "today 14:05", "yesterday 09:12", "Nov 27 14:05" in the reader's zone
RULE_QUERY_SHOWN = 60  # characters of the matched rule's query on the card (`rules show` has all of it)


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
    if view.post_removed:  # deleted/withheld at the source: the text is already the notice (store.retention)
        return f"{'🗑️' if view.post_removed == 'deleted' else '🚫'} _{escape(view.post.text)}_"
    body, cut = escape_within(view.post.text, POST_TEXT_BUDGET)
    if cut:
        body += f"… {link(view.post.url, 'read the whole post on ' + registry.label(view.post.network))}"
    return body or "_(no text)_"


def author_line(view: CaseView, *, also: str = "") -> str:
    """Line two: who wrote it, when, why it is here (rule, route) and the case's number; `also` goes before the number."""
    author = view.post.author
    handle = f"@{author.handle}" if author.handle else "unknown account"
    network = registry.info(view.post.network)
    profile = (network.profile_url(author.handle) if author.handle else "") or view.post.url
    parts = [f"{network.icon} {network.label} · *{escape(author.name or handle)}* {link(profile, handle)}",
             followers_label(author.followers)]
    if author.verified:
        parts.append("verified ✔︎")
    parts.append(f"{link(view.post.url, 'posted')} {slack_date(view.post.created_at, DAY_AND_TIME)}")
    if view.post_edited_at is not None and not view.post_removed:
        parts.append(f"edited {slack_date(view.post_edited_at, DAY_AND_TIME)}")
    if view.rule_id is None:
        parts.append("rule removed")
    else:
        query, cut = escape_within(view.rule_query or "", RULE_QUERY_SHOWN)
        parts.append(f"rule #{view.rule_id} `{query}{'…' if cut else ''}`")
    if routed := routed_label(view):
        parts.append(routed)
    if also:
        parts.append(also)
    parts.append(f"case #{view.case_id}")
    return " · ".join(parts)


def author_elements(view: CaseView, *, also: str = "") -> list[Any]:
    """The author's avatar (when the network gave one) beside line two."""
    elements: list[Any] = []
    if view.post.author.avatar_url:
        elements.append(ImageElement(image_url=view.post.author.avatar_url,
                                     alt_text=(view.post.author.handle or "avatar")[:100]))
    elements.append(MarkdownTextObject(text=author_line(view, also=also)))
    return elements


def routed_label(view: CaseView) -> str:
    """"↪️ routed from #rule-channel: question" when a route opened the case here, else ""."""
    if not view.routed_from:
        return ""
    because = view.routed_because or ""
    kind, _, name = because.partition(" ")
    why = f"`#{escape(name)}`" if kind == "tag" else escape(name or because)
    return f"↪️ routed from <#{escape(view.routed_from)}>" + (f": {why}" if why else "")


def triage_parts(view: CaseView) -> list[str]:
    """What to do about it, the most pressing first: the SLA, then priority (when not normal), intent, tags."""
    parts = []
    if view.sla_due and view.status in (S.NEW, S.REOPENED, S.CLAIMED):  # sla_due: none once answered
        parts.append(sla_label(view.sla_state, view.sla_due))
    if view.priority != "normal":  # the usual one says nothing: only a deviation earns its place
        parts.append(PRIORITY_LABEL.get(view.priority, escape(view.priority)))
    label = sentiment_label(view.sentiment)
    if view.intent in INTENT_LABEL:  # triaged: what the post asks for, the sentiment only as a number
        mood = f" _(sentiment {view.sentiment:+.2f})_" if view.sentiment is not None else ""
        parts.append(INTENT_LABEL[view.intent] + mood)
    elif label in SENTIMENT_LABEL:  # a case opened before intents were read
        parts.append(f"{SENTIMENT_LABEL[label]} ({view.sentiment:+.2f})")
    if view.tags:
        parts.append(" ".join(f"`#{escape(t)}`" for t in view.tags))
    if view.lang_detected and view.post.lang:
        parts.append(f"lang: {escape(view.post.lang)} (detected)")
    return parts


def sla_label(state: str | None, due: datetime) -> str:
    """The first-reply deadline as the SLA sweep last saw it (see jobs.sla).

    "Overdue" uses Slack's `{ago}` token: each client shows how late it is *now*, which a
    number written into the card at breach time (about 0 min then) could not.
    """
    when = slack_date(due, DAY_AND_TIME)
    if state == "breached":
        return f"🔴 *First response overdue* — was due {when} ({slack_date(due, '{ago}', '%H:%M UTC')})"
    if state == "at_risk":
        return f"⚠️ *SLA at risk* — due {when}"
    return f"⏱ reply due {when}"


def spam_line(view: CaseView) -> str:
    """"⚠️ likely spam: 1 link in 9 words · giveaway words: free" (the signals triage.spam read)."""
    reasons = " · ".join(escape(r) for r in view.spam_reasons) or f"score {view.spam_score or 0:.2f}"
    return f"⚠️ *likely spam*: {reasons}"


def filed_as_spam(view: CaseView) -> bool:
    """Filed as ignored at ingest because it looked like spam: its card is collapsed, with "Not spam"."""
    return view.status is S.IGNORED and view.ignored_reason == LIKELY_SPAM


def ago(when: datetime | None) -> str:
    """" 4 minutes ago", live in each reader's client (the card is not redrawn as time passes)."""
    return f" {slack_date(when, '{ago}')}" if when else ""


# The status each transition leads to, by the word its `last_action` starts with (store.lifecycle,
# store.conversations): the status line says it once, with who did it, instead of twice.
TRANSITION_WORD = {S.REPLIED: "replied", S.RESOLVED: "resolved", S.REOPENED: "reopened", S.IGNORED: "ignored"}


def _action_at(view: CaseView) -> datetime | None:
    """When the last action happened: `updated_at`, unless the customer wrote since (that moves it too)."""
    if view.customer_wrote_at is not None and view.updated_at is not None and view.customer_wrote_at >= view.updated_at:
        return None  # the 📨 line under it says when the customer wrote
    return view.updated_at


def state(view: CaseView) -> str:
    """Where the case stands and who has it: "🙋 @alice · claimed 4 minutes ago", "✅ *Resolved* by @bob …"."""
    action, emoji = view.last_action or "", STATUS_LABEL[view.status].split(" ")[0]
    told = False  # the last action is already said by the status itself
    if view.status is S.CLAIMED and view.assignee:
        owner = f"<@{view.assignee}>"
        how = "claimed"
        if action.startswith(f"assigned to {owner} by "):
            how, told = f"assigned by {action.removeprefix(f'assigned to {owner} by ')}", True
        told = told or action == f"claimed by {owner}"
        head = f"{emoji} {owner} · {how}{ago(view.claimed_at)}"
    elif (word := TRANSITION_WORD.get(view.status)) and action.partition(" ")[0].rstrip(":") == word:
        told, rest = True, action[len(word):]
        if view.status is S.RESOLVED and view.outcome:  # "resolved (fixed) by …": the outcome comes first
            rest = rest.split(")", 1)[1] if rest.startswith(" (") and ")" in rest else rest
            rest = f" · {outcome_text(view)}{rest}"
        head = f"{emoji} *{word.capitalize()}*{rest}{ago(_action_at(view))}"
    else:
        head = STATUS_LABEL[view.status]
        if view.status is S.IGNORED and view.ignored_reason:
            head += f" as {view.ignored_reason.replace('_', ' ')}"
        if view.status is S.RESOLVED and view.outcome:  # the last action (a note …) no longer says how
            head += f" · {outcome_text(view)}"
        if view.status in (S.NEW, S.REOPENED):
            head += f" · opened{ago(view.opened_at)}"
    parts = [head]
    if view.assignee and view.status is not S.NEW and f"<@{view.assignee}>" not in head:
        owner = f"<@{view.assignee}>"
        if action.startswith(f"assigned to {owner} by "):  # a replied case keeps its status when assigned
            owner, told = f"{owner} assigned by {action.removeprefix(f'assigned to {owner} by ')}{ago(_action_at(view))}", True
        parts.append(f"owner {owner}")
    if action and not told:
        parts.append(f"{action}{ago(_action_at(view))}")
    return " · ".join(parts)


def status_line(view: CaseView) -> str:
    """Line one: the status first, then what to do about it; a new customer reply and a colleague typing under it."""
    line = " · ".join([state(view), *([] if filed_as_spam(view) else triage_parts(view))])  # collapsed: spam says it
    if view.duplicates:
        line += "\n🔗 " + duplicates_text(view.duplicates)
    if view.customer_wrote_at:
        line += f"\n📨 *New reply from the customer* {slack_date(view.customer_wrote_at, '{ago}')} — see the thread"
    if view.replying_user:
        line += f"\n✍️ <@{view.replying_user}> is replying…"
    return line


def outcome_text(view: CaseView) -> str:
    """"answered", "duplicate of case #12" (the number `/social case` finds)."""
    if view.outcome == DUPLICATE and view.duplicate_of is not None:
        return f"duplicate of case #{view.duplicate_of}"
    return OUTCOMES.get(view.outcome or "", escape(view.outcome or ""))


def duplicates_text(duplicates: tuple[int, ...]) -> str:
    """"Duplicates: #13, #14" on the case they duplicate."""
    return ("Duplicate" if len(duplicates) == 1 else "Duplicates") + ": " + ", ".join(f"case #{d}" for d in duplicates)


def _button(text: str, action_id: str, value: str, style: str | None = None) -> ButtonElement:
    return ButtonElement(text=text, action_id=action_id, value=value, style=style)


def buttons(view: CaseView) -> list[Any]:
    value = str(view.case_id)
    if filed_as_spam(view):  # reopens it as new: a real customer filed as spam is the worst error
        return [_button("Not spam", ids.NOT_SPAM, value, "primary"), _button("Note", ids.NOTE, value), menu(view)]
    reply, note = _button("Reply", ids.REPLY, value), _button("Note", ids.NOTE, value)
    resolve = _button("Resolve", ids.RESOLVE, value)
    if view.status in (S.NEW, S.REOPENED):
        items = [_button("Claim", ids.CLAIM, value, "primary"), reply, note, resolve]
    elif view.status is S.CLAIMED:
        items = [_button("Reply", ids.REPLY, value, "primary"), note, resolve]
    elif view.status is S.REPLIED:
        items = [_button("Resolve", ids.RESOLVE, value, "primary"), reply, note]
    else:
        items = [_button("Reopen", ids.REOPEN, value), note]
    if view.status is S.RESOLVED:  # the answer worked: keep it for the team (listeners/faq.py)
        items.append(_button("📖 Edit FAQ" if view.faq_entry_id else "📖 Save as FAQ", ids.FAQ_SAVE, value))
    return [*items, menu(view)]


def menu(view: CaseView) -> OverflowMenuElement:
    """At most five options (Block Kit's limit for an overflow menu)."""
    cid = view.case_id
    options = []
    if view.status in (S.NEW, S.REOPENED, S.CLAIMED, S.REPLIED):
        options += [Option(text="Assign…", value=f"{ids.MENU_ASSIGN}:{cid}"),
                    Option(text="Ignore…", value=f"{ids.MENU_IGNORE}:{cid}")]
    options.append(Option(text="Tags & priority…", value=f"{ids.MENU_TAGS}:{cid}"))
    if view.status is S.CLAIMED:
        options.append(Option(text="Unclaim", value=f"{ids.MENU_UNCLAIM}:{cid}"))
    options.append(Option(text=f"Open in {registry.label(view.post.network)}", value=f"{ids.MENU_OPEN}:{cid}",
                          url=view.post.url))
    return OverflowMenuElement(action_id=ids.MENU, options=options)


def fallback_text(view: CaseView) -> str:
    author = view.post.author
    who = f"@{author.handle}" if author.handle else "someone"
    text, cut = escape_within(f"{registry.label(view.post.network)} post from {who}: {view.post.text}", FALLBACK_LIMIT - 1)
    return text + "…" if cut else text


def collapsed_text(view: CaseView) -> str:
    """The opening of the post, in one small line (a card filed as likely spam)."""
    body, cut = escape_within(" ".join(view.post.text.split()), COLLAPSED_TEXT)
    return f"_{body}{'…' if cut else ''}_" if body else "_(no text)_"


def case_card(view: CaseView) -> Card:
    """Two lines around the post: where the case stands (first), then who wrote it and why it is here."""
    collapsed = filed_as_spam(view)
    blocks: list[Block] = [
        ContextBlock(block_id="status", elements=[MarkdownTextObject(text=status_line(view))]),
        ContextBlock(block_id="author", elements=author_elements(view)),
        ContextBlock(block_id="post", elements=[MarkdownTextObject(text=collapsed_text(view))]) if collapsed
        else SectionBlock(block_id="post", text=MarkdownTextObject(text=post_text(view))),
    ]
    if view.likely_spam:
        blocks.append(ContextBlock(block_id="spam", elements=[MarkdownTextObject(text=spam_line(view))]))
    blocks.append(ActionsBlock(block_id="actions", elements=buttons(view)))
    metadata = Metadata(event_type=ids.CASE_METADATA_TYPE, event_payload={"case_id": view.case_id})
    return Card(text=fallback_text(view), blocks=blocks, metadata=metadata)
