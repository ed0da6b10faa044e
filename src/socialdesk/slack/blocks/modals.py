"""Modals: note, reply, assign, ignore, tags & priority, mark as replied. Pure builders."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from slack_sdk.models.blocks import (
    ActionsBlock,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    StaticMultiSelectElement,
    StaticSelectElement,
    UserSelectElement,
)
from slack_sdk.models.blocks.basic_components import DispatchActionConfig
from slack_sdk.models.views import View

from socialdesk.domain import CaseStatus, CaseView, Post
from socialdesk.slack import ids
from socialdesk.slack.blocks.answers import DraftLine, answer_blocks, draft_block, is_answer_block, is_draft_block
from socialdesk.slack.text import escape_within
from socialdesk.networks import registry
from socialdesk.networks.base import NetworkInfo
from socialdesk.store.lifecycle import IGNORE_REASONS, PRIORITIES
from socialdesk.store.suggestions import Suggestion

REPLY_MAX_INPUT = 3000  # Slack's plain_text_input limit; the network's own is counted live and checked on submit
# Fields of a view Slack sends back that views.update takes again (the rest are Slack's own: id, hash, state…).
VIEW_FIELDS = ("type", "callback_id", "title", "submit", "close", "private_metadata", "notify_on_close",
               "clear_on_close")
NOTE_MAX_LENGTH = 3000  # a note's most characters: the text box holds no more, and submissions are checked again
TAG_OPTION_LIMIT = 100  # options in a multi-select
CLOSED = (CaseStatus.RESOLVED, CaseStatus.IGNORED)  # nobody works these: their assignee owns nothing now


def tag_value(tag: str) -> str:
    """A tag's option value (Slack keeps at most 150 characters); submissions are checked against it."""
    return tag[:150]


@dataclass(frozen=True)
class SavedReply:
    name: str
    text: str


def metadata(case_id: int, **extra: object) -> str:
    return json.dumps({"case_id": case_id, **extra})


def quoted_post(view: CaseView, limit: int = 600, *, post: Post | None = None, heading: str = "wrote") -> SectionBlock:
    """`post` (the case's first post unless given) quoted under "*@dana* <heading>:"."""
    post = post or view.post
    text, cut = escape_within(post.text, limit)
    who = f"@{escape_within(post.author.handle, 100)[0]}" if post.author.handle else "the customer"
    return SectionBlock(block_id=ids.QUOTED_POST, text=MarkdownTextObject(
        text=f"*{who}* {heading}:\n>{text.replace(chr(10), chr(10) + '>')}{'…' if cut else ''}"))


def answered_quote(view: CaseView, answering: Post | None) -> list[SectionBlock | ContextBlock]:
    """The post the reply answers, quoted: the customer's latest in the case (what is sent to), which
    is a follow-up when they wrote again; then the first post, shorter, for what the case is about."""
    if answering is None or answering.external_id == view.post.external_id:
        return [quoted_post(view)]
    first, cut = escape_within(view.post.text, 200)
    return [quoted_post(view, post=answering, heading="wrote again; this reply answers that latest post"),
            ContextBlock(block_id=ids.REPLY_FIRST_POST, elements=[MarkdownTextObject(
                text=f"Their first post in this case: “{first}{'…' if cut else ''}”")])]


def note_modal(view: CaseView) -> View:
    return View(
        type="modal", callback_id=ids.NOTE_MODAL, private_metadata=metadata(view.case_id),
        title="Internal note", submit="Add note", close="Cancel",
        blocks=[
            quoted_post(view, 300),
            InputBlock(block_id=ids.NOTE_INPUT, label="Note",
                       element=PlainTextInputElement(action_id=ids.NOTE_INPUT, multiline=True, max_length=NOTE_MAX_LENGTH,
                                                     placeholder="Only your team sees this"),
                       hint="Goes into the card's thread and the case history. Never sent to the customer."),
        ],
    )


