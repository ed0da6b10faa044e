"""App Home: the person's cases, the backlog, SLA risks, today's figures; management for admins. Pure builders.

A home view holds at most 100 blocks (Block Kit's limit). Fixed parts (headers, figures,
settings) are laid out first; the lists then share what is left, in the order they
appear, each cut short with "…and N more — `/social …`" when it does not fit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from socialdesk.slack import ids
from socialdesk.slack.blocks.card import PRIORITY_LABEL, slack_date
from socialdesk.slack.blocks.lookup import age, case_label, duration, item_line, mention
from socialdesk.slack.blocks.queue import ORDER, filter_label
from socialdesk.slack.blocks.queue import row as queue_row
from socialdesk.slack.blocks.sources import sources_section
from socialdesk.slack.text import escape, escape_within
from socialdesk.store.figures import Figures
from socialdesk.store.lookups import CasePage
from socialdesk.store.sla import AtRisk
from socialdesk.store.views import DigestView, RuleView, SourceView, WebhookView
from socialdesk.store.webhooks import display_url

if TYPE_CHECKING:
    from socialdesk.config import Settings

MAX_BLOCKS = 100  # Block Kit's limit for a home tab
LIST_LIMIT = 10  # cases shown per list
TEXT_LIMIT = 3000  # a section's text
QUERY_EXCERPT = 300
ERROR_EXCERPT = 200
CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,30}$")
GROUP_ID = re.compile(r"^S[A-Z0-9]{2,30}$")


@dataclass(frozen=True)
class HomeSettings:
    """What admins see of the configuration: never tokens or secrets."""

    sla_targets: Mapping[str, timedelta] = field(default_factory=dict)
    sla_at_risk: float = 0.75
    business_hours: str = ""
    timezone: str = "UTC"
    reply_users: Sequence[str] = ()
    reply_groups: Sequence[str] = ()
    approvers: Sequence[str] = ()
    saved_replies: Sequence[str] = ()  # titles
    tags: Sequence[str] = ()
    retention_raw_days: int = 0
    retention_closed_days: int = 0
    drafts: str = ""  # the language model that drafts replies ("llama3.2 at localhost:11434"); "": none

    @classmethod
    def from_settings(cls, settings: Settings, *, saved_replies: Sequence[str], tags: Sequence[str]) -> HomeSettings:
        policy = settings.sla_policy
        return cls(
            sla_targets=dict(policy.targets), sla_at_risk=policy.at_risk, business_hours=settings.business_hours,
            timezone=settings.timezone, reply_users=sorted(settings.reply_user_set),
            reply_groups=sorted(settings.reply_group_set), approvers=sorted(settings.approver_set),
            saved_replies=list(saved_replies), tags=list(tags), retention_raw_days=settings.retention_raw_days,
            retention_closed_days=settings.retention_closed_days, drafts=drafts_of(settings),
        )


def drafts_of(settings: Settings) -> str:
    """The drafting model and its server's host (never the URL's credentials or the key)."""
    if not settings.llm_url or not settings.llm_model:
        return ""
    parts = urlsplit(settings.llm_url)
    host = (parts.hostname or "?") + (f":{parts.port}" if parts.port else "")
    return f"{settings.llm_model} at {host}" + (" (with an API key)" if settings.llm_api_key else "")


@dataclass(frozen=True)
class Home:
    """Everything the Home tab shows, read by the listener; the builder only lays it out."""

    user_id: str
    now: datetime
    mine: CasePage
    queue: CasePage
    at_risk: Sequence[AtRisk]
    today: Figures
    permalinks: Mapping[int, str | None] = field(default_factory=dict)
    timezone: str = "UTC"  # the team's: "Today" starts at its midnight
    is_admin: bool = False
    rules: Sequence[RuleView] = ()
    digests: Sequence[DigestView] = ()
    webhooks: Sequence[WebhookView] = ()
    settings: HomeSettings | None = None
    notice: str | None = None  # safe mrkdwn: what went wrong with the last click, and what to do
    queue_filter: str = ""  # the viewer's saved view of the queue (queue_filter text); "": every waiting case
    sources: Sequence[SourceView] = ()  # every rule and stream with its state (socialdesk.health)


@dataclass
class _List:
    """A list section: each item is one or more blocks; `total` counts items not passed in too."""

    head: list[Block]
    items: list[list[Block]]
    total: int
    more: str  # where the rest is, e.g. "`/social queue`"
    tail: list[Block] = field(default_factory=list)


# --- small pieces ---


def _section(text: str, block_id: str | None = None, accessory: ButtonElement | None = None) -> SectionBlock:
    if len(text) > TEXT_LIMIT:
        text = text[: TEXT_LIMIT - 1] + "…"
    return SectionBlock(text=MarkdownTextObject(text=text), block_id=block_id, accessory=accessory)


def _context(text: str, block_id: str | None = None) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=text[:TEXT_LIMIT])], block_id=block_id)


def _header(text: str) -> HeaderBlock:
    return HeaderBlock(text=text[:150])


def channel(channel_id: str) -> str:
    return f"<#{channel_id}>" if CHANNEL_ID.match(channel_id or "") else escape(channel_id or "?")


def target(value: str) -> str:
    """A digest target: a channel or a person."""
    return channel(value) if CHANNEL_ID.match(value or "") else mention(value)


def group(group_id: str) -> str:
    return f"<!subteam^{group_id}>" if GROUP_ID.match(group_id or "") else escape(group_id)


def span(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    if seconds and seconds % 86400 == 0:
        return f"{seconds // 86400}d"
    if seconds >= 3600:
        return f"{seconds // 3600}h" + (f"{seconds % 3600 // 60}m" if seconds % 3600 // 60 else "")
    if seconds >= 60:
        return f"{seconds // 60}m"
    return f"{seconds}s"


def _button(text: str, action_id: str, value: str, style: str | None = None,
            confirm: ConfirmObject | None = None) -> ButtonElement:
    return ButtonElement(text=text, action_id=action_id, value=value, style=style, confirm=confirm)


# --- the sections ---


def _your_cases(home: Home) -> _List:
    items = [[_section(item_line(i, permalink=home.permalinks.get(i.case_id), now=home.now, show_owner=False),
                       f"mine_{i.case_id}")] for i in home.mine.items[:LIST_LIMIT]]
    empty = [] if items else [_context("You hold no open cases. Claim one below or on a card.")]
    return _List([_header(f"Your cases ({home.mine.total})")], items, home.mine.total, "`/social mine`", empty)


def _waiting(home: Home) -> _List:
    """The backlog in the viewer's saved view, most urgent first, each case with Claim and Assign…."""
    items = [queue_row(i, permalink=home.permalinks.get(i.case_id), now=home.now, block_id=f"queue_{i.case_id}")
             for i in home.queue.items[:LIST_LIMIT]]
    saved = home.queue_filter
    view = (f"Your view: {filter_label(saved)} · {ORDER}" if saved else f"Every waiting case · {ORDER}")
    buttons = [_button("Filter…", ids.HOME_QUEUE_FILTER, "filter")]
    if saved:
        buttons.append(_button("Show all", ids.HOME_QUEUE_CLEAR, "clear"))
    head: list[Block] = [_header(f"Waiting for a claim ({home.queue.total})"), _context(view, "qview"),
                         ActionsBlock(block_id="qview_actions", elements=buttons)]
    empty = [] if items else [_context("Nothing waiting matches your view." if saved else "Nothing is waiting. 🎉")]
    more = f"`/social queue {escape(saved)}`" if saved else "`/social queue`"
    return _List(head, items, home.queue.total, more, empty)


