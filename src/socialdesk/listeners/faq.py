"""Save as FAQ: the card's button, the modal's submission, and the entry's Edit… / Withdraw in the thread.

Who may curate: whoever may send public replies for the case (deps.permissions), since
an entry is what the team will answer customers with.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from socialdesk.domain import CaseStatus, CaseView
from socialdesk.listeners.binding import after_ack, with_deps
from socialdesk.listeners.common import (
    action_value,
    channel_of,
    clicked_case,
    id_from,
    load_view,
    meta_id,
    metadata_of,
    missing,
    open_view,
    refresh,
    tell,
    user_of,
)
from socialdesk.listeners.deps import Deps
from socialdesk.listeners.views import (
    length_problem,
    selected_values,
    tags_problem,
    text_input,
)
from socialdesk.slack import ids, messages
from socialdesk.slack.blocks import faq as faq_blocks
from socialdesk.slack.blocks.faq import FaqForm
from socialdesk.slack.permissions import ReplyPermissions
from socialdesk.store import curated
from socialdesk.store.db import read_scope, session_scope
from socialdesk.store.models import CuratedEntryRow

log = logging.getLogger(__name__)
MESSAGE_TS = re.compile(r"^\d{1,12}\.\d{1,8}$")
THREAD_PAGES = 5  # how far into a card's thread to look for an entry's line


def not_allowed(case_id: int) -> str:
    return (f"You can't save case #{case_id} as a FAQ entry. FAQ entries become the team's answers, so they are "
            "curated by the people who may send public replies for the case (members of its channel, unless an "
            "admin chose users or groups). Ask one of them, or an admin.")


def not_resolved(view: CaseView) -> str:
    return (f"Case #{view.case_id} is {view.status.value}, not resolved: only a resolved case has an answer that "
            "worked. Resolve it first, then save it as FAQ.")


def withdrawn(entry: CuratedEntryRow) -> str:
    return (f"FAQ entry #{entry.id} was already withdrawn by {faq_blocks.mention(entry.updated_by)}. "
            f"To keep case #{entry.case_id} as FAQ again, use 📖 Save as FAQ on its card.")


def form_from_entry(entry: CuratedEntryRow, view: CaseView, deps: Deps, message_ts: str | None = None) -> FaqForm:
    return FaqForm(case_id=entry.case_id, question=entry.question, answer=entry.answer, notes=entry.notes,
                   tags=tuple(entry.tags or ()), entry_id=entry.id, message_ts=message_ts,
                   customer=view.post.author.handle or None, known_tags=tuple(deps.tags))


TEXT_INPUTS = {faq_blocks.QUESTION_INPUT: "question", faq_blocks.ANSWER_INPUT: "answer",
               faq_blocks.NOTES_INPUT: "note"}


def submitted_values(modal: dict[str, Any]) -> tuple[str, str, str, list[str] | None]:
    """Question, answer, notes (each "" when absent) and the chosen tags (None when malformed)."""
    question, answer, notes = (text_input(modal, block, block).strip() for block in TEXT_INPUTS)
    return question, answer, notes, selected_values(modal, faq_blocks.TAGS_INPUT, faq_blocks.TAGS_INPUT)


def text_errors(modal: dict[str, Any]) -> dict[str, str]:
    """Texts longer than the modal's boxes hold (a forged submission): refused before anything reads them."""
    errors = {}
    for block, what in TEXT_INPUTS.items():
        problem = length_problem(text_input(modal, block, block), faq_blocks.INPUT_LIMIT, what)
        if problem:
            errors[block] = problem
    return errors


def thread_ts(value: object) -> str | None:
    """A message ts as Slack writes them ("1712345678.123456"), from a modal's metadata."""
    return value if isinstance(value, str) and MESSAGE_TS.match(value) else None


