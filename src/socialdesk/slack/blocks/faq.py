"""Save as FAQ: the modal (pre-filled, editable) and the entry's line in the card's thread. Pure builders."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    SectionBlock,
    StaticMultiSelectElement,
)
from slack_sdk.models.metadata import Metadata
from slack_sdk.models.views import View

from socialdesk.slack import ids
from socialdesk.slack.text import escape, escape_within

# Input blocks inside the FAQ modal (block id = action id, like the other modals).
QUESTION_INPUT = "faq_question"
ANSWER_INPUT = "faq_answer"
NOTES_INPUT = "faq_notes"
TAGS_INPUT = "faq_tags"
# On the entry's thread line: finds it again to update it (saved again, edited, withdrawn).
FAQ_METADATA_TYPE = "socialdesk_faq"

INPUT_LIMIT = 3000  # Slack's most for a plain_text_input (and so for its initial value)
TITLE_LIMIT = 24  # a modal's title
OPTION_LIMIT = 100  # options in a static select
QUESTION_PREVIEW = 280  # the question, shown under the thread line
_SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")


@dataclass(frozen=True)
class FaqForm:
    """What the modal shows: a fresh draft (`entry_id` None) or an entry being edited."""

    case_id: int
    question: str
    answer: str
    notes: str = ""
    tags: tuple[str, ...] = ()
    entry_id: int | None = None
    message_ts: str | None = None  # the entry's thread line, when opened from it
    customer: str | None = None  # the customer's handle, for the intro line
    known_tags: Sequence[str] = field(default_factory=tuple)


def utf16_length(text: str) -> int:
    """Slack counts characters as JavaScript does: emoji outside the BMP count two."""
    return len(text.encode("utf-16-le")) // 2


def cut_for_input(text: str, limit: int = INPUT_LIMIT) -> tuple[str, bool]:
    """`text` within a text box's limit, ending in "…" when cut; and whether it was."""
    if utf16_length(text) <= limit:
        return text, False
    out, used = [], 0
    for ch in text:
        size = utf16_length(ch)
        if used + size > limit - 1:
            break
        out.append(ch)
        used += size
    return "".join(out).rstrip() + "…", True


def modal_metadata(form: FaqForm) -> str:
    return json.dumps({"case_id": form.case_id, "entry_id": form.entry_id, "message_ts": form.message_ts})


def _text_input(block_id: str, label: str, value: str, *, hint: str, optional: bool = False,
                placeholder: str | None = None) -> InputBlock:
    return InputBlock(
        block_id=block_id, label=label, optional=optional, hint=hint,
        element=PlainTextInputElement(action_id=block_id, multiline=True, max_length=INPUT_LIMIT,
                                      initial_value=value or None, placeholder=placeholder),
    )


def tag_options(known: Sequence[str], chosen: Sequence[str]) -> tuple[list[Option], list[Option]]:
    """Every tag the team uses plus the entry's own (even one since dropped from SOCIALDESK_TAGS)."""
    names = [t for t in dict.fromkeys([*chosen, *known]) if t.strip()][:OPTION_LIMIT]
    options = [Option(text=t[:75], value=t[:150]) for t in names]
    return options, [o for o in options if o.value in chosen]


