"""The queue's rows, in `/social queue` and App Home: the case, when it is due, Claim and Assign…. Pure builders.

A row's buttons carry JSON `{"c": case id, "a": filter text, "o": offset}`: a click in
the ephemeral list redraws the page it was on (same filter, same offset) with what happened
on top; a click in App Home re-publishes the Home (the container says which).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    SectionBlock,
)
from slack_sdk.models.views import View

from socialdesk.queue_filter import MAX_TEXT, usage
from socialdesk.slack import ids
from socialdesk.slack.blocks.lookup import PAGE_SIZE, Reply, age, item_line, nav_block
from socialdesk.slack.text import escape
from socialdesk.store.lookups import CaseItem, CasePage

TITLE = "*Waiting for a claim*"
ORDER = "most urgent first: SLA due, then priority, then age"
SECTION_LIMIT = 3000
VALUE_LIMIT = 2000  # Block Kit's most for a button's value
ARG_LIMIT = 500


def due_text(due: datetime | None, now: datetime) -> str:
    """"⏰ *overdue by 5m*", "⏳ due in 20m", or "" when nothing is due."""
    if due is None:
        return ""
    return f"⏰ *overdue by {age(due, now)}*" if due <= now else f"⏳ due in {age(now, due)}"


def queue_line(item: CaseItem, *, permalink: str | None, now: datetime) -> str:
    line = item_line(item, permalink=permalink, now=now, show_owner=False, show_age=True)
    due = due_text(item.due, now)
    if not due:
        return line
    head, sep, rest = line.partition("\n")
    return f"{head} · {due}{sep}{rest}"


def row_value(case_id: int, arg: str = "", offset: int = 0) -> str:
    return json.dumps({"c": case_id, "a": arg[:ARG_LIMIT], "o": max(0, offset)}, separators=(",", ":"),
                      ensure_ascii=False)


def parse_row_value(value: str) -> tuple[int, str, int] | None:
    """(case id, filter text, offset) from a row button we made; None for anything else."""
    try:
        data = json.loads(value)
        case_id, arg, offset = data["c"], data.get("a", ""), data.get("o", 0)
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):  # RecursionError: '[' * 2000
        return None
    if (not isinstance(case_id, int) or isinstance(case_id, bool) or not 1 <= case_id < 2**31
            or not isinstance(arg, str) or len(arg) > ARG_LIMIT
            or not isinstance(offset, int) or isinstance(offset, bool) or not 0 <= offset <= 100_000):
        return None
    return case_id, arg, offset


def row_buttons(case_id: int, *, arg: str = "", offset: int = 0) -> ActionsBlock:
    value = row_value(case_id, arg, offset)
    if len(value) > VALUE_LIMIT:  # not reached: the filter text is cut to ARG_LIMIT
        value = row_value(case_id)
    return ActionsBlock(block_id=f"qrow_{case_id}", elements=[
        ButtonElement(text="Claim", action_id=ids.QUEUE_CLAIM, value=value, style="primary"),
        ButtonElement(text="Assign…", action_id=ids.QUEUE_ASSIGN, value=value),
    ])


def row(item: CaseItem, *, permalink: str | None, now: datetime, block_id: str, arg: str = "",
        offset: int = 0) -> list[Block]:
    """One queue row: the case's line, then its Claim and Assign… buttons."""
    text = queue_line(item, permalink=permalink, now=now)
    if len(text) > SECTION_LIMIT:
        text = text[: SECTION_LIMIT - 1] + "…"
    return [SectionBlock(text=MarkdownTextObject(text=text), block_id=block_id),
            row_buttons(item.case_id, arg=arg, offset=offset)]


def filter_label(filters: str) -> str:
    return f"`{escape(filters)}`" if filters else ""


def queue_reply(page: CasePage, *, filters: str, permalinks: Mapping[int, str | None], now: datetime,
                notice: str | None = None) -> Reply:
    """`/social queue [filters]`: a page of waiting cases, most urgent first, each with Claim and Assign….

    `notice`: safe mrkdwn on top (what a click on this list just did)."""
    blocks: list[Block] = []
    if notice:
        blocks.append(ContextBlock(block_id="queue_notice", elements=[MarkdownTextObject(text=notice[:SECTION_LIMIT])]))
    which = f" matching {filter_label(filters)}" if filters else ""
    if not page.items:
        empty = f"Nothing waiting{which}." if filters or page.offset else "Nothing is waiting. 🎉"
        if page.offset and not filters:
            empty = "No more cases are waiting."
        blocks.append(SectionBlock(text=MarkdownTextObject(text=f"{TITLE}\n{empty}"), block_id="lookup_title"))
        return Reply(text=empty, blocks=blocks)
    shown = page.items[:PAGE_SIZE]
    first, last = page.offset + 1, page.offset + len(shown)
    blocks.append(SectionBlock(text=MarkdownTextObject(
        text=f"{TITLE}{which} · {first}–{last} of {page.total} · {ORDER}"), block_id="lookup_title"))
    for item in shown:
        blocks += row(item, permalink=permalinks.get(item.case_id), now=now, block_id=f"case_{item.case_id}",
                      arg=filters, offset=page.offset)
    nav = nav_block(page, "queue", filters)
    if nav is not None:
        blocks.append(nav)
    return Reply(text=f"Waiting for a claim{' (filtered)' if filters else ''}: {page.total} "
                      f"case{'s' if page.total != 1 else ''}", blocks=blocks)


def filter_modal(current: str) -> View:
    """App Home's "Filter…": the viewer's saved view of the queue, as text; empty shows every waiting case."""
    return View(
        type="modal", callback_id=ids.QUEUE_FILTER_MODAL, title="Filter the queue", submit="Save", close="Cancel",
        blocks=[
            InputBlock(block_id=ids.QUEUE_FILTER_INPUT, label="Show waiting cases matching", optional=True,
                       hint=usage().replace("`", "")[:2000],
                       element=PlainTextInputElement(action_id=ids.QUEUE_FILTER_INPUT, initial_value=current or None,
                                                     placeholder="priority:high tag:refund", max_length=MAX_TEXT)),
            ContextBlock(elements=[MarkdownTextObject(
                text="Kept as your view of the queue on this Home until you change it. Empty: every waiting case.")]),
        ],
    )