def reply_modal(view: CaseView, *, brand: str, saved: Sequence[SavedReply], rules: NetworkInfo, text: str = "",
                opened_at: float, revision: int = 0, callback_id: str = ids.REPLY_MODAL,
                submit: str = "Send reply", notify_on_close: bool = True, answers: Sequence[Suggestion] = (),
                draft: DraftLine | None = None, answering: Post | None = None, viewer: str | None = None,
                **extra: object) -> View:
    """`revision` renames the input block so Slack shows a new initial value (a saved reply).
    An approver's "Edit…" reuses it with its own callback id, submit label and metadata.
    `rules`: how replies are counted where they go (the network's, or its server's own limit).
    `answers` (suggestions) and `draft` (None: no language model configured) sit above the box.
    `answering`: the post the reply goes to (store.replies.answered_post), quoted; None: the first post.
    `viewer`: who opens it; told when a teammate owns the case or is writing to it (None: nobody told)."""
    blocks: list = [
        *answered_quote(view, answering),
        ContextBlock(elements=[MarkdownTextObject(
            text=f"⚠️ Sending *publicly* as *@{brand}*, in reply to this post. Everyone can see it.")]),
    ]
    if (line := owner_line(view, viewer)) is not None:
        blocks.append(ContextBlock(block_id=ids.REPLY_OWNER, elements=[MarkdownTextObject(text=line)]))
    if saved:
        blocks.append(ActionsBlock(block_id="saved", elements=[StaticSelectElement(
            action_id=ids.SAVED_REPLY, placeholder="Use a saved reply…",
            options=[Option(text=s.name[:75], value=str(i)) for i, s in enumerate(saved[:100])])]))
    blocks += answer_blocks(answers)
    if draft is not None:
        blocks.append(draft_block(draft))
    blocks.append(reply_input(text, revision, rules))
    blocks.append(reply_count(text, rules))
    return View(
        type="modal", callback_id=callback_id, notify_on_close=notify_on_close,
        private_metadata=metadata(view.case_id, opened_at=opened_at, revision=revision, network=view.post.network,
                                  **({"answering": answering.external_id} if answering else {}), **extra),
        title="Reply publicly", submit=submit, close="Cancel", blocks=blocks,
    )


def owner_line(view: CaseView, viewer: str | None) -> str | None:
    """Who else has this case, said to `viewer` opening Reply: its owner, and a teammate writing to it now."""
    if viewer is None:
        return None
    owner = view.assignee if view.assignee != viewer and view.status not in CLOSED else None
    writer = view.replying_user if view.replying_user not in (None, viewer) else None
    if owner is None and writer is None:
        return None
    if owner is not None:
        line = f"🙋 *<@{owner}> owns this case{' and is writing a reply to it right now' if writer == owner else ''}.*"
        line += " Your reply goes out all the same: say so in the card's thread, so the customer is not answered twice."
        if writer is not None and writer != owner:
            line += f" <@{writer}> is writing a reply to it right now."
        return line
    return (f"✍️ *<@{writer}> is writing a reply to this case right now.* If theirs goes out first, Send stops "
            "yours and says so.")


def reply_input(text: str, revision: int, rules: NetworkInfo) -> InputBlock:
    return InputBlock(
        block_id=f"{ids.REPLY_INPUT}-{revision}", label="Reply", dispatch_action=True,  # each keystroke: the count
        element=PlainTextInputElement(action_id=ids.REPLY_INPUT, multiline=True, initial_value=text or None,
                                      max_length=REPLY_MAX_INPUT, dispatch_action_config=DispatchActionConfig(
                                          trigger_actions_on=["on_character_entered"])),
        hint=rules.text_hint)


def with_saved(typed: str, saved: str, opening: str = "") -> str:
    """The reply box after a saved reply is chosen: what was typed stays and the saved reply follows it
    (a new paragraph). An untouched box (empty, or only the network's `opening`, "@dana ") takes the
    saved reply, the opening kept in front unless the saved reply names the customer itself."""
    if _untouched(typed, opening) and opening.strip() and _names(saved, opening.strip()):
        return saved
    return with_answer(typed, saved, opening)


def _untouched(typed: str, opening: str) -> bool:
    return typed.strip() in ("", opening.strip())


def _names(text: str, mention: str) -> bool:
    """`text` has `mention` ("@dan") as a whole handle: not "@dana", nor "@dan@other.example"."""
    return re.search(rf"(?<![\w@]){re.escape(mention)}(?![\w@.-])", text, re.IGNORECASE) is not None


def with_answer(typed: str, answer: str, opening: str = "") -> str:
    """The reply box after "Use this": what was typed stays and the answer (its leading mentions
    gone) follows it, a new paragraph. An untouched box takes the network's `opening` and the
    answer, always: an answer from another case never names this customer, even where it
    mentions someone whose handle contains theirs."""
    if _untouched(typed, opening):
        return opening + answer
    return f"{typed.rstrip()}\n\n{answer}"


_KEEP = object()  # `redrawn`: leave that part as the modal has it


