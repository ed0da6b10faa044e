"""The reply modal's answers at hand: suggestions with "Use this", and the drafted reply's line. Pure builders.

Everything shown comes from people (FAQ entries, replies, a model's draft, a server's
error): escaped for mrkdwn, and cut to fit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from slack_sdk.models.blocks import Block, ButtonElement, ContextBlock, MarkdownTextObject, SectionBlock

from socialdesk.slack import ids
from socialdesk.slack.text import escape, escape_within
from socialdesk.store.suggestions import Suggestion

EXCERPT_CHARS = 220  # of an answer: enough to recognise it, the whole goes into the reply box
ORIGIN_CHARS = 90  # of a FAQ entry's question


@dataclass(frozen=True)
class DraftLine:
    """Where a drafted reply stands in the modal. `state`: ready (the button), drafting, drafted, failed."""

    state: Literal["ready", "drafting", "drafted", "failed"]
    case_id: int
    model: str
    message: str = ""  # failed: what happened and what to do; drafted: a note (the draft was cut…)
    timeout: float = 20.0


def origin(suggestion: Suggestion) -> str:
    """Where an answer comes from, as mrkdwn: "FAQ: …question" or "answered case #12"."""
    if suggestion.source == "faq":
        question, cut = escape_within(" ".join((suggestion.question or "").split()), ORIGIN_CHARS)
        return f"📖 FAQ: {question}{'…' if cut else ''}"
    return f"✅ answered case #{suggestion.case_id}"


def excerpt(answer: str) -> str:
    text, cut = escape_within(" ".join(answer.split()), EXCERPT_CHARS)
    return text + ("…" if cut else "")


def answer_blocks(suggestions: Sequence[Suggestion]) -> list[Block]:
    """A heading, then each suggestion with its origin, an excerpt and "Use this" (nothing when none)."""
    if not suggestions:
        return []
    blocks: list[Block] = [ContextBlock(block_id=ids.ANSWERS_BLOCK, elements=[MarkdownTextObject(
        text="💡 *Answers at hand*: FAQ entries and answered cases like this one. *Use this* puts one in the reply box.")])]
    for n, suggestion in enumerate(suggestions):
        blocks.append(SectionBlock(
            block_id=f"{ids.ANSWERS_BLOCK}-{n}",
            text=MarkdownTextObject(text=f"*{origin(suggestion)}*\n{excerpt(suggestion.answer)}"),
            accessory=ButtonElement(text="Use this", action_id=ids.USE_ANSWER, value=suggestion.key)))
    return blocks


def draft_block(line: DraftLine) -> Block:
    model = escape_within(line.model, 60)[0]
    value = str(line.case_id)
    if line.state == "drafting":
        return ContextBlock(block_id=ids.DRAFT_BLOCK, elements=[MarkdownTextObject(
            text=f"✨ Drafting a reply with *{model}*… (up to {line.timeout:g} s). It goes into the reply box; if you "
                 "type meanwhile, your text stays and the draft comes to you as a direct message.")])
    if line.state == "drafted":
        note = f" {escape(line.message)}" if line.message else ""
        return SectionBlock(block_id=ids.DRAFT_BLOCK, text=MarkdownTextObject(
            text=f"✨ Drafted by *{model}*: read and edit it; nothing is sent until you press *Send reply*.{note}"),
            accessory=ButtonElement(text="✨ Draft again", action_id=ids.DRAFT_REPLY, value=value))
    if line.state == "failed":
        return SectionBlock(block_id=ids.DRAFT_BLOCK, text=MarkdownTextObject(
            text=f"⚠️ {escape_within(line.message, 2900)[0]}"),
            accessory=ButtonElement(text="✨ Try again", action_id=ids.DRAFT_REPLY, value=value))
    return SectionBlock(block_id=ids.DRAFT_BLOCK, text=MarkdownTextObject(
        text=f"A language model (*{model}*) can draft this reply from the case, its thread and the FAQ, for you "
             "to edit."),
        accessory=ButtonElement(text="✨ Draft a reply", action_id=ids.DRAFT_REPLY, value=value))


def is_answer_block(block: object) -> bool:
    block_id = block.get("block_id") if isinstance(block, dict) else None
    return isinstance(block_id, str) and (block_id == ids.ANSWERS_BLOCK or block_id.startswith(ids.ANSWERS_BLOCK + "-"))


def is_draft_block(block: object) -> bool:
    return isinstance(block, dict) and block.get("block_id") == ids.DRAFT_BLOCK


__all__ = ["DraftLine", "answer_blocks", "draft_block", "excerpt", "is_answer_block", "is_draft_block", "origin"]
