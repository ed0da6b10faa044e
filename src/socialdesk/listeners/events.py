"""Events API: acked at once; a delivery Slack retried is handled once."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from socialdesk.listeners import home
from socialdesk.listeners.binding import after_ack
from socialdesk.listeners.deps import Deps
from socialdesk.store.db import session_scope
from socialdesk.store.requests import remember_event

log = logging.getLogger(__name__)
MAX_EVENT_ID = 64  # the column's width; Slack's ids are ~11 characters
EventWork = Callable[..., None]


def first_delivery(body: dict[str, Any], deps: Deps) -> bool:
    """Whether this event is new; False for Slack's retry of one already handled (here or on a replica)."""
    event_id = body.get("event_id")
    if not isinstance(event_id, str) or not 0 < len(event_id) <= MAX_EVENT_ID:
        return True  # nothing to tell deliveries apart by: handled (the handlers are safe to repeat)
    with session_scope(deps.engine) as session:
        first = remember_event(session=session, event_id=event_id, received_at=deps.clock())
    if not first:
        log.info("event %s was already handled; ignoring Slack's retry", event_id)
    return first


def once(work: EventWork) -> EventWork:
    """`work` for an event's first delivery only."""
    def handle(body: dict[str, Any], client: WebClient, *, deps: Deps) -> None:
        if first_delivery(body, deps):
            work(body, client, deps=deps)

    handle.__name__ = handle.__qualname__ = work.__name__
    return handle


def register(app: App, deps: Deps) -> None:
    app.event("app_home_opened")(after_ack(once(home.home_opened), deps))