def redrawn(modal: dict, rules: NetworkInfo, *, answers: Sequence[Suggestion] | None = None,
            draft: DraftLine | None | object = _KEEP, text: str | None = None) -> dict | None:
    """The reply modal as Slack sent it back, with some of its parts drawn anew; None if it is not one.

    `answers` replaces the suggestions, `draft` the draft's line (None removes it), and `text`
    puts a new text in the reply box: the box gets the next revision's block id, since Slack
    shows a new initial value only in a new block (it keeps what was typed in one it knows),
    and the count is redrawn for it. Everything else goes back as Slack holds it, the box
    included when `text` is None, so what the agent typed stays.
    """
    blocks = modal.get("blocks")
    if not isinstance(blocks, list) or not any(_is_input(b) for b in blocks):
        return None
    meta = _metadata(modal)
    revised = [b for b in blocks if not (answers is not None and is_answer_block(b))
               and not (draft is not _KEEP and is_draft_block(b))]
    if answers is not None:  # above the draft's line, or else the box
        at = next(i for i, b in enumerate(revised) if is_draft_block(b) or _is_input(b))
        revised[at:at] = [b.to_dict() for b in answer_blocks(answers)]
    if isinstance(draft, DraftLine):  # right above the box
        revised.insert(next(i for i, b in enumerate(revised) if _is_input(b)), draft_block(draft).to_dict())
    if text is not None:
        text = text[:REPLY_MAX_INPUT]
        revision = _revision_of(meta) + 1
        meta["revision"] = revision
        revised = [reply_input(text, revision, rules).to_dict() if _is_input(b)
                   else reply_count(text, rules).to_dict() if _is_count(b) else b for b in revised]
    return {k: modal[k] for k in VIEW_FIELDS if modal.get(k) is not None} | {
        "private_metadata": json.dumps(meta), "blocks": revised}


def reanswered(modal: dict, view: CaseView, answering: Post, rules: NetworkInfo, text: str) -> dict | None:
    """The reply modal as submitted, now answering `answering`: the customer wrote again while the agent
    wrote, so nothing was sent. Said at the top, the new post quoted, the text kept (in the next
    revision's box), and the metadata naming the post answered now; None if it is not a reply modal."""
    base = redrawn(modal, rules, text=text)
    if base is None:
        return None
    meta = _metadata(base) | {"answering": answering.external_id}
    replaced = (ids.QUOTED_POST, ids.REPLY_FIRST_POST, ids.REPLY_NEWER)
    who = f"@{escape_within(answering.author.handle, 100)[0]}" if answering.author.handle else "The customer"
    notice = ContextBlock(block_id=ids.REPLY_NEWER, elements=[MarkdownTextObject(
        text=f"🔔 *{who} wrote again while you were writing*, so nothing was sent. Your reply now answers their "
             "new post, quoted below: read it, change the reply if it needs to, then Send.")])
    return base | {"private_metadata": json.dumps(meta), "blocks": [
        notice.to_dict(), *(b.to_dict() for b in answered_quote(view, answering)),
        *(b for b in base["blocks"] if not (isinstance(b, dict) and b.get("block_id") in replaced))]}


def _is_input(block: object) -> bool:
    return isinstance(block, dict) and str(block.get("block_id", "")).startswith(f"{ids.REPLY_INPUT}-")


def _metadata(modal: dict) -> dict:
    try:
        meta = json.loads(modal.get("private_metadata") or "{}")
    except (TypeError, ValueError, RecursionError):  # RecursionError: '[' * 3000
        return {}
    return meta if isinstance(meta, dict) else {}


def _revision_of(meta: dict) -> int:
    value = meta.get("revision")
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1000 else 0


def count_line(text: str, rules: NetworkInfo) -> str:
    """The reply counted as it will be sent (stripped), against the limit ("281/280"), and by how much it is over."""
    length = rules.text_length(text.strip())
    line = f"{length:,}/{rules.text_limit:,} characters, as {rules.label} counts them"
    if length <= rules.text_limit:
        return line
    return f"⚠️ {line}: {length - rules.text_limit:,} too many. Shorten it to send."


def reply_count(text: str, rules: NetworkInfo) -> ContextBlock:
    """The count under the reply box. Plain text: nothing in it is read as markup or a mention."""
    return ContextBlock(block_id=ids.REPLY_COUNT, elements=[PlainTextObject(text=count_line(text, rules), emoji=False)])


