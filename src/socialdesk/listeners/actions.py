"""Buttons and the overflow menu on the card: acked at once, the work done after the ack."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from socialdesk.domain import CaseStatus, CaseView
from socialdesk.listeners.binding import ack_only, after_ack
from socialdesk.listeners.common import action_value, channel_of, clicked_case, open_view, refresh, tell, user_of
from socialdesk.listeners.deps import Deps
from socialdesk.slack import ids, messages
from socialdesk.slack.blocks import modals
from socialdesk.store import lifecycle
from socialdesk.store.db import session_scope

log = logging.getLogger(__name__)
Refusal = Callable[[CaseStatus, str | None, int], str]


def transition(body: dict[str, Any], client: WebClient, deps: Deps, change: Callable[..., lifecycle.TransitionResult],
               thread_text: Callable[[str], str], refusal: Refusal) -> CaseView | None:
    """The case as it was before the change, when this click made it; None otherwise."""
    user, view = user_of(body), clicked_case(deps, client, body)
    if view is None:  # no such case, or not this card's: the clicker was told
        return None
    case_id = view.case_id
    with session_scope(deps.engine) as session:
        result = change(session=session, case_id=case_id, user_id=user, now=deps.clock())
    if result.ok:
        refresh(client, deps, case_id, thread_text(user))
        return view
    # A stale or losing click: the winner's update refreshes the card for everyone.
    tell(client, channel=channel_of(body), user=user,
         text=refusal(CaseStatus(result.case.status), result.case.assignee, case_id))
    return None


def refused(action: str) -> Refusal:
    return lambda status, assignee, case_id: messages.transition_refused(action, status, assignee, case_id)


def claim_clicked(body: dict[str, Any], client: WebClient, *, deps: Deps) -> None:
    transition(body, client, deps, lifecycle.claim, messages.claimed, messages.claim_lost)


def unclaim_clicked(body: dict[str, Any], client: WebClient, *, deps: Deps) -> None:
    transition(body, client, deps, lifecycle.unclaim, messages.unclaimed, messages.unclaim_refused)


def reopen_clicked(body: dict[str, Any], client: WebClient, *, deps: Deps) -> None:
    before = transition(body, client, deps, lifecycle.reopen, messages.reopened, refused("reopened"))
    if before is not None and before.duplicate_of is not None:  # the case it duplicated lists it no more
        refresh(client, deps, before.duplicate_of)


def not_spam_clicked(body: dict[str, Any], client: WebClient, *, deps: Deps) -> None:
    """A case filed as likely spam is a real customer: it opens as new (its card expands again)."""
    transition(body, client, deps, lifecycle.not_spam, messages.not_spam, messages.not_spam_refused)


def note_clicked(body: dict[str, Any], client: WebClient, *, deps: Deps) -> None:
    open_modal(body, client, deps, modals.note_modal)


def menu_chosen(body: dict[str, Any], client: WebClient, *, deps: Deps) -> None:
    verb = action_value(body).split(":", 1)[0]
    if verb == ids.MENU_ASSIGN:
        open_modal(body, client, deps, modals.assign_modal)
    elif verb == ids.MENU_IGNORE:
        open_modal(body, client, deps, modals.ignore_modal)
    elif verb == ids.MENU_TAGS:
        open_modal(body, client, deps, lambda view: modals.tags_modal(view, deps.case_tags))
    elif verb == ids.MENU_UNCLAIM:
        unclaim_clicked(body, client, deps=deps)
    elif verb != ids.MENU_OPEN:  # MENU_OPEN carries a URL: Slack opens it, nothing to do here
        tell(client, channel=channel_of(body), user=user_of(body),
             text="That menu choice is not one socialdesk knows, so nothing was done. Try the card's ⋯ menu again.")


def open_modal(body: dict[str, Any], client: WebClient, deps: Deps, build: Callable[..., Any]) -> None:
    view = clicked_case(deps, client, body)
    if view is not None:
        open_view(client, body, build(view))


def register(app: App, deps: Deps) -> None:
    for action_id, work in ((ids.CLAIM, claim_clicked), (ids.UNCLAIM, unclaim_clicked),
                            (ids.REOPEN, reopen_clicked),  # Resolve: listeners/resolutions.py
                            (ids.NOT_SPAM, not_spam_clicked),
                            (ids.NOTE, note_clicked), (ids.MENU, menu_chosen)):
        app.action(action_id)(after_ack(work, deps))
    app.action(re.compile(f"^({ids.OPEN_POST}|{ids.DIGEST_BACKLOG}|{ids.NOTICE_OPEN})$"))(ack_only)
