"""The Test button beside each webhook in App Home (admins): a ping sent now, its outcome in a DM.

App Home has no channel for an ephemeral message, and the Home view belongs to
listeners.home, so the clicker hears back in a direct message from the app.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from socialdesk.listeners.binding import after_ack
from socialdesk.listeners.deps import Deps
from socialdesk.listeners.webhook_commands import NOT_ADMIN, send_and_tell, tell
from socialdesk.slack import ids

log = logging.getLogger(__name__)


def _webhook_id(body: dict[str, Any]) -> int | None:
    value = str(((body.get("actions") or [{}])[0]).get("value") or "")
    return int(value) if value.isascii() and value.isdigit() and len(value) < 10 else None


def test_clicked(body: dict[str, Any], client: WebClient, *, deps: Deps) -> None:
    user_id = (body.get("user") or {}).get("id", "")
    webhook_id = _webhook_id(body)
    if not deps.is_admin(user_id):
        tell(client, user_id=user_id, channel_id="", text=NOT_ADMIN)
        return
    if webhook_id is None:
        tell(client, user_id=user_id, channel_id="",
             text="That Test button carries no webhook number; reopen the Home tab and try again.")
        return
    send_and_tell(deps, client, user_id=user_id, channel_id="", webhook_id=webhook_id)


def register(app: App, deps: Deps) -> None:
    app.action(ids.WEBHOOK_TEST)(after_ack(test_clicked, deps))