def with_count(modal: dict, text: str, rules: NetworkInfo) -> dict | None:
    """`modal` as Slack sent it back with its count redrawn for `text`; None if it has no count line.

    Every other block goes back as Slack holds it, so the input keeps its block and action ids
    and Slack keeps what the agent typed (a views.update keeps an input's value only then).
    """
    blocks = modal.get("blocks")
    if not isinstance(blocks, list) or not any(_is_count(b) for b in blocks):
        return None
    count = reply_count(text, rules).to_dict()
    return {k: modal[k] for k in VIEW_FIELDS if modal.get(k) is not None} | {
        "blocks": [count if _is_count(b) else b for b in blocks]}


def _is_count(block: object) -> bool:
    return isinstance(block, dict) and block.get("block_id") == ids.REPLY_COUNT


def assign_modal(view: CaseView) -> View:
    return View(
        type="modal", callback_id=ids.ASSIGN_MODAL, private_metadata=metadata(view.case_id),
        title=f"Assign case #{view.case_id}"[:24], submit="Assign", close="Cancel",
        blocks=[InputBlock(block_id=ids.ASSIGNEE_INPUT, label="Assign to",
                           element=UserSelectElement(action_id=ids.ASSIGNEE_INPUT, initial_user=view.assignee))],
    )


def seen(view: CaseView) -> dict[str, str | None]:
    """The case as a window showed it, kept in its metadata: a submission after a teammate changed its
    status or owner is not applied to what the person never saw (listeners.views.changed_since)."""
    return {"status": view.status.value, "assignee": view.assignee}


def ignore_modal(view: CaseView) -> View:
    return View(
        type="modal", callback_id=ids.IGNORE_MODAL, private_metadata=metadata(view.case_id, seen=seen(view)),
        title="Ignore this case", submit="Ignore", close="Cancel",
        blocks=[InputBlock(block_id=ids.IGNORE_REASON_INPUT, label="Why",
                           element=StaticSelectElement(action_id=ids.IGNORE_REASON_INPUT, options=[
                               Option(text=label.capitalize(), value=key) for key, label in IGNORE_REASONS.items()]))],
    )


def tags_modal(view: CaseView, tags: Sequence[str]) -> View:
    """The team's tags (SOCIALDESK_TAGS) only: a case's tag no longer among them is named, and dropped on save."""
    known = list(dict.fromkeys(tags))[:TAG_OPTION_LIMIT]
    tag_options = [Option(text=t[:75], value=tag_value(t)) for t in known]
    selected = [o for o in tag_options if o.value in {tag_value(t) for t in view.tags}]
    dropped = [t for t in view.tags if t not in known]
    priority_options = [Option(text=p.capitalize(), value=p) for p in PRIORITIES]
    blocks: list = []
    if dropped:
        names = ", ".join(f"`{escape_within(t, 40)[0]}`" for t in dropped[:5]) + (" …" if len(dropped) > 5 else "")
        blocks.append(ContextBlock(block_id="tags_dropped", elements=[MarkdownTextObject(
            text=f"Not among the team's tags any more, so removed when you save: {names}")]))
    if tag_options:
        blocks.append(InputBlock(block_id=ids.TAGS_INPUT, label="Tags", optional=True,
                                 element=StaticMultiSelectElement(action_id=ids.TAGS_INPUT, options=tag_options,
                                                                  initial_options=selected or None)))
    blocks.append(InputBlock(block_id=ids.PRIORITY_INPUT, label="Priority",
                             element=StaticSelectElement(action_id=ids.PRIORITY_INPUT, options=priority_options,
                                                         initial_option=next(o for o in priority_options if o.value == view.priority)
                                                         if view.priority in PRIORITIES else None)))
    return View(type="modal", callback_id=ids.TAGS_MODAL, private_metadata=metadata(view.case_id),
                title="Tags & priority", submit="Save", close="Cancel", blocks=blocks)


def mark_replied_modal(view: CaseView, *, via: str) -> View:
    network = registry.info(view.post.network)
    return View(
        type="modal", callback_id=ids.MARK_REPLIED_MODAL,
        private_metadata=metadata(view.case_id, via=via, network=view.post.network),
        title="Mark as replied", submit="Save", close="Cancel",
        blocks=[
            SectionBlock(text=MarkdownTextObject(text=f"Paste the link of the reply you posted on {network.label}.")),
            InputBlock(block_id=ids.REPLY_URL_INPUT, label="Link to your reply",
                       element=PlainTextInputElement(action_id=ids.REPLY_URL_INPUT,
                                                     placeholder=network.post_url_example[:150])),
        ],
    )
