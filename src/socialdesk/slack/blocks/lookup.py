"""Answers to `/social` lookups: a case, case lists with Prev/Next, team figures. Pure builders."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    MarkdownTextObject,
    SectionBlock,
)

from socialdesk.domain import CaseStatus, CaseView
from socialdesk.slack import ids
from socialdesk.slack.blocks.card import INTENT_LABEL, PRIORITY_LABEL, STATUS_LABEL, duplicates_text, outcome_text, slack_date
from socialdesk.slack.text import escape, escape_within, link, plain_cut
from socialdesk.store.figures import Figures, Spread
from socialdesk.store.lookups import AuthorPage, CaseItem, CasePage

PAGE_SIZE = 10
LIST_EXCERPT = 140
CASE_EXCERPT = 600
HISTORY_LIMIT = 10
NOTE_EXCERPT = 120
SECTION_LIMIT = 3000
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,30}$")


class HistoryEvent(Protocol):
    kind: str
    actor: str
    at: datetime
    payload: dict[str, Any] | None


@dataclass(frozen=True)
class Reply:
    """An ephemeral answer: fallback text and blocks, and optional slow work to do after the ack."""

    text: str
    blocks: list[Block]
    after: Callable[[], None] | None = field(default=None, compare=False)

    def as_kwargs(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": [b.to_dict() for b in self.blocks]}


def _section(text: str, block_id: str | None = None) -> SectionBlock:
    if len(text) > SECTION_LIMIT:
        text = text[: SECTION_LIMIT - 1] + "…"
    return SectionBlock(text=MarkdownTextObject(text=text), block_id=block_id)


def _context(text: str, block_id: str | None = None) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=text[:SECTION_LIMIT])], block_id=block_id)


def plain(text: str) -> Reply:
    """A short message (usage, not found): `text` is already safe mrkdwn."""
    return Reply(text=text, blocks=[_section(text)])


def long_plain(text: str) -> Reply:
    """A message that may pass a section's limit (`/social help`): whole lines packed into sections."""
    sections, current = [], ""
    for line in text.split("\n"):
        if current and len(current) + 1 + len(line) > SECTION_LIMIT:
            sections.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    sections.append(current)
    return Reply(text=text[:SECTION_LIMIT], blocks=[_section(t) for t in sections if t.strip()])


def mention(actor: str) -> str:
    """A Slack user id as a mention; anything else ("system", odd ids) shown escaped."""
    if _USER_ID.match(actor or ""):
        return f"<@{actor}>"
    return escape(actor or "someone")


def excerpt(text: str, limit: int) -> str:
    """One line of untrusted post text, escaped and cut."""
    flat = " ".join((text or "").split())
    body, cut = escape_within(flat, limit)
    return (body + ("…" if cut else "")) or "_(no text)_"


