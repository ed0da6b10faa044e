"""Buttons on the card."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from socialdesk.domain import CaseStatus
from socialdesk.listeners.deps import Deps
from socialdesk.slack import cards, ids, messages
from socialdesk.store import cases as case_store
from socialdesk.store.db import session_scope

log = logging.getLogger(__name__)


def _case_id(body: dict[str, Any]) -> int | None:
    value = (body.get("actions") or [{}])[0].get("value", "")
    return int(value) if str(value).isdigit() else None


def _tell(client: WebClient, body: dict[str, Any], text: str) -> None:
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
    client.chat_postEphemeral(channel=channel, user=body["user"]["id"], text=text)


def register(app: App, deps: Deps) -> None:
    def transition(body: dict[str, Any], client: WebClient, change, thread_text, refusal) -> None:  # type: ignore[no-untyped-def]
        case_id = _case_id(body)
        user = body["user"]["id"]
        if case_id is None:
            _tell(client, body, "That button carries no case number; it may come from an old card.")
            return
        try:
            with session_scope(deps.engine) as session:
                result = change(session=session, case_id=case_id, user_id=user, now=deps.clock())
                view = case_store.case_view(session=session, case_id=case_id)
        except case_store.CaseNotFound:
            _tell(client, body, messages.case_missing(str(case_id)))
            return
        if result.ok:
            cards.update_card(client, view)
            cards.thread_note(client, view, thread_text(user))
        else:  # the winner's update refreshes the card for everyone
            _tell(client, body, refusal(CaseStatus(result.case.status), result.case.assignee, case_id))

    @app.action(ids.CLAIM)
    def claim_clicked(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        transition(body, client, case_store.claim, messages.claimed, messages.claim_lost)

    @app.action(ids.UNCLAIM)
    def unclaim_clicked(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        transition(body, client, case_store.unclaim, messages.unclaimed, messages.unclaim_refused)

    @app.action(ids.OPEN_POST)
    def open_post_clicked(ack: Ack) -> None:
        ack()  # a link button: Slack opens the URL; the click still needs an answer
