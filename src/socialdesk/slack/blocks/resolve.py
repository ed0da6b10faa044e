"""The Resolve button's modals: how the case was resolved, then (for "Duplicate") of which case. Pure builders."""

from __future__ import annotations

from slack_sdk.models.blocks import (
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from socialdesk.domain import DUPLICATE, OUTCOMES, CaseStatus, CaseView
from socialdesk.slack import ids
from socialdesk.slack.blocks.modals import metadata, quoted_post, seen

# What each outcome means, in the hint under the choice (a select: options have no descriptions).
DESCRIPTIONS = {
    "answered": "the customer got the answer they needed",
    "fixed": "the problem behind it was fixed",
    "no_reply_needed": "nothing to answer (thanks, praise, chatter)",
    DUPLICATE: "another case is about the same thing; you give its number next",
}
TITLE_LIMIT = 24  # Slack's most for a modal's title


def _label(outcome: str) -> str:
    return OUTCOMES[outcome].capitalize() + ("…" if outcome == DUPLICATE else "")


def _option(outcome: str) -> Option:
    return Option(text=PlainTextObject(text=_label(outcome)), value=outcome)


HINT = " · ".join(f"{OUTCOMES[o].capitalize()}: {d}" for o, d in DESCRIPTIONS.items())


def resolve_modal(view: CaseView, *, user_id: str) -> View:
    """Choose the outcome. A case with a reply starts at "Answered"; someone else's says they will be told."""
    options = [_option(o) for o in OUTCOMES]
    initial = options[0] if view.first_response_at is not None or view.status is CaseStatus.REPLIED else None
    blocks: list = [quoted_post(view, 300)]
    if view.assignee and view.assignee != user_id:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(
            text=f"🙋 <@{view.assignee}> owns this case: socialdesk tells them you resolved it.")]))
    blocks.append(InputBlock(block_id=ids.OUTCOME_INPUT, label="How was it resolved?", hint=HINT,
                             element=StaticSelectElement(action_id=ids.OUTCOME_INPUT, options=options,
                                                         initial_option=initial, placeholder="Choose an outcome")))
    return View(type="modal", callback_id=ids.RESOLVE_MODAL, private_metadata=metadata(view.case_id, seen=seen(view)),
                title=f"Resolve case #{view.case_id}"[:TITLE_LIMIT], submit="Resolve", close="Cancel", blocks=blocks)


def duplicate_modal(case_id: int, *, shown: object = None) -> View:
    """Pushed over the resolve modal: the number of the case this one duplicates (`shown`: the resolve
    modal's `seen`, carried on)."""
    return View(
        type="modal", callback_id=ids.DUPLICATE_MODAL,
        private_metadata=metadata(case_id, **({"seen": shown} if isinstance(shown, dict) else {})),
        title="Duplicate of…", submit="Resolve", close="Back",
        blocks=[InputBlock(
            block_id=ids.DUPLICATE_OF_INPUT, label=f"Case #{case_id} duplicates case number",
            element=PlainTextInputElement(action_id=ids.DUPLICATE_OF_INPUT, max_length=12, placeholder="e.g. 12"),
            hint="The # on the other case's card. Both cards then link to each other.")],
    )
