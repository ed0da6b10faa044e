"""A queue row's Claim and Assign… (`/social queue`, App Home): the card's own claim and assignment, from a list.

Claiming is the card's claim (store.lifecycle.claim, one winner): the card is redrawn and
its thread says who took it. Then the list the click came from is shown as it is now: the
ephemeral `/social queue` page is replaced (its filters and offset are in the button), the
Home is re-published; a lost race is said on top of it. Assign… opens the card's assign
modal (listeners.views handles the submission); from the Home, the Home follows it.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from socialdesk.domain import CaseStatus
from socialdesk.listeners import commands, home_page
from socialdesk.listeners.binding import with_deps
from socialdesk.listeners.common import (
    action_value,
    channel_of,
    load_view,
    open_view,
    refresh,
    tell,
    user_of,
)
from socialdesk.listeners.deps import Deps
from socialdesk.slack import ids, messages
from socialdesk.slack.blocks import modals
from socialdesk.slack.blocks.lookup import case_label
from socialdesk.slack.blocks.queue import parse_row_value
from socialdesk.store import lifecycle
from socialdesk.store.db import session_scope
from socialdesk.logs import about

log = logging.getLogger(__name__)

NOT_OURS = ("This button does not name a case socialdesk knows, so nothing was done. "
            "Run `/social queue` again, or use the buttons on the case's card.")


def from_home(body: dict[str, Any]) -> bool:
    container = body.get("container")
    return isinstance(container, dict) and container.get("type") == "view"


def show(body: dict[str, Any], client: WebClient, respond: Respond | None, deps: Deps, *, arg: str, offset: int,
         notice: str | None, failed: bool) -> None:
    """The list the click came from, as it is now, with `notice` (safe mrkdwn) on top."""
    user = user_of(body)
    if from_home(body):
        home_page.publish(deps, client, user, notice=notice if failed else None)  # a claim shows in "Your cases"
        return
    if respond is None or not body.get("response_url"):  # not from a list we sent: say it privately
        if notice:
            tell(client, channel=None, user=user, text=notice)
        return
    reply = commands.safely("queue", lambda: commands.queue_page(deps, client, arg=arg, offset=offset,
                                                                  notice=notice))
    try:
        respond(replace_original=True, response_type="ephemeral", **reply.as_kwargs())
    except Exception as exc:  # noqa: BLE001 - a response_url lasts 30 minutes: an old list can't be redrawn
        log.info("the queue list for %s could not be redrawn (%s); telling them instead", user[:32], exc)
        if notice:
            tell(client, channel=channel_of(body), user=user, text=notice)


def claim(body: dict[str, Any], client: WebClient, respond: Respond | None, deps: Deps) -> None:
    parsed = parse_row_value(action_value(body))
    if parsed is None:
        show(body, client, respond, deps, arg="", offset=0, notice=NOT_OURS, failed=True)
        return
    case_id, arg, offset = parsed
    user = user_of(body)
    if load_view(deps, case_id) is None:
        show(body, client, respond, deps, arg=arg, offset=offset, notice=messages.case_missing(str(case_id)),
             failed=True)
        return
    with session_scope(deps.engine) as session:
        result = lifecycle.claim(session=session, case_id=case_id, user_id=user, now=deps.clock())
    if not result.ok:  # someone was quicker, or it was resolved meanwhile: the list shows it gone
        show(body, client, respond, deps, arg=arg, offset=offset, failed=True,
             notice=messages.claim_lost(CaseStatus(result.case.status), result.case.assignee, case_id))
        return
    view = refresh(client, deps, case_id, messages.claimed(user))
    link = commands.permalink(client, view.channel_id, view.message_ts) if view is not None else None
    log.info("case %s claimed by %s from the queue", case_id, user[:32], extra=about(case_id=case_id))
    show(body, client, respond, deps, arg=arg, offset=offset, failed=False,
         notice=f"🙋 You claimed {case_label(case_id, link)}: its card and thread say so.")


def assign(body: dict[str, Any], client: WebClient, respond: Respond | None, deps: Deps) -> None:
    parsed = parse_row_value(action_value(body))
    view = load_view(deps, parsed[0]) if parsed is not None else None
    if parsed is None or view is None:
        notice = NOT_OURS if parsed is None else messages.case_missing(str(parsed[0]))
        show(body, client, respond, deps, arg=parsed[1] if parsed else "", offset=parsed[2] if parsed else 0,
             notice=notice, failed=True)
        return
    modal = modals.assign_modal(view)
    if from_home(body):  # the submission re-publishes the Home (listeners.views)
        modal.private_metadata = modals.metadata(view.case_id, home=True)
    open_view(client, body, modal)


def claim_clicked(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond, *, deps: Deps) -> None:
    ack()
    deps.later(claim, body, client, respond, deps)


def assign_clicked(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond, *, deps: Deps) -> None:
    ack()
    deps.later(assign, body, client, respond, deps)


def register(app: App, deps: Deps) -> None:
    app.action(ids.QUEUE_CLAIM)(with_deps(claim_clicked, deps))
    app.action(ids.QUEUE_ASSIGN)(with_deps(assign_clicked, deps))