def at_risk_line(case: AtRisk, *, permalink: str | None, now: datetime) -> str:
    if case.state == "breached":
        when = f"⏰ *overdue by {age(case.due, now)}*"
    else:
        when = f"⚠️ first reply due in {age(now, case.due)} ({slack_date(case.due, '{time}', '%H:%M UTC')})"
    owner = f"held by {mention(case.assignee)}" if case.assignee else "nobody has claimed it"
    priority = PRIORITY_LABEL.get(case.priority, escape(case.priority))
    return " · ".join([case_label(case.case_id, permalink), when, priority, owner])


def _sla(home: Home) -> _List:
    shown = list(home.at_risk)[:LIST_LIMIT]
    items = [[_section(at_risk_line(c, permalink=home.permalinks.get(c.case_id), now=home.now), f"sla_{c.case_id}")]
             for c in shown]
    empty = [] if items else [_context("No case is close to its first-response target.")]
    return _List([_header(f"SLA at risk ({len(home.at_risk)})")], items, len(home.at_risk), "`/social queue all`", empty)


def _today(home: Home) -> list[Block]:
    f = home.today
    median = f.first_response.median
    fields = [
        MarkdownTextObject(text=f"*Opened*\n{f.opened}"),
        MarkdownTextObject(text=f"*Claimed*\n{f.claimed}"),
        MarkdownTextObject(text=f"*Replied*\n{f.replied}"),
        MarkdownTextObject(text=f"*Resolved*\n{f.resolved}"),
        MarkdownTextObject(text="*Median first response*\n"
                                + (duration(timedelta(seconds=median)) if median is not None else "—")),
    ]
    return [_header("Today"), SectionBlock(fields=fields, block_id="today"),
            _context(f"Since midnight ({escape(home.timezone)}); first responses given today.")]


