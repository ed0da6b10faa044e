"""The digest message: a period's figures, each beside the previous period's.

Pure: takes `Figures` and the `Backlog` (from store.figures) and permalinks, returns
Block Kit blocks. The figures are the period's; the backlog is as it is now.
Everything untrusted (author handles, rule queries) is escaped; every text is cut
to Block Kit's limits (3000 characters a section, 2000 a field, 50 blocks).
"""

from __future__ import annotations

import math

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from socialdesk.slack.blocks.card import slack_date
from socialdesk.slack import ids
from socialdesk.slack.text import escape, link, plain_cut
from socialdesk.store.figures import Backlog, Figures, Spread

SECTION_TEXT_LIMIT = 3000
FIELD_TEXT_LIMIT = 2000
HEADER_LIMIT = 150
MAX_BLOCKS = 50
TABLE_ROWS = 10  # agents and rules shown; the rest summed up in one line
SPARKS = "▁▂▃▄▅▆▇█"
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
SENTIMENT_ICONS = {"negative": "😠", "neutral": "😐", "positive": "🙂", "unknown": "❔"}


# -- formatting helpers (pure, tested on their own) ---------------------------------------------


def change(current: float | None, previous: float | None) -> str:
    """"▲ 20%", "▼ 50%", "= 0%", "new" (from nothing) or "–" (nothing to compare)."""
    if current is None or previous is None:
        return "–"
    if previous == 0:
        return "–" if current == 0 else "▲ new"
    pct = round((current - previous) / previous * 100)
    if pct == 0:
        return "= 0%"
    return f"{'▲' if pct > 0 else '▼'} {abs(pct)}%"


def duration(seconds: float | None) -> str:
    """"45 s", "12 min", "3 h 5 min", "2 d 4 h"; "–" for none."""
    if seconds is None:
        return "–"
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    minutes = s // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def sparkline(values: list[int]) -> str:
    """One block character per value: ▁ for zero, ▂…█ for the rest (ceil(v / max × 7))."""
    top = max(values, default=0)
    if top == 0:
        return SPARKS[0] * len(values)
    return "".join(SPARKS[math.ceil(v / top * (len(SPARKS) - 1))] for v in values)


def _fit(lines: list[str], limit: int = SECTION_TEXT_LIMIT) -> str:
    """Join lines; if that is too long, drop whole lines from the end and say how many."""
    text = "\n".join(lines)
    if len(text) <= limit:
        return text
    out: list[str] = []
    for i, line in enumerate(lines):
        note = f"_…and {len(lines) - i} more_"
        if len("\n".join([*out, line, note])) > limit:
            return "\n".join([*out, note])
        out.append(line)
    return text  # not reached


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=plain_cut(text, SECTION_TEXT_LIMIT)))


def _actor(actor: str) -> str:
    return "_system_" if actor == "system" else f"<@{escape(actor)}>"


def _count_field(label: str, now: int, before: int) -> MarkdownTextObject:
    return MarkdownTextObject(text=f"*{label}*\n{now:,}  `{change(now, before)}` _(was {before:,})_")


def _incident_field(now: Figures, before: Figures) -> MarkdownTextObject:
    """"3 incidents (17 posts)": storms of near-identical posts, each shown as one card."""
    posts = f" ({now.incident_posts:,} post{'s' if now.incident_posts != 1 else ''})" if now.incidents else ""
    return MarkdownTextObject(text=f"*Incidents*\n{now.incidents:,}{posts}  `{change(now.incidents, before.incidents)}` "
                                   f"_(was {before.incidents:,})_")


def _spread_field(label: str, now: Spread, before: Spread) -> MarkdownTextObject:
    return MarkdownTextObject(
        text=(
            f"*{label}* ({now.count:,})\n"
            f"median {duration(now.median)}  `{change(now.median, before.median)}`\n"
            f"p90 {duration(now.p90)}  `{change(now.p90, before.p90)}`"
        )
    )


# -- the digest ---------------------------------------------------------------------------------


def digest_text(current: Figures, *, title: str, period_label: str, backlog: Backlog | None = None) -> str:
    """The notification / fallback text."""
    storms = (f", {current.incidents} incident{'s' if current.incidents != 1 else ''} "
              f"({current.incident_posts} posts)") if current.incidents else ""
    waiting = f"; {backlog.waiting} waiting now" if backlog is not None else ""
    return plain_cut(
        f"{title} — {period_label}: {current.opened} opened, {current.resolved} resolved, "
        f"{current.sla_breached} SLA breaches{storms}{waiting}",
        300,
    )


