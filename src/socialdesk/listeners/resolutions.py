"""Resolving a case: the Resolve button opens a modal asking how (answered, fixed, no reply
needed, duplicate); "Duplicate" pushes a second one asking of which case. The owner, when
someone else resolves their case, gets a DM.

The duplicate's number is checked in the ack (it exists, it is not this case, it is not this
case's own duplicate), so a mistake is shown in the modal. That read runs within CHECK_BUDGET:
a database too busy to answer in time does not hold the ack, and the resolve itself checks
again and tells the agent if the number was wrong.
"""

from __future__ import annotations

import logging
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from socialdesk.domain import DUPLICATE, OUTCOMES, CaseStatus, outcome_label
from socialdesk.listeners.binding import after_ack, awaited_by_ack, with_deps
from socialdesk.listeners.common import (
    channel_of,
    clicked_case,
    id_from,
    load_view,
    metadata_of,
    open_view,
    refresh,
    tell,
    user_of,
)
from socialdesk.listeners.deps import Deps
from socialdesk.listeners.views import case_of, changed_since, refused, selected_value, text_input
from socialdesk.slack import ids, messages
from socialdesk.slack.blocks.resolve import duplicate_modal, resolve_modal
from socialdesk.slack.verify import replay_harmless
from socialdesk.store import lifecycle
from socialdesk.store.db import read_scope, session_scope
from socialdesk.logs import about

log = logging.getLogger(__name__)
CHECK_BUDGET = 1.5  # seconds the duplicate's check may take in the ack (Slack's deadline is 3 s)
OPEN = {CaseStatus.NEW, CaseStatus.REOPENED, CaseStatus.CLAIMED, CaseStatus.REPLIED}
CHOOSE = "Choose how the case was resolved."
NOT_A_NUMBER = "Give the other case's number, e.g. 12 (the # on its card)."


def resolve_clicked(body: dict[str, Any], client: WebClient, *, deps: Deps) -> None:
    """The card's Resolve: the modal, or why the case can't be resolved now (a stale card)."""
    user, view = user_of(body), clicked_case(deps, client, body)
    if view is None:  # no such case, or not this card's: the clicker was told
        return
    if view.status not in OPEN:
        tell(client, channel=channel_of(body), user=user,
             text=messages.transition_refused("resolved", view.status, view.assignee, view.case_id))
        return
    open_view(client, body, resolve_modal(view, user_id=user))


def resolve_submitted(ack: Ack, body: dict[str, Any], client: WebClient, *, deps: Deps) -> None:
    outcome = selected_value(body.get("view") or {}, ids.OUTCOME_INPUT, ids.OUTCOME_INPUT)
    if refused(ack, body, ids.OUTCOME_INPUT, None if outcome in OUTCOMES else CHOOSE):
        return
    case_id = case_of(body)
    assert case_id is not None and outcome is not None  # `refused` answered a modal naming no case
    shown = metadata_of(body.get("view")).get("seen")
    if outcome == DUPLICATE:  # of which case: asked next, over this modal
        ack(response_action="push", view=duplicate_modal(case_id, shown=shown).to_dict())
        return
    ack()
    deps.later(resolve_case, client, deps, user_of(body), case_id, outcome, None, shown=shown)


def duplicate_submitted(ack: Ack, body: dict[str, Any], client: WebClient, *, deps: Deps) -> None:
    raw = text_input(body.get("view") or {}, ids.DUPLICATE_OF_INPUT, ids.DUPLICATE_OF_INPUT)
    other = id_from(raw.strip().removeprefix("#").strip())
    case_id = case_of(body)
    problem = NOT_A_NUMBER if other is None else None
    if problem is None and other == case_id:
        problem = f"Case #{case_id} can't be a duplicate of itself. Give the number of the other case."
    if refused(ack, body, ids.DUPLICATE_OF_INPUT, problem):
        return
    assert case_id is not None and other is not None
    problem = checked_in_time(deps, case_id, other)
    if problem:
        ack(response_action="errors", errors={ids.DUPLICATE_OF_INPUT: problem})
        return
    ack(response_action="clear")  # both modals close
    deps.later(resolve_case, client, deps, user_of(body), case_id, DUPLICATE, other,
               shown=metadata_of(body.get("view")).get("seen"))