def find_entry_line(client: WebClient, view: CaseView, entry_id: int) -> str | None:
    """The ts of the entry's line in the card's thread (by its message metadata), if any."""
    cursor = None
    for _ in range(THREAD_PAGES):
        response = client.conversations_replies(channel=view.channel_id, ts=view.thread_ts, include_all_metadata=True,
                                                limit=200, cursor=cursor)
        for message in response.get("messages") or []:
            meta = message.get("metadata") or {}
            if (meta.get("event_type") == faq_blocks.FAQ_METADATA_TYPE
                    and (meta.get("event_payload") or {}).get("entry_id") == entry_id):
                return str(message["ts"])
        cursor = (response.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            return None
    return None


def show_entry(client: WebClient, view: CaseView, entry: CuratedEntryRow, message_ts: str | None = None) -> None:
    """Post the entry's line in the card's thread, or update it where it already is."""
    if not view.message_ts:
        return
    # Same actor and time: never edited. (A save by the same agent a second later counts as an edit.)
    edited = entry.updated_at - entry.created_at > timedelta(0)
    message = faq_blocks.entry_message(entry_id=entry.id, case_id=entry.case_id, question=entry.question,  # type: ignore[arg-type]
                                       status=entry.status, created_by=entry.created_by,
                                       updated_by=entry.updated_by, edited=edited)
    ts = message_ts or find_entry_line(client, view, entry.id)  # type: ignore[arg-type]
    if ts:
        client.chat_update(channel=view.channel_id, ts=ts, **message)
    else:
        client.chat_postMessage(channel=view.channel_id, thread_ts=view.thread_ts, unfurl_links=False,
                                unfurl_media=False, **message)


def entry_and_view(body: dict[str, Any], client: WebClient, deps: Deps) -> tuple[CuratedEntryRow, CaseView] | None:
    """The entry a thread button names, and its case; tells the clicker when either is gone."""
    user, entry_id = user_of(body), id_from(action_value(body))
    try:
        if entry_id is None:
            raise curated.EntryNotFound(0)
        with read_scope(deps.engine) as session:
            entry = curated.get_entry(session=session, entry_id=entry_id)
    except curated.EntryNotFound:
        shown = f"FAQ entry {entry_id}" if entry_id is not None else "That FAQ entry"
        tell(client, channel=channel_of(body), user=user,
             text=f"{shown} is not in socialdesk's database any more. Ask an admin to check the server logs.")
        return None
    view = load_view(deps, entry.case_id)
    if view is None:
        missing(client, body, entry.case_id)
        return None
    if not permissions_of(deps).allowed(user, view.channel_id):
        tell(client, channel=channel_of(body), user=user, text=not_allowed(view.case_id))
        return None
    if entry.status != curated.ACTIVE:
        tell(client, channel=channel_of(body), user=user, text=withdrawn(entry))
        return None
    return entry, view


def entry_tags(deps: Deps, entry_id: int | None) -> list[str]:
    """An entry's own tags stay choosable (even one since dropped from SOCIALDESK_TAGS), as the modal offers them."""
    if entry_id is None:
        return []
    try:
        with read_scope(deps.engine) as session:
            return list(curated.get_entry(session=session, entry_id=entry_id).tags or [])
    except curated.EntryNotFound:
        return []


def save_clicked(body: dict[str, Any], client: WebClient, *, deps: Deps) -> None:
    user = body["user"]["id"]
    view = clicked_case(deps, client, body)
    if view is None:
        return
    if not permissions_of(deps).allowed(user, view.channel_id):
        tell(client, channel=channel_of(body), user=user, text=not_allowed(view.case_id))
        return
    if view.status is not CaseStatus.RESOLVED:  # a stale card: the case was reopened since
        tell(client, channel=channel_of(body), user=user, text=not_resolved(view))
        return
    with read_scope(deps.engine) as session:
        entry = curated.active_entry(session=session, case_id=view.case_id)
        draft = None if entry else curated.draft_for_case(session=session, case_id=view.case_id)
    if entry is not None:  # "📖 Edit FAQ": the entry as it was saved, not a fresh draft
        form = form_from_entry(entry, view, deps)
    else:
        assert draft is not None
        form = FaqForm(case_id=view.case_id, question=draft.question, answer=draft.answer, notes=draft.notes,
                       tags=draft.tags, customer=view.post.author.handle or None, known_tags=tuple(deps.tags))
    open_view(client, body, faq_blocks.faq_modal(form))


def edit_clicked(body: dict[str, Any], client: WebClient, *, deps: Deps) -> None:
    found = entry_and_view(body, client, deps)
    if found is None:
        return
    entry, view = found
    message_ts = (body.get("message") or {}).get("ts") or (body.get("container") or {}).get("message_ts")
    open_view(client, body, faq_blocks.faq_modal(form_from_entry(entry, view, deps, message_ts)))


def withdraw_clicked(body: dict[str, Any], client: WebClient, *, deps: Deps) -> None:
    found = entry_and_view(body, client, deps)
    if found is None:
        return
    entry, view = found
    user = body["user"]["id"]
    try:
        with session_scope(deps.engine) as session:
            entry = curated.withdraw_entry(session=session, entry_id=entry.id, actor=user, now=deps.clock())  # type: ignore[arg-type]
    except curated.EntryWithdrawn as exc:  # a teammate withdrew it a moment ago
        tell(client, channel=channel_of(body), user=user, text=withdrawn(exc.entry))
        return
    message_ts = (body.get("message") or {}).get("ts") or (body.get("container") or {}).get("message_ts")
    show_entry(client, view, entry, message_ts)
    refresh(client, deps, view.case_id)  # the card offers "Save as FAQ" again


def modal_submitted(ack: Ack, body: dict[str, Any], client: WebClient, *, deps: Deps) -> None:
    modal, user = body["view"], body["user"]["id"]
    meta = metadata_of(modal)
    case_id, entry_id = meta_id(meta), meta_id(meta, "entry_id")
    errors = text_errors(modal)
    if errors:
        ack(response_action="errors", errors=errors)
        return
    question, answer, notes, tags = submitted_values(modal)
    if meta.get("entry_id") is not None and entry_id is None:
        case_id = None  # metadata we did not write: no case to save to
    if not question:
        errors[faq_blocks.QUESTION_INPUT] = "Write the question customers ask, or press Cancel."
    if not answer:
        errors[faq_blocks.ANSWER_INPUT] = "Write the answer that worked, or press Cancel."
    view = load_view(deps, case_id) if case_id is not None else None
    if view is None:
        errors[faq_blocks.QUESTION_INPUT] = ("This case is no longer in socialdesk's database, so it can't be "
                                             "saved. Copy your text, press Cancel, and ask an admin.")
    elif permissions_of(deps).known(user, view.channel_id) is False:  # the cache only: save_entry asks Slack
        errors[faq_blocks.QUESTION_INPUT] = not_allowed(view.case_id)
    elif entry_id is None and view.status is not CaseStatus.RESOLVED:
        errors[faq_blocks.QUESTION_INPUT] = (f"Case #{view.case_id} was {view.status.value} while you wrote this. "
                                             "Resolve it again, then save; copy your text first.")
    else:
        # the modal offers the team's tags, and the case's and entry's own (a draft starts from the case's)
        problem = tags_problem(tags, list(dict.fromkeys([*deps.tags, *view.tags, *entry_tags(deps, entry_id)])))
        if problem:
            errors[faq_blocks.TAGS_INPUT] = problem
    if errors:
        ack(response_action="errors", errors=errors)
        return
    ack()
    assert view is not None
    deps.later(save_entry, client, deps, view=view, user=user, entry_id=entry_id, meta=meta,
               values=(question, answer, notes, tags))


def save_entry(client: WebClient, deps: Deps, *, view: CaseView, user: str, entry_id: int | None,
               meta: dict[str, Any], values: tuple[str, str, str, list[str] | None]) -> None:
    question, answer, notes, tags = values
    refusal = curator_refusal(deps, user, view)
    if refusal is not None:
        typed = "\n\n".join(part for part in (question, answer, notes) if part)
        tell(client, channel=view.channel_id, user=user, text=messages.refused_after_submit(refusal, typed))
        return
    try:
        with session_scope(deps.engine) as session:
            if entry_id is not None:
                entry = curated.update_entry(session=session, entry_id=entry_id, question=question, answer=answer,
                                             notes=notes, tags=tags, actor=user, now=deps.clock())
            else:
                entry = curated.save_entry(session=session, case_id=view.case_id, question=question,
                                           answer=answer, notes=notes, tags=tags, actor=user, now=deps.clock())
    except curated.CurationError as exc:  # lost a race: withdrawn or reopened after the checks above
        tell(client, channel=view.channel_id, user=user, text=f"Your FAQ entry was not saved: {exc}.")
        return
    show_entry(client, view, entry, thread_ts(meta.get("message_ts")))
    refresh(client, deps, view.case_id)  # the card's button now reads "Edit FAQ"


def curator_refusal(deps: Deps, user: str, view: CaseView) -> str | None:
    """Why `user` may not curate `view`'s case, asked of Slack (the submission's ack only read the cache)."""
    try:
        return None if permissions_of(deps).allowed(user, view.channel_id) else not_allowed(view.case_id)
    except Exception as exc:  # noqa: BLE001 - Slack down or limiting: not saved, and said so
        log.warning("could not ask Slack who may curate case %s: %s", view.case_id, type(exc).__name__)
        return (f"Slack did not answer whether you may save case #{view.case_id} as a FAQ entry "
                f"({type(exc).__name__}), so nothing was saved. Try again in a minute.")


def permissions_of(deps: Deps) -> ReplyPermissions:
    assert deps.permissions is not None, "Save as FAQ needs the reply permissions (app.build sets them)"
    return deps.permissions


def register(app: App, deps: Deps) -> None:
    for action_id, work in ((ids.FAQ_SAVE, save_clicked), (ids.FAQ_EDIT, edit_clicked),
                            (ids.FAQ_WITHDRAW, withdraw_clicked)):
        app.action(action_id)(after_ack(work, deps))
    app.view(ids.FAQ_MODAL)(with_deps(modal_submitted, deps))
