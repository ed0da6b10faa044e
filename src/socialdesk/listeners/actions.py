"""Buttons and the overflow menu on the card. Every listener acks first."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from socialdesk.domain import CaseStatus
from socialdesk.listeners.common import action_value, channel_of, clicked_case, refresh, tell, user_of
from socialdesk.listeners.deps import Deps
from socialdesk.slack import ids, messages
from socialdesk.slack.blocks import modals
from socialdesk.store import lifecycle
from socialdesk.store.db import session_scope

log = logging.getLogger(__name__)


def register(app: App, deps: Deps) -> None:
    def transition(body: dict[str, Any], client: WebClient, change: Callable[..., lifecycle.TransitionResult],
                   thread_text: Callable[[str], str], refusal: Callable[[CaseStatus, str | None, int], str],
                   **extra: Any) -> None:
        user, view = user_of(body), clicked_case(deps, client, body)
        if view is None:  # no such case, or not this card's: the clicker was told
            return
        case_id = view.case_id
        with session_scope(deps.engine) as session:
            result = change(session=session, case_id=case_id, user_id=user, now=deps.clock(), **extra)
        if result.ok:
            refresh(client, deps, case_id, thread_text(user))
        else:  # a stale or losing click: the winner's update refreshes the card for everyone
            tell(client, channel=channel_of(body), user=user,
                 text=refusal(CaseStatus(result.case.status), result.case.assignee, case_id))

    def refused(action: str) -> Callable[[CaseStatus, str | None, int], str]:
        return lambda status, assignee, case_id: messages.transition_refused(action, status, assignee, case_id)

    @app.action(ids.CLAIM)
    def claim_clicked(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        transition(body, client, lifecycle.claim, messages.claimed, messages.claim_lost)

    @app.action(ids.UNCLAIM)
    def unclaim_clicked(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        transition(body, client, lifecycle.unclaim, messages.unclaimed, messages.unclaim_refused)

    @app.action(ids.RESOLVE)
    def resolve_clicked(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        transition(body, client, lifecycle.resolve, messages.resolved, refused("resolved"))

    @app.action(ids.REOPEN)
    def reopen_clicked(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        transition(body, client, lifecycle.reopen, messages.reopened, refused("reopened"))

    @app.action(ids.NOTE)
    def note_clicked(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        open_modal(body, client, modals.note_modal)

    @app.action(re.compile(f"^({ids.OPEN_POST}|{ids.DIGEST_BACKLOG})$"))
    def link_clicked(ack: Ack) -> None:
        ack()  # a link button: Slack opens the URL; the click still needs an answer

    @app.action(ids.MENU)
    def menu_chosen(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        verb = action_value(body).split(":", 1)[0]
        if verb == ids.MENU_ASSIGN:
            open_modal(body, client, modals.assign_modal)
        elif verb == ids.MENU_IGNORE:
            open_modal(body, client, modals.ignore_modal)
        elif verb == ids.MENU_TAGS:
            open_modal(body, client, lambda view: modals.tags_modal(view, deps.tags))
        elif verb == ids.MENU_UNCLAIM:
            transition(body, client, lifecycle.unclaim, messages.unclaimed, messages.unclaim_refused)
        elif verb != ids.MENU_OPEN:  # MENU_OPEN carries a URL: Slack opens it, nothing to do here
            tell(client, channel=channel_of(body), user=user_of(body),
                 text="That menu choice is not one socialdesk knows, so nothing was done. Try the card's ⋯ menu again.")

    def open_modal(body: dict[str, Any], client: WebClient, build: Callable[..., Any]) -> None:
        view = clicked_case(deps, client, body)
        trigger = body.get("trigger_id")
        if view is not None and isinstance(trigger, str):
            client.views_open(trigger_id=trigger, view=build(view))