def checked_in_time(deps: Deps, case_id: int, other: int) -> str | None:
    """`duplicate_problem`, if the database answers within CHECK_BUDGET (otherwise None: checked again later)."""
    with replay_harmless(), awaited_by_ack():  # a read: it need not wait for the replay check, nor let acks go first
        pending = deps.later(duplicate_problem, deps, case_id, other)
    try:
        return pending.result(timeout=CHECK_BUDGET)
    except FutureTimeout:
        log.warning("case %s: the duplicate's check took over %.1f s; it is checked again when resolving",
                    case_id, CHECK_BUDGET, extra=about(case_id=case_id))
    except Exception as exc:  # noqa: BLE001 - the resolve checks again and says what went wrong
        log.warning("case %s: the duplicate's check failed (%s); it is checked again when resolving",
                    case_id, type(exc).__name__, extra=about(case_id=case_id))
    return None


def duplicate_problem(deps: Deps, case_id: int, other: int) -> str | None:
    with read_scope(deps.engine) as session:
        return lifecycle.duplicate_problem(session=session, case_id=case_id, duplicate_of=other)


def resolve_case(client: WebClient, deps: Deps, user: str, case_id: int, outcome: str,
                 duplicate_of: int | None, *, shown: object = None) -> None:
    """Resolve, redraw the card (and the card it duplicates), and tell the owner if it was someone else's.

    `shown`: the case as the modal showed it (`modals.seen`); changed since, nothing is resolved."""
    view = load_view(deps, case_id)
    if view is None:
        tell(client, channel=None, user=user, text=messages.case_missing(str(case_id)))
        return
    problem = changed_since(view, shown)
    if problem:
        tell(client, channel=view.channel_id, user=user, text=problem)
        return
    try:
        with session_scope(deps.engine) as session:
            result = lifecycle.resolve(session=session, case_id=case_id, user_id=user, now=deps.clock(),
                                       outcome=outcome, duplicate_of=duplicate_of,
                                       expected_version=view.version if isinstance(shown, dict) else None)
    except lifecycle.OutcomeError as exc:  # the duplicate changed since the modal's check (or was not checked)
        tell(client, channel=view.channel_id, user=user, text=f"Case #{case_id} was *not* resolved: {exc}")
        return
    if not result.ok:
        tell(client, channel=view.channel_id, user=user, text=messages.transition_refused(
            "resolved", CaseStatus(result.case.status), result.case.assignee, case_id))
        return
    label = outcome_label(outcome, duplicate_of)
    refresh(client, deps, case_id, messages.resolved(user, label))
    if duplicate_of is not None:  # its card lists its duplicates now
        refresh(client, deps, duplicate_of, messages.duplicate_linked(user, case_id))
    owner = result.case.assignee
    if owner and owner != user:
        tell_owner(client, owner, messages.resolved_yours(user, case_id, label, card_link(client, view)), case_id)


def card_link(client: WebClient, view: Any) -> str | None:
    if not view.message_ts:
        return None
    try:
        return str(client.chat_getPermalink(channel=view.channel_id, message_ts=view.message_ts)["permalink"])
    except (SlackApiError, OSError, KeyError) as exc:
        log.info("case %s: no permalink for the owner's DM (%s); it names the case", view.case_id, exc,
                 extra=about(case_id=view.case_id))
        return None


def tell_owner(client: WebClient, owner: str, text: str, case_id: int) -> None:
    """At most once: the resolve that won sends it; a failure is logged (the thread says it too)."""
    try:
        client.chat_postMessage(channel=owner, text=text)
    except (SlackApiError, OSError) as exc:
        error = exc.response.get("error") if isinstance(exc, SlackApiError) else exc
        log.warning("case %s: the owner was not told it was resolved (%s)", case_id, error,
                    extra=about(case_id=case_id))


def register(app: App, deps: Deps) -> None:
    app.action(ids.RESOLVE)(after_ack(resolve_clicked, deps))
    app.view(ids.RESOLVE_MODAL)(with_deps(resolve_submitted, deps))
    app.view(ids.DUPLICATE_MODAL)(with_deps(duplicate_submitted, deps))
