"""The incident card's buttons (Reply to all, Resolve all, Ignore all) and "Split out" on a member's message.

Acked at once, the work done after the ack (listeners.binding). A reply to all is one
reply per case through the reply desk (replying.ReplyDesk), one after the other: each is
audited on its case, goes out once (its key is the modal's view id and the case: a
second submission finds every reply already there), and a network that says "enough
for now" stops the rest, which are reported, never sent behind the agent's back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from socialdesk.domain import DUPLICATE, OUTCOMES, CaseView, EventKind
from socialdesk.listeners.binding import after_ack, with_deps
from socialdesk.listeners.common import (channel_of, clicked_case, id_from, load_view, meta_id, metadata_of, open_view,
                                         refresh, tell, user_of)
from socialdesk.listeners.deps import Deps
from socialdesk.listeners.replies import ask_approval, desk_of, length_error, modal_rules, reply_rules
from socialdesk.listeners.reply_refusals import permissions_of, refused_after_ack
from socialdesk.listeners.resolutions import tell_owner
from socialdesk.listeners.views import selected_value, text_input
from socialdesk.replying import Outcome
from socialdesk.slack import cards, ids, messages
from socialdesk.slack.blocks import incident as incident_blocks
from socialdesk.slack.text import escape
from socialdesk.store import incidents, lifecycle
from socialdesk.store.db import read_scope, session_scope
from socialdesk.store.events import record_event
from socialdesk.logs import about

log = logging.getLogger(__name__)
NOT_AN_INCIDENT = ("This card is no incident any more (its other posts were split out), so nothing was done. "
                   "Use the card's own buttons.")
AUTHOR = incident_blocks.AUTHOR

_LONGEST_HANDLE = "m" * 30  # what {author} is measured as (handles run to about 30 characters)


def incident_card(deps: Deps, client: WebClient, body: dict[str, Any]) -> CaseView | None:
    """The incident card clicked (its anchor's view), or None when the clicker was told why not."""
    view = clicked_case(deps, client, body)
    if view is None:
        return None
    if view.incident is None or view.in_incident_thread:
        tell(client, channel=channel_of(body), user=user_of(body), text=NOT_AN_INCIDENT)
        return None
    return view


# --- reply to all ---


def reply_all_clicked(body: dict[str, Any], client: WebClient, *, deps: Deps) -> None:
    user, view = user_of(body), incident_card(deps, client, body)
    if view is None:
        return
    if not permissions_of(deps).allowed(user, view.channel_id):
        with session_scope(deps.engine) as session:
            record_event(session, view.case_id, EventKind.REPLY_REFUSED, user, deps.clock(), reason="not allowed",
                         incident_id=view.incident.incident_id)  # type: ignore[union-attr]
        tell(client, channel=channel_of(body), user=user, text=messages.not_allowed_to_reply(view.case_id))
        return
    with read_scope(deps.engine) as session:
        recipients = incidents.awaiting_reply(session=session, incident_id=view.incident.incident_id)  # type: ignore[union-attr]
    if not recipients:
        tell(client, channel=channel_of(body), user=user,
             text="Every customer in this incident has been answered, or their case is closed: nothing to send.")
        return
    open_view(client, body, incident_blocks.reply_all_modal(
        view, brand=deps.brand(view.post.network), recipients=recipients, rules=reply_rules(deps, view.post.network),
        opened_at=time.time()))


def personal(text: str, handle: str) -> str:
    return text.replace(AUTHOR, f"@{handle}" if handle else "there")


def reply_all_submitted(ack: Ack, body: dict[str, Any], client: WebClient, *, deps: Deps) -> None:
    modal, user = body.get("view") or {}, user_of(body)
    meta = metadata_of(modal)
    text = text_input(modal, ids.INCIDENT_REPLY_INPUT, ids.INCIDENT_REPLY_INPUT).strip()
    rules = modal_rules(deps, meta)
    incident_id, anchor = meta_id(meta, "incident_id"), meta_id(meta)
    case_ids = meta.get("cases")
    valid_cases = isinstance(case_ids, list) and 0 < len(case_ids) <= incident_blocks.MAX_RECIPIENTS and all(
        id_from(c) is not None for c in case_ids)
    view_id = modal.get("id")  # each reply's key: a second submission of this window sends nothing
    if rules is None or incident_id is None or anchor is None or not valid_cases or not (
            isinstance(view_id, str) and 0 < len(view_id) <= 40):
        error: str | None = "This window does not name an incident socialdesk knows. Close it and press Reply to all again."
    else:
        # The longest handle a placeholder can become is checked; the reply desk checks nothing more.
        error = length_error(personal(text, _LONGEST_HANDLE) if AUTHOR in text else text, rules)
    # From the cache only (opening the modal filled it): the ack never waits on Slack; send_to_all asks it.
    if error is None and permissions_of(deps).known(user, str(meta.get("channel") or "")) is False:
        error = "You are not allowed to send public replies for these cases."
    if error:
        ack(response_action="errors", errors={ids.INCIDENT_REPLY_INPUT: error})
        return
    ack()
    deps.later(send_to_all, client, deps, incident_id=incident_id, anchor_case_id=anchor,
               case_ids=[id_from(c) for c in case_ids],  # "12" and 12 alike: the store answers with ints
               user=user, text=text, key=f"incident:{view_id}", since=opened(meta))


def opened(meta: dict[str, Any]) -> datetime:
    """When the agent opened the modal (its metadata): a teammate's reply after that is not overtaken."""
    value, now = meta.get("opened_at"), time.time()
    plausible = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value <= now + 60
    return datetime.fromtimestamp(value if plausible else now, UTC)  # type: ignore[arg-type]


@dataclass
class Sent:
    """How a reply to all went, case by case."""

    sent: list[int] = field(default_factory=list)
    waiting: list[int] = field(default_factory=list)  # for an approver
    failed: list[tuple[int, str, str]] = field(default_factory=list)  # case, handle, why
    not_tried: list[tuple[int, str]] = field(default_factory=list)  # after the network said stop
    skipped: list[int] = field(default_factory=list)  # answered, closed or split out meanwhile
    duplicates: int = 0  # a second submission of the same modal


def send_to_all(client: WebClient, deps: Deps, *, incident_id: int, anchor_case_id: int, case_ids: Sequence[int],
                user: str, text: str, key: str, since: datetime) -> Sent:
    """One reply per case, one after the other (see the module's docstring); then the thread and the agent are told."""
    anchor = load_view(deps, anchor_case_id)
    if anchor is not None and refused_after_ack(client, deps, anchor, user=user, text=text, incident_id=incident_id):
        return Sent(not_tried=[(case_id, "") for case_id in case_ids])
    with read_scope(deps.engine) as session:
        recipients = incidents.awaiting_reply(session=session, incident_id=incident_id, case_ids=case_ids)
    result = Sent(skipped=[c for c in case_ids if c not in {r for r, _ in recipients}])
    stopped: str | None = None
    for case_id, handle in recipients:
        if stopped is not None:
            result.not_tried.append((case_id, handle))
            continue
        outcome = desk_of(deps).request(case_id=case_id, agent=user, text=personal(text, handle),
                                        key=f"{key}:{case_id}", since=since)
        _count(result, outcome, handle)
        if outcome.status == "awaiting_approval":
            ask_approval(client, deps, outcome, agent=user)
        elif outcome.status != "duplicate":
            _redraw(client, deps, case_id)
        if outcome.kind == "rate_limited":
            stopped = outcome.error or "the network's posting limit is spent for now"
    _report(client, deps, result, anchor_case_id=anchor_case_id, user=user, text=text, stopped=stopped)
    return result


def _count(result: Sent, outcome: Outcome, handle: str) -> None:
    case_id = outcome.case_id or 0
    if outcome.status == "sent":
        result.sent.append(case_id)
    elif outcome.status == "awaiting_approval":
        result.waiting.append(case_id)
    elif outcome.status == "duplicate":
        result.duplicates += 1
    else:
        result.failed.append((case_id, handle, outcome.error or outcome.status))


def _redraw(client: WebClient, deps: Deps, case_id: int) -> None:
    try:
        cards.redraw(client, lambda: load_view(deps, case_id))
    except SlackApiError as exc:  # the reply is out and audited; the message catches up on its next redraw
        log.warning("case %s: not redrawn after a reply to all (%s)", case_id, exc.response.get("error"),
                    extra=about(case_id=case_id))


def _report(client: WebClient, deps: Deps, result: Sent, *, anchor_case_id: int, user: str, text: str,
            stopped: str | None) -> None:
    if not (result.sent or result.waiting or result.failed or result.not_tried):
        return  # a second submission: everything was done by the first
    parts = [f"{len(result.sent)} sent"]
    if result.waiting:
        parts.append(f"{len(result.waiting)} waiting for approval")
    if result.failed:
        parts.append(f"{len(result.failed)} failed")
    if result.not_tried:
        parts.append(f"{len(result.not_tried)} not sent yet")
    note = f"💬 <@{user}> replied to all ({', '.join(parts)}):\n{messages.quote(text)}"
    view = refresh(client, deps, anchor_case_id, note)
    if not (result.failed or result.not_tried):
        return
    lines = [f"Reply to all: {', '.join(parts)}. The replies that went out are not sent again."]
    lines += [f"• Case #{c} (@{escape(h)}): {escape(why)}" for c, h, why in result.failed]
    if result.not_tried:
        who = ", ".join(f"#{c} (@{escape(h)})" for c, h in result.not_tried[:20])
        lines.append(f"• Not sent, because {escape(stopped or 'the network refused')}: {who}. "
                     "Press Reply to all again later: it goes only to those still waiting.")
    if result.failed:
        lines.append("Reply to a failed one from its message in the incident card's thread, or press Reply to all "
                     "again: it goes only to the customers still waiting for an answer.")
    tell(client, channel=view.channel_id if view else None, user=user, text="\n".join(lines)[:3000])


# --- resolve all, ignore all ---


def resolve_all_clicked(body: dict[str, Any], client: WebClient, *, deps: Deps) -> None:
    view = incident_card(deps, client, body)
    if view is not None:
        open_view(client, body, incident_blocks.resolve_all_modal(view))


def chosen_for_incident(ack: Ack, body: dict[str, Any], input_id: str, allowed: Collection[str],
                        missing: str) -> tuple[int, str] | None:
    """A bulk modal's submission: (the anchor case id, the choice in `input_id`), acked; or None,
    with the problem shown under the choice."""
    modal = body.get("view") or {}
    choice = selected_value(modal, input_id, input_id)
    meta = metadata_of(modal)
    anchor = meta_id(meta)
    if anchor is None or meta_id(meta, "incident_id") is None:
        problem: str | None = "This window does not name an incident socialdesk knows. Close it and try again."
    else:
        problem = None if choice in allowed else missing
    if problem or anchor is None or choice is None:
        ack(response_action="errors", errors={input_id: problem})
        return None
    ack()
    return anchor, choice


def resolve_all_submitted(ack: Ack, body: dict[str, Any], client: WebClient, *, deps: Deps) -> None:
    chosen = chosen_for_incident(ack, body, ids.OUTCOME_INPUT, [o for o in OUTCOMES if o != DUPLICATE],
                                 "Choose how they were resolved.")
    if chosen is not None:
        deps.later(resolve_all, client, deps, anchor_case_id=chosen[0], user=user_of(body), outcome=chosen[1])


def _incident_or_tell(client: WebClient, deps: Deps, anchor_case_id: int, user: str) -> CaseView | None:
    """The incident card's view, or None after telling the user the case no longer anchors an incident."""
    view = load_view(deps, anchor_case_id)
    if view is None or view.incident is None or view.in_incident_thread:
        tell(client, channel=None, user=user, text=NOT_AN_INCIDENT)
        return None
    return view


def resolve_all(client: WebClient, deps: Deps, *, anchor_case_id: int, user: str, outcome: str) -> None:
    view = _incident_or_tell(client, deps, anchor_case_id, user)
    if view is None:
        return
    with session_scope(deps.engine) as session:
        done = incidents.resolve_all(session=session, incident_id=view.incident.incident_id, user_id=user,
                                     now=deps.clock(), outcome=outcome)
    label = OUTCOMES[outcome]
    _after_bulk(client, deps, view, done, user=user, channel=view.channel_id, verb="resolved",
                note=f"✅ <@{user}> resolved all {len(done.changed)} open cases of this incident ({label}).")
    theirs: dict[str, list[int]] = {}
    for case_id, owner in done.owners.items():
        if owner != user:
            theirs.setdefault(owner, []).append(case_id)
    for owner, case_ids in theirs.items():  # one DM each, whatever the number of their cases
        tell_owner(client, owner, messages.resolved_yours_in_incident(user, case_ids, label), case_ids[0])


def ignore_all_clicked(body: dict[str, Any], client: WebClient, *, deps: Deps) -> None:
    view = incident_card(deps, client, body)
    if view is not None:
        open_view(client, body, incident_blocks.ignore_all_modal(view))


def ignore_all_submitted(ack: Ack, body: dict[str, Any], client: WebClient, *, deps: Deps) -> None:
    chosen = chosen_for_incident(ack, body, ids.IGNORE_REASON_INPUT, lifecycle.IGNORE_REASONS, "Choose a reason.")
    if chosen is not None:
        deps.later(ignore_all, client, deps, anchor_case_id=chosen[0], user=user_of(body), reason=chosen[1])


def ignore_all(client: WebClient, deps: Deps, *, anchor_case_id: int, user: str, reason: str) -> None:
    view = _incident_or_tell(client, deps, anchor_case_id, user)
    if view is None:
        return
    with session_scope(deps.engine) as session:
        done = incidents.ignore_all(session=session, incident_id=view.incident.incident_id, user_id=user,
                                    reason=reason, now=deps.clock())
    label = lifecycle.IGNORE_REASONS[reason]
    _after_bulk(client, deps, view, done, user=user, channel=view.channel_id, verb="ignored",
                note=f"🚫 <@{user}> ignored all {len(done.changed)} open cases of this incident as {label}.")


def _after_bulk(client: WebClient, deps: Deps, view: CaseView, done: incidents.BulkResult, *, user: str,
                channel: str | None, note: str, verb: str) -> None:
    for case_id in done.changed:
        if case_id != view.case_id:
            _redraw(client, deps, case_id)
    if done.changed:
        refresh(client, deps, view.case_id, note)
    else:
        tell(client, channel=channel, user=user, text=f"Nothing was {verb}: every case of this incident is closed already.")


# --- split out ---


def split_clicked(body: dict[str, Any], client: WebClient, *, deps: Deps) -> None:
    user, view = user_of(body), clicked_case(deps, client, body)
    if view is None:
        return
    with session_scope(deps.engine) as session:
        result = incidents.split(session=session, case_id=view.case_id, user_id=user, now=deps.clock())
    if not result.ok:
        tell(client, channel=channel_of(body), user=user,
             text=f"Case #{view.case_id} is not in an incident any more (split out already?), so nothing was done.")
        return
    if result.message_ts:
        cards.mark_split(client, channel_id=view.channel_id, ts=result.message_ts, user=user, case_id=view.case_id)
    if result.anchor_case_id is not None:
        refresh(client, deps, result.anchor_case_id,
                f"↗️ <@{user}> split case #{view.case_id} out of this incident: it gets a card of its own.")


def register(app: App, deps: Deps) -> None:
    for action_id, work in ((ids.INCIDENT_REPLY_ALL, reply_all_clicked), (ids.INCIDENT_RESOLVE_ALL, resolve_all_clicked),
                            (ids.INCIDENT_IGNORE_ALL, ignore_all_clicked), (ids.INCIDENT_SPLIT, split_clicked)):
        app.action(action_id)(after_ack(work, deps))
    for callback_id, handler in ((ids.INCIDENT_REPLY_MODAL, reply_all_submitted),
                                 (ids.INCIDENT_RESOLVE_MODAL, resolve_all_submitted),
                                 (ids.INCIDENT_IGNORE_MODAL, ignore_all_submitted)):
        app.view(callback_id)(with_deps(handler, deps))
