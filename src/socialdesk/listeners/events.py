"""Events API: drop Slack's retried deliveries, then route events."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltResponse
from sqlalchemy.exc import IntegrityError

from socialdesk.listeners import home
from socialdesk.listeners.deps import Deps
from socialdesk.store.db import session_scope
from socialdesk.store.models import SlackEventRow

log = logging.getLogger(__name__)


def register(app: App, deps: Deps) -> None:
    @app.middleware
    def drop_retried_events(body: dict[str, Any], next: Callable[[], BoltResponse]) -> BoltResponse | None:  # noqa: A002
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if event_id:
            try:
                with session_scope(deps.engine) as session:
                    session.add(SlackEventRow(event_id=event_id, received_at=deps.clock()))
            except IntegrityError:
                log.info("event %s was already handled; ignoring Slack's retry", event_id)
                return BoltResponse(status=200, body="")
        return next()

    @app.event("app_home_opened")
    def home_opened(event: dict[str, Any], client) -> None:  # type: ignore[no-untyped-def]
        if event.get("tab") not in (None, "home"):
            return
        home.publish(deps, client, event["user"])
