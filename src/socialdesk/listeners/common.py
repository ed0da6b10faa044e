"""Small pieces every listener uses: which case, telling the clicker, refreshing the card."""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_sdk import WebClient

from socialdesk.domain import CaseView
from socialdesk.listeners.deps import Deps
from socialdesk.slack import cards, messages
from socialdesk.store import cases as case_store
from socialdesk.store.db import session_scope

log = logging.getLogger(__name__)


def action_case_id(body: dict[str, Any]) -> int | None:
    """The case id in a button's value, or in an overflow option's "<verb>:<id>"."""
    action = (body.get("actions") or [{}])[0]
    value = str(action.get("value") or (action.get("selected_option") or {}).get("value") or "")
    tail = value.rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else None


def view_metadata(view: dict[str, Any]) -> dict[str, Any]:
    try:
        data = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def channel_of(body: dict[str, Any]) -> str | None:
    return (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")


def tell(client: WebClient, *, channel: str | None, user: str, text: str, blocks: list | None = None) -> None:
    """An ephemeral answer; when the channel is unknown (a modal), a DM from the app."""
    if channel:
        client.chat_postEphemeral(channel=channel, user=user, text=text, blocks=blocks)
    else:
        client.chat_postMessage(channel=user, text=text, blocks=blocks)


def load_view(deps: Deps, case_id: int) -> CaseView | None:
    try:
        with session_scope(deps.engine) as session:
            return case_store.case_view(session=session, case_id=case_id, policy=deps.sla_policy)
    except case_store.CaseNotFound:
        return None


def refresh(client: WebClient, deps: Deps, case_id: int, thread_text: str | None = None) -> CaseView | None:
    """Show everyone the case as it is now; add a line to the card's thread."""
    view = load_view(deps, case_id)
    if view is None:
        return None
    cards.update_card(client, view)
    if thread_text:
        cards.thread_note(client, view, thread_text)
    return view


def missing(client: WebClient, body: dict[str, Any], case_id: int | str | None) -> None:
    tell(client, channel=channel_of(body), user=body["user"]["id"], text=messages.case_missing(str(case_id)))


def clicked_case(deps: Deps, client: WebClient, body: dict[str, Any]) -> CaseView | None:
    """The case a card button was clicked for; None (and the clicker is told) when it is gone."""
    case_id = action_case_id(body)
    view = load_view(deps, case_id) if case_id is not None else None
    if view is None:
        missing(client, body, case_id)
    return view