def rule_state(rule: RuleView) -> str:
    if rule.health and not rule.healthy:
        text, _ = escape_within(" ".join(rule.health.split()).split(": ", 1)[0], ERROR_EXCERPT)
        return f"⚠️ *{text}*"
    if rule.paused:
        return "⏸ *paused*"
    if rule.last_error and rule.consecutive_failures:
        return f"⚠️ *failing* ({rule.consecutive_failures} in a row)"
    return "✅ active"


def route_label(name: str) -> str:
    """"question" → "question"; "tag:refund" → "`#refund`" (as the card shows tags)."""
    return f"`#{escape(name[4:])}`" if name.startswith("tag:") else escape(name)


def rule_text(rule: RuleView) -> str:
    query, cut = escape_within(" ".join(rule.query.split()), QUERY_EXCERPT)
    kind = "mentions" if rule.kind == "mentions" else "search"
    streamed = " · streamed" if rule.stream and not rule.stream_refused else ""
    lines = [f"*Rule {rule.id}* · {escape(rule.network)} {kind} · {channel(rule.channel_id)} · "
             f"every {rule.every_seconds} s{streamed} · {rule_state(rule)}",
             f"`{query}{'…' if cut else ''}`" if query else "_(empty query)_"]
    if rule.sla_targets:
        lines.append(f"First-response targets: {escape(rule.sla_targets)}")
    triage = ["likely spam filed as ignored"] if rule.ignore_spam else []
    if rule.routes:
        triage.append("routes " + ", ".join(f"{route_label(name)} → {channel(to)}" for name, to in rule.routes))
    if triage:
        lines.append("Triage: " + "; ".join(triage))
    if rule.monthly_budget is not None:
        lines.append(f"Budget: ${rule.monthly_budget:,.2f} a month of billed reads")
    if rule.last_error:
        error, cut = escape_within(" ".join(rule.last_error.split()), ERROR_EXCERPT)
        when = f" ({slack_date(rule.last_error_at, '{date_short} {time}')})" if rule.last_error_at else ""
        lines.append(f"Last error{when}: _{error}{'…' if cut else ''}_")
    return "\n".join(lines)


def _rules(home: Home) -> _List:
    items = []
    for rule in home.rules:
        toggle = (_button("Resume", ids.HOME_RULE_RESUME, str(rule.id), "primary") if rule.paused
                  else _button("Pause", ids.HOME_RULE_PAUSE, str(rule.id)))
        items.append([_section(rule_text(rule), f"rule_{rule.id}"),
                      ActionsBlock(block_id=f"rule_actions_{rule.id}",
                                   elements=[toggle, _button("Edit…", ids.HOME_RULE_EDIT, str(rule.id))])])
    empty = [] if items else [_context("No rules yet: `/social rules add <query>` in the channel for the cards.")]
    return _List([DividerBlock(), _header(f"Rules ({len(home.rules)})")], items, len(home.rules),
                 "`/social rules`", empty)


def _digests(home: Home) -> _List:
    items = []
    for d in home.digests:
        to = ", ".join(target(t) for t in d.targets) or "nobody"
        text = f"*{escape(d.spec)}* → {to}{' · ⏸ paused' if d.paused else ''} · added by {mention(d.created_by)}"
        remove = _button("Remove", ids.HOME_DIGEST_REMOVE, str(d.id), "danger", ConfirmObject(
            title="Remove this digest?", text="Its schedule is deleted; digests already posted stay.",
            confirm="Remove", deny="Keep it"))
        items.append([_section(text, f"digest_{d.id}", accessory=remove)])
    tail = [] if items else [_context("No digests are scheduled.")]
    tail.append(ActionsBlock(block_id="digest_add", elements=[_button("Add digest…", ids.HOME_DIGEST_ADD, "add")]))
    return _List([_header(f"Digests ({len(home.digests)})")], items, len(home.digests), "`/social digest`", tail)