def faq_modal(form: FaqForm) -> View:
    question, question_cut = cut_for_input(form.question)
    answer, answer_cut = cut_for_input(form.answer)
    notes, notes_cut = cut_for_input(form.notes)
    who = f"@{escape(form.customer)}'s question" if form.customer else "The customer's question"
    intro = (f"{who} and our answer from case #{form.case_id}. Edit them into an entry a teammate can reuse: "
             "take out names, order numbers and anything personal.")
    if form.entry_id is not None:
        intro = f"FAQ entry #{form.entry_id}, saved from case #{form.case_id}. Changes replace it for everyone."
    blocks: list[Block] = [ContextBlock(block_id="faq_intro", elements=[MarkdownTextObject(text=intro)])]
    cut = [name for name, was_cut in (("question", question_cut), ("answer", answer_cut), ("notes", notes_cut))
           if was_cut]
    if cut:
        blocks.append(ContextBlock(block_id="faq_cut", elements=[MarkdownTextObject(text=(
            f"✂️ The {' and the '.join(cut)} {'was' if len(cut) == 1 else 'were'} longer than "
            f"{INPUT_LIMIT:,} characters, the most a Slack text box holds, and {'was' if len(cut) == 1 else 'were'} "
            "cut (the end shows …). Shorten or complete the text before saving; the whole case stays in its thread."
        ))]))
    blocks += [
        _text_input(QUESTION_INPUT, "Question", question, placeholder="What the customer asked",
                    hint="What customers ask, in their words (their posts in this case, oldest first)."),
        _text_input(ANSWER_INPUT, "Answer", answer, placeholder="What solved it",
                    hint="The answer that worked (our replies in this case, oldest first)."),
        _text_input(NOTES_INPUT, "Notes for the team", notes, optional=True,
                    hint="Internal: never sent to customers (the case's notes)."),
    ]
    options, chosen = tag_options(form.known_tags, form.tags)
    if options:
        blocks.append(InputBlock(block_id=TAGS_INPUT, label="Tags", optional=True,
                                 element=StaticMultiSelectElement(action_id=TAGS_INPUT, options=options,
                                                                  initial_options=chosen or None,
                                                                  placeholder="Choose tags")))
    title = "Save as FAQ" if form.entry_id is None else f"Edit FAQ entry #{form.entry_id}"
    return View(type="modal", callback_id=ids.FAQ_MODAL, private_metadata=modal_metadata(form),
                title=title[:TITLE_LIMIT], submit="Save", close="Cancel", blocks=blocks)


def mention(actor: str) -> str:
    """A Slack user as a mention; anyone else (the CLI) by name, escaped."""
    return f"<@{actor}>" if _SLACK_USER.match(actor) else f"`{escape(actor)}`"


def entry_message(*, entry_id: int, case_id: int, question: str, status: str, created_by: str,
                  updated_by: str, edited: bool) -> dict[str, Any]:
    """chat.postMessage / chat.update arguments for the entry's line in the card's thread."""
    preview, cut = escape_within(" ".join(question.split()), QUESTION_PREVIEW)
    quoted = f"> {preview}{'…' if cut else ''}"
    value = str(entry_id)
    if status == "withdrawn":
        text = (f"🗄️ FAQ entry #{entry_id} was withdrawn by {mention(updated_by)} (saved by {mention(created_by)}). "
                "Save the case as FAQ again to make a new entry.")
        blocks: list[Block] = [SectionBlock(block_id="faq_entry", text=MarkdownTextObject(text=text))]
    else:
        text = f"📖 Saved as FAQ entry #{entry_id} by {mention(created_by)}"
        if edited:
            text += f" · edited by {mention(updated_by)}"
        blocks = [
            SectionBlock(block_id="faq_entry", text=MarkdownTextObject(text=f"{text}\n{quoted}")),
            ActionsBlock(block_id="faq_entry_actions", elements=[
                ButtonElement(text="Edit…", action_id=ids.FAQ_EDIT, value=value),
                ButtonElement(text="Withdraw", action_id=ids.FAQ_WITHDRAW, value=value, style="danger",
                              confirm=ConfirmObject(
                                  title="Withdraw this FAQ entry?",
                                  text=f"Entry #{entry_id} stops being offered as an answer. The case keeps its history.",
                                  confirm="Withdraw", deny="Keep it", style="danger")),
            ]),
        ]
    return {
        "text": text,
        "blocks": [b.to_dict() for b in blocks],
        "metadata": Metadata(event_type=FAQ_METADATA_TYPE, event_payload={"case_id": case_id, "entry_id": entry_id}),
    }