def age(since: datetime, now: datetime) -> str:
    seconds = max(0, int((now - since).total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h {seconds % 3600 // 60}m"
    return f"{seconds // 86400}d {seconds % 86400 // 3600}h"


def duration(value: timedelta) -> str:
    return age(datetime.min, datetime.min + value)


def case_label(case_id: int, permalink: str | None) -> str:
    return link(permalink, f"Case #{case_id}") if permalink else f"*Case #{case_id}*"


EVENT_LABEL = {
    "opened": "opened",
    "claimed": "claimed",
    "unclaimed": "unclaimed",
    "assigned": "assigned",
    "note": "note",
    "reply_requested": "reply requested",
    "reply_approved": "reply approved",
    "reply_rejected": "reply rejected",
    "reply_sent": "reply sent",
    "reply_failed": "reply failed",
    "reply_refused": "reply refused",
    "reply_drafted": "reply drafted",
    "marked_replied": "marked replied",
    "resolved": "resolved",
    "reopened": "reopened",
    "ignored": "ignored",
    "tagged": "tagged",
    "priority": "priority changed",
    "follow_up": "customer wrote again",
    "card_posted": "card posted",
    "removed_at_source": "post removed at the source",
    "edited_at_source": "post edited by its author",
    "routed": "routed",
}


def history_line(event: HistoryEvent) -> str:
    label = EVENT_LABEL.get(event.kind, escape(event.kind))
    line = f"{slack_date(event.at, '{date_short} {time}')} · {label} by {mention(event.actor)}"
    payload = event.payload or {}
    if event.kind == "assigned" and isinstance(payload.get("to"), str):
        line += f" → {mention(payload['to'])}"
    if event.kind == "note" and isinstance(payload.get("text"), str):
        line += f": _{excerpt(payload['text'], NOTE_EXCERPT)}_"
    if event.kind == "reply_drafted" and isinstance(payload.get("model"), str):
        line += f" (with {escape(payload['model'][:60])})"
    if event.kind == "ignored" and isinstance(payload.get("reason"), str):
        line += f" ({escape(payload['reason'].replace('_', ' '))})"
        if payload.get("automatic") is True:
            line += " — automatically; *Not spam* on its card opens it again"
    if event.kind == "reopened" and payload.get("not_spam") is True:
        line += " (not spam)"
    if event.kind == "routed" and isinstance(payload.get("to"), str) and isinstance(payload.get("from"), str):
        line += f" from <#{escape(payload['from'])}> to <#{escape(payload['to'])}>"
        if isinstance(payload.get("because"), str):
            line += f" ({escape(payload['because'])})"
    return line


def case_reply(view: CaseView, history: Sequence[HistoryEvent], *, permalink: str | None, now: datetime) -> Reply:
    """`/social case <id>`: status, owner, the post, a link to the card, the last events."""
    author = view.post.author
    status = STATUS_LABEL[view.status]
    if view.status is CaseStatus.RESOLVED and view.outcome:
        status += f" · {outcome_text(view)}"
    owner = f"owner {mention(view.assignee)}" if view.assignee else "no owner"
    head = (f"{case_label(view.case_id, permalink)} · {status} · {owner} · "
            f"{PRIORITY_LABEL.get(view.priority, escape(view.priority))} · opened {age(view.opened_at, now)} ago")
    if view.intent in INTENT_LABEL:
        head += f" · {INTENT_LABEL[view.intent]}"
    if view.likely_spam:
        head += " · ⚠️ likely spam: " + ", ".join(escape(r) for r in view.spam_reasons[:4])
    if view.duplicates:
        head += "\n🔗 " + duplicates_text(view.duplicates)
    who = f"*{escape(author.name or author.handle)}* @{escape(author.handle)} · {link(view.post.url, 'open post')}"
    blocks: list[Block] = [
        _section(head, "case_head"),
        _section(f"{who}\n>{excerpt(view.post.text, CASE_EXCERPT)}", "case_post"),
    ]
    recent = list(history)[-HISTORY_LIMIT:]
    if recent:
        more = len(history) - len(recent)
        title = f"*History* (last {len(recent)} of {len(history)})" if more else "*History*"
        blocks.append(_section(title + "\n" + "\n".join(history_line(e) for e in recent), "case_history"))
    if not permalink:
        blocks.append(_context("The card is not in Slack yet." if not view.message_ts else "Card link unavailable."))
    text = f"Case #{view.case_id}: {view.status.value}, @{plain_cut(author.handle, 60)}"
    return Reply(text=escape(text), blocks=blocks)


def item_line(item: CaseItem, *, permalink: str | None, now: datetime, show_owner: bool = True,
              show_age: bool = False) -> str:
    parts = [case_label(item.case_id, permalink), STATUS_LABEL[item.status]]
    if item.priority == "high":
        parts.append("🔥")
    if show_owner and item.assignee:
        parts.append(mention(item.assignee))
    if show_age:
        parts.append(f"waiting {age(item.opened_at, now)}")
    else:
        parts.append(f"updated {age(item.updated_at, now)} ago")
    parts.append(f"@{escape(item.handle)}")
    return " · ".join(parts) + f"\n>{excerpt(item.text, LIST_EXCERPT)}"


BUTTON_VALUE_LIMIT = 2000  # Block Kit's limit for a button's value


def nav_value(view: str, arg: str, offset: int) -> str:
    """The whole search (cut, Prev/Next would page through another one: its filters were at the end);
    a value too long for a button leaves the button out (nav_buttons)."""
    return json.dumps({"v": view, "a": arg, "o": max(0, offset)}, separators=(",", ":"), ensure_ascii=False)


def parse_nav_value(value: str) -> tuple[str, str, int] | None:
    try:
        data = json.loads(value)
        view, arg, offset = data["v"], data.get("a", ""), data["o"]
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):  # RecursionError: '[' * 2000
        return None
    if not isinstance(view, str) or not isinstance(arg, str) or not isinstance(offset, int) or offset < 0:
        return None
    return view, arg, offset


def nav_block(page: CasePage, view: str, arg: str) -> ActionsBlock | None:
    return nav_buttons(view, arg, offset=page.offset, shown=len(page.items[:PAGE_SIZE]), limit=page.limit,
                       has_more=page.has_more)


def nav_buttons(view: str, arg: str, *, offset: int, shown: int, limit: int, has_more: bool) -> ActionsBlock | None:
    """Prev/Next for a list; a button whose value would be too long for Slack is left out."""
    buttons = []
    candidates = []
    if offset > 0:
        candidates.append(("◀ Prev", ids.LOOKUP_PREV, nav_value(view, arg, max(0, offset - limit))))
    if has_more:
        candidates.append(("Next ▶", ids.LOOKUP_NEXT, nav_value(view, arg, offset + shown)))
    for label, action_id, value in candidates:
        if len(value) <= BUTTON_VALUE_LIMIT:
            buttons.append(ButtonElement(text=label, action_id=action_id, value=value))
    return ActionsBlock(elements=buttons, block_id="lookup_nav") if buttons else None


def _status(value: str) -> CaseStatus | None:
    try:
        return CaseStatus(value)
    except ValueError:
        return None


def search_reply(page: Any, *, text: str, offset: int, limit: int, permalinks: Mapping[int, str | None],
                 now: datetime) -> Reply:
    """`/social search`: one line per case (its newest matching post, note or reply)."""
    shown_query = excerpt(text, 200)
    if not page.hits:
        msg = f"Nothing matches `{shown_query}`." if offset == 0 else "No more results."
        return Reply(text=msg, blocks=[_section(msg, "lookup_title")])
    hits = page.hits[:PAGE_SIZE]
    first, last = offset + 1, offset + len(hits)
    total = f" of {page.total}" if page.total is not None else ""
    blocks: list[Block] = [_section(f"*Search* `{shown_query}` · {first}–{last}{total}", "lookup_title")]
    for hit in hits:
        status = STATUS_LABEL.get(_status(hit.status), escape(str(hit.status)))
        who = f"@{escape(hit.author_handle)}" if hit.author_handle else "unknown account"
        line = (f"{case_label(hit.case_id, permalinks.get(hit.case_id))} · {status} · {escape(hit.kind)} · {who} · "
                f"{age(hit.created_at, now)} ago")
        if hit.post_url:
            line += f" · {link(hit.post_url, 'open post')}"
        blocks.append(_section(f"{line}\n>{excerpt(hit.snippet, LIST_EXCERPT + 40)}", f"case_{hit.case_id}"))
    nav = nav_buttons("search", text, offset=offset, shown=len(hits), limit=limit, has_more=page.has_more)
    if nav is not None:
        blocks.append(nav)
    count = page.total if page.total is not None else len(hits)
    return Reply(text=f"Search: {count} case{'s' if count != 1 else ''}", blocks=blocks)


def case_list_reply(page: CasePage, *, title: str, empty: str, view: str, arg: str = "",
                    permalinks: Mapping[int, str | None], now: datetime, show_age: bool = False,
                    show_owner: bool = True) -> Reply:
    """A page of cases (at most PAGE_SIZE shown), each linked to its card, with Prev/Next."""
    if not page.items:
        return Reply(text=empty, blocks=[_section(f"{title}\n{empty}", "lookup_title")])
    shown = page.items[:PAGE_SIZE]
    first, last = page.offset + 1, page.offset + len(shown)
    blocks: list[Block] = [_section(f"{title} · {first}–{last} of {page.total}", "lookup_title")]
    for item in shown:
        blocks.append(_section(item_line(item, permalink=permalinks.get(item.case_id), now=now,
                                         show_owner=show_owner, show_age=show_age), f"case_{item.case_id}"))
    nav = nav_block(page, view, arg)
    if nav is not None:
        blocks.append(nav)
    return Reply(text=f"{title}: {page.total} case{'s' if page.total != 1 else ''}", blocks=blocks)


def author_reply(page: AuthorPage, *, asked: str, permalinks: Mapping[int, str | None], now: datetime) -> Reply:
    if page.name is None:
        msg = f"No posts from @{escape(plain_cut(asked, 60))} are stored."
        return plain(msg)
    title = (f"*@{escape(page.handle)}* ({escape(page.name)}) · {page.post_count} post"
             f"{'s' if page.post_count != 1 else ''} stored")
    return case_list_reply(page, title=title, empty="No cases.", view="author", arg=page.handle,
                           permalinks=permalinks, now=now)


def _spread(value: Spread, which: str) -> str:
    """'12m (p90 40m, over 7 cases first answered in the period)', or '—'."""
    if value.median is None:
        return "—"
    p90 = f"p90 {duration(timedelta(seconds=value.p90))}, " if value.p90 is not None else ""
    cases = f"{value.count} case{'s' if value.count != 1 else ''}"
    return f"{duration(timedelta(seconds=value.median))} ({p90}over {cases} {which} in the period)"


def stats_reply(figures: Figures, *, period: str) -> Reply:
    """`/social stats`: the digest's counts for [start, end) (store.figures, nearest-rank percentiles)."""
    f = figures
    lines = [
        f"*Opened* {f.opened}",
        f"*Claimed* {f.claimed}",
        f"*Replied* {f.replied}",
        f"*Resolved* {f.resolved}",
        f"*Ignored* {f.ignored}",
        f"*SLA breaches* {f.sla_breached}",
        f"*Median first response* {_spread(f.first_response, 'first answered')}",
        f"*Median time to resolve* {_spread(f.time_to_resolve, 'resolved')}",
    ]
    since = slack_date(f.start, "{date_short} {time}")
    head = f"*Team figures · {escape(period)}* (since {since})"
    median = duration(timedelta(seconds=f.first_response.median)) if f.first_response.median is not None else "—"
    text = (f"{period}: opened {f.opened}, claimed {f.claimed}, replied {f.replied}, resolved {f.resolved}, "
            f"ignored {f.ignored}, SLA breaches {f.sla_breached}, median first response {median}")
    return Reply(text=escape(text), blocks=[_section(head, "stats_head"), _section("\n".join(lines), "stats")])


__all__ = ["Reply", "case_reply", "case_list_reply", "author_reply", "search_reply", "stats_reply", "plain"]
