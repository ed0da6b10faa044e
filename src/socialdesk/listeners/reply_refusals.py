"""Why a public reply is not sent after all: the case closed while it was written, or Slack says
(after the submission's ack, which only read the cache) that the agent may not reply."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from slack_sdk import WebClient

from socialdesk.domain import CaseStatus, EventKind
from socialdesk.listeners.common import tell
from socialdesk.listeners.deps import Deps
from socialdesk.slack import messages
from socialdesk.slack.permissions import ReplyPermissions
from socialdesk.store.db import as_utc, session_scope
from socialdesk.store.events import record_event

log = logging.getLogger(__name__)


def closed_meanwhile(view: Any, opened: datetime) -> str | None:
    """Why not to send: the case is ignored (its history could not record the reply: reopen it first), or a
    teammate resolved it after the modal opened (a public reply would go out on a case they closed, unseen
    by them). A modal opened on a case already resolved may reply, as a follow-up."""
    changed = view.updated_at is not None and as_utc(view.updated_at) > opened
    if view.status == CaseStatus.IGNORED:
        when = " (a teammate ignored it while you were writing)" if changed else ""
        return (f"Case #{view.case_id} is ignored{when}, so nothing was sent. Reopen it from the card's ⋯ menu "
                "first if the customer needs an answer.")
    if view.status == CaseStatus.RESOLVED and changed:
        return (f"Case #{view.case_id} was resolved while you were writing, so nothing was sent. Read the card "
                "first; reopen it from the card's ⋯ menu if the customer still needs this answer.")
    return None


def refused_after_ack(client: WebClient, deps: Deps, view: Any, *, user: str, text: str,
                      incident_id: int | None = None) -> bool:
    """Whether `user` may not reply on `view`'s case, asked of Slack now (the submission's ack only read the
    cache). A refusal is recorded and told with the text typed, so nothing written is lost."""
    try:
        if permissions_of(deps).allowed(user, view.channel_id):
            return False
    except Exception as exc:  # noqa: BLE001 - Slack down or limiting: not sent, and said so
        log.warning("could not ask Slack who may reply on case %s: %s", view.case_id, type(exc).__name__)
        refusal = (f"Slack did not answer whether you may send public replies for case #{view.case_id} "
                   f"({type(exc).__name__}), so nothing was sent. Try again in a minute.")
    else:
        with session_scope(deps.engine) as session:
            record_event(session, view.case_id, EventKind.REPLY_REFUSED, user, deps.clock(), reason="not allowed",
                         **({"incident_id": incident_id} if incident_id is not None else {}))
        refusal = messages.not_allowed_to_reply(view.case_id)
    tell(client, channel=view.channel_id, user=user, text=messages.refused_after_submit(refusal, text))
    return True


def permissions_of(deps: Deps) -> ReplyPermissions:
    assert deps.permissions is not None, "replies need the reply permissions (app.build sets them)"
    return deps.permissions