def digest_blocks(
    current: Figures,
    previous: Figures,
    *,
    title: str,
    period_label: str,
    permalinks: dict[int, str],
    backlog: Backlog | None = None,
    backlog_url: str | None = None,
    compared_with: str = "the period before",
    spend: str | None = None,
) -> list[Block]:
    """The digest. `backlog` is the cases waiting now (none given: none waiting); `permalinks`
    maps case ids to their card's permalink; the backlog button opens `backlog_url`, else the
    oldest waiting case's card, else is left out. `spend`: a line of what billed reads cost
    this month (spend.summary), shown under the backlog."""
    backlog = backlog or Backlog()
    c, p = current, previous
    blocks: list[Block] = [
        HeaderBlock(text=plain_cut(title, HEADER_LIMIT)),
        ContextBlock(elements=[MarkdownTextObject(
            text=f"{escape(plain_cut(period_label, 200))} · compared with {escape(plain_cut(compared_with, 200))}")]),
        SectionBlock(
            fields=[
                _count_field("Opened", c.opened, p.opened),
                _count_field("Claimed", c.claimed, p.claimed),
                _count_field("Replied", c.replied, p.replied),
                _count_field("Resolved", c.resolved, p.resolved),
                _count_field("Ignored", c.ignored, p.ignored),
                _count_field("SLA breaches", c.sla_breached, p.sla_breached),
                _incident_field(c, p),
            ]
        ),
        SectionBlock(
            fields=[
                _spread_field("First response", c.first_response, p.first_response),
                _spread_field("Time to resolve", c.time_to_resolve, p.time_to_resolve),
            ]
        ),
        _section(_volume(c.hourly)),
        _section(_sentiment(c.sentiment, p.sentiment)),
        DividerBlock(),
        _section(_agents(c)),
        _section(_rules(c)),
        _section(_authors(c)),
        DividerBlock(),
        _section(_backlog(backlog, permalinks)),
    ]
    if spend:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f":moneybag: {escape(plain_cut(spend, 2900))}")]))
    url = backlog_url or next((permalinks[u.case_id] for u in backlog.oldest if u.case_id in permalinks), None)
    if url:
        blocks.append(
            ActionsBlock(
                elements=[ButtonElement(text="Open the backlog", action_id=ids.DIGEST_BACKLOG, url=url, style="primary")]
            )
        )
    assert len(blocks) <= MAX_BLOCKS
    return blocks


def _volume(hourly: list[int]) -> str:
    total = sum(hourly)
    if len(hourly) <= 24:
        return f"*Volume by hour* (opened, {total:,} in all, busiest hour {max(hourly, default=0)})\n`{sparkline(hourly)}`\n`0h{' ' * 10}12h{' ' * 6}23h`"
    # A week: one line per local day, on a common scale.
    top = max(hourly, default=0)
    lines = [f"*Volume by hour* (opened, {total:,} in all, busiest hour {top})"]
    for day in range(len(hourly) // 24):
        chunk = hourly[day * 24 : (day + 1) * 24]
        scaled = sparkline([*chunk, top])[:-1] if top else sparkline(chunk)
        name = WEEKDAYS[day % 7]
        lines.append(f"`{name} {scaled}` {sum(chunk):,}")
    return "\n".join(lines)


def _sentiment(now: dict[str, int], before: dict[str, int]) -> str:
    total = sum(now.values())
    parts = []
    for label, n in now.items():
        share = f"{round(n / total * 100)}%" if total else "–"
        parts.append(f"{SENTIMENT_ICONS.get(label, '')} {label} {n:,} ({share}, `{change(n, before.get(label, 0))}`)")
    return "*Sentiment of new cases*\n" + " · ".join(parts)


def _table(title: str, rows: list[str], *, empty: str, noun: str) -> str:
    """A titled list of at most TABLE_ROWS rows, then "…and N more"."""
    if not rows:
        return f"*{title}*\n_{empty}_"
    lines = rows[:TABLE_ROWS]
    if len(rows) > TABLE_ROWS:
        lines.append(f"_…and {len(rows) - TABLE_ROWS} more {noun}_")
    return _fit([f"*{title}*", *lines])


def _agents(f: Figures) -> str:
    rows = [f"{_actor(a.actor)} · {a.claims} claimed · {a.replies} replied · {a.resolves} resolved" for a in f.agents]
    return _table("By agent", rows, empty="No claims, replies or resolutions.", noun="agents")


def _rules(f: Figures) -> str:
    rows = [f"{escape(plain_cut(r.label, 80))} · {r.opened} opened · {r.resolved} resolved" for r in f.rules]
    return _table("By rule", rows, empty="No cases opened or resolved.", noun="rules")


def _authors(f: Figures) -> str:
    if not f.top_authors:
        return "*Most active authors*\n_No posts._"
    lines = [
        f"{i}. @{escape(plain_cut(a.handle, 60))} ({escape(a.network)}) · {a.posts:,} post{'s' if a.posts != 1 else ''}"
        for i, a in enumerate(f.top_authors, 1)
    ]
    return _fit(["*Most active authors*", *lines])


def _backlog(backlog: Backlog, permalinks: dict[int, str]) -> str:
    """The backlog now: how many wait for a claim, then the oldest few, linked to their cards."""
    if not backlog.waiting and not backlog.oldest:
        return "*Backlog now*\n_None: the backlog is clear._ 🎉"
    n = max(backlog.waiting, len(backlog.oldest))
    lines = [f"*Backlog now* · {n:,} case{'s' if n != 1 else ''} waiting for a claim"]
    for u in backlog.oldest:
        name = f"Case #{u.case_id}"
        ref = link(permalinks[u.case_id], name) if u.case_id in permalinks else name
        flag = " 🔥" if u.priority == "high" else ""
        lines.append(f"{ref}{flag} · waiting since {slack_date(u.opened_at, '{date_short_pretty} {time}')}")
    if n > len(backlog.oldest):
        lines.append(f"_…and {n - len(backlog.oldest):,} more: `/social queue all` lists them_")
    return _fit(lines)