def _webhooks(home: Home) -> _List:
    items = []
    for w in home.webhooks:
        url, cut = escape_within(display_url(w.url), 300)  # without query or long path parts: often tokens
        events = ", ".join(escape(e) for e in w.events) if w.events else "all case events"
        text = f"`{url}{'…' if cut else ''}`\n{events} · {'✅ active' if w.active else '⏸ inactive'}"
        items.append([_section(text, f"webhook_{w.id}", accessory=_button("Test", ids.WEBHOOK_TEST, str(w.id)))])
    empty = [] if items else [_context("No webhooks: `/social webhooks add <url>` sends case events elsewhere.")]
    return _List([_header(f"Webhooks ({len(home.webhooks)})")], items, len(home.webhooks), "`/social webhooks`",
                 empty)


def settings_text(s: HomeSettings) -> str:
    targets = ", ".join(f"{escape(p)} {span(t)}" for p, t in s.sla_targets.items()) or "none"
    who = [mention(u) for u in s.reply_users] + [f"members of {group(g)}" for g in s.reply_groups]
    saved = ", ".join(escape(t) for t in s.saved_replies) or "none"
    closed = f"{s.retention_closed_days} days" if s.retention_closed_days else "forever"
    raw = f"{s.retention_raw_days} days" if s.retention_raw_days else "forever"
    lines = [
        f"*SLA targets* (first reply): {targets}; at risk after {round(s.sla_at_risk * 100)}%",
        f"*Business hours*: {escape(s.business_hours) if s.business_hours else 'around the clock'}",
        f"*Time zone*: {escape(s.timezone)}",
        f"*Who may reply*: {', '.join(who) if who else 'the members of each rule’s channel'}",
        f"*Approvers*: {', '.join(mention(a) for a in s.approvers) if s.approvers else 'none (replies go out at once)'}",
        f"*Saved replies*: {saved}",
        f"*Tags*: {' '.join(f'`{escape(t)}`' for t in s.tags) or 'none'}",
        f"*Retention*: raw network data {raw}; resolved and ignored cases {closed}",
        f"*Drafted replies*: {escape(s.drafts)}" if s.drafts else
        "*Drafted replies*: off (`SOCIALDESK_LLM_URL` and `SOCIALDESK_LLM_MODEL` name a model to draft with)",
    ]
    return "\n".join(lines)


def _settings(home: Home) -> list[Block]:
    if home.settings is None:
        return []
    return [_header("Settings"), _section(settings_text(home.settings), "settings"),
            _context("Set in the environment (`SOCIALDESK_…` variables or `.env`); "
                     "a change takes effect when the app restarts.")]


# --- the view ---


def _fit(lists: list[_List], budget: int) -> list[list[Block]]:
    """Lay out the lists within `budget` blocks: each gets what is left after the others' minimum."""
    fixed = sum(len(part.head) + len(part.tail) for part in lists)
    left = budget - fixed
    laid_out = []
    for index, part in enumerate(lists):
        # Every later list that has items may need one "…and N more" line, even showing none.
        reserve = sum(1 for later in lists[index + 1:] if later.items)
        avail = left - reserve
        shown: list[Block] = []
        count = 0
        needed = sum(len(item) for item in part.items)
        limit = avail if needed <= avail and len(part.items) == part.total else avail - 1
        for item in part.items:
            if len(shown) + len(item) > limit:
                break
            shown += item
            count += 1
        if count < part.total:
            shown.append(_context(f"…and {part.total - count} more — {part.more}"))
        left -= len(shown)
        laid_out.append(part.head + shown + part.tail)
    return laid_out


def home_view(home: Home) -> View:
    top: list[Block] = [
        _header("socialdesk"),
        _section(f"Hi {mention(home.user_id)} · updated {slack_date(home.now, '{date_short} {time}')}", "home_top",
                 accessory=_button("Refresh", ids.HOME_REFRESH, "refresh")),
    ]
    if home.notice:
        top.append(_context(f"⚠️ {home.notice}", "home_notice"))
    today = _today(home)
    sources = sources_section(home.sources)
    admin = home.is_admin
    lists = [_your_cases(home), _waiting(home), _sla(home)]
    if admin:
        lists += [_rules(home), _digests(home), _webhooks(home)]
    settings = _settings(home) if admin else []
    dividers = 3  # before Waiting, SLA and Today
    budget = MAX_BLOCKS - len(top) - len(today) - len(sources) - len(settings) - dividers
    mine, waiting, sla, *managed = _fit(lists, budget)
    blocks = [*top, *mine, DividerBlock(), *waiting, DividerBlock(), *sla, DividerBlock(), *today, *sources]
    for part in managed:
        blocks += part
    blocks += settings
    assert len(blocks) <= MAX_BLOCKS, len(blocks)
    return View(type="home", callback_id="home", blocks=blocks)
