"""Small pieces every listener uses: which case, telling the clicker, refreshing the card."""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from socialdesk.domain import CaseView
from socialdesk.listeners.deps import Deps
from socialdesk.slack import cards, messages
from socialdesk.store import cases as case_store
from socialdesk.store.db import read_scope
from socialdesk.logs import about

log = logging.getLogger(__name__)


MAX_ID = 2**31 - 1  # ids are INTEGER columns: a bigger number names nothing (and must not reach the database)
MAX_VALUE = 2000  # Slack's most for a button's value; anything longer was not made by us


def id_from(value: object) -> int | None:
    """A database id (case, reply, entry…) from client-supplied data, or None.

    Accepts an int or a string of ASCII digits within 1..2**31-1; anything else
    ("abc", "99999999999999999999", a list, True, "٣") is no id.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        if not (0 < len(value) <= 10 and value.isascii() and value.isdigit()):
            return None
        value = int(value)
    if not isinstance(value, int):
        return None
    return value if 1 <= value <= MAX_ID else None


case_id_from = id_from


def action_value(body: dict[str, Any]) -> str:
    """The first action's value (a button's, or a select's chosen option's); "" when it has none."""
    actions = body.get("actions")
    action = actions[0] if isinstance(actions, list) and actions else None
    if not isinstance(action, dict):
        return ""
    value = action.get("value")
    if value is None:
        option = action.get("selected_option")
        value = option.get("value") if isinstance(option, dict) else None
    return value if isinstance(value, str) and len(value) <= MAX_VALUE else ""


def action_case_id(body: dict[str, Any]) -> int | None:
    """The case id in a button's value, or in an overflow option's "<verb>:<id>"."""
    return id_from(action_value(body).rsplit(":", 1)[-1])


def metadata_of(view: object) -> dict[str, Any]:
    """A modal's private metadata as we wrote it: a JSON object, else {} (never raises)."""
    raw = view.get("private_metadata") if isinstance(view, dict) else None
    if not isinstance(raw, str) or not raw or len(raw) > 3000:  # Slack keeps at most 3,000 characters
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: deep nesting ('[' * 3000), which json does not catch
        return {}
    return data if isinstance(data, dict) else {}


view_metadata = metadata_of  # the older name, still imported by other modules


def meta_id(meta: dict[str, Any], key: str = "case_id") -> int | None:
    """An id kept in a modal's metadata, checked like any other client-supplied id."""
    return id_from(meta.get(key))


def user_of(body: dict[str, Any]) -> str:
    user = body.get("user")
    uid = user.get("id") if isinstance(user, dict) else None
    return uid if isinstance(uid, str) else ""


def message_ts_of(body: dict[str, Any]) -> str | None:
    return _one(((body.get("message") or {}), "ts"), ((body.get("container") or {}), "message_ts"))


def _one(*places: tuple[object, str]) -> str | None:
    """The value the places agree on; None when none has one, or two disagree (a forged body)."""
    values = [p.get(key) for p, key in places if isinstance(p, dict) and p.get(key) is not None]
    if not values or not all(isinstance(v, str) for v in values) or len(set(values)) != 1:
        return None
    return values[0]


def channel_of(body: dict[str, Any]) -> str | None:
    return _one(((body.get("channel") or {}), "id"), ((body.get("container") or {}), "channel_id"))


def tell(client: WebClient, *, channel: str | None, user: str, text: str, blocks: list | None = None) -> None:
    """An ephemeral answer; when the channel is unknown (a modal), a DM from the app."""
    if channel:
        try:
            client.chat_postEphemeral(channel=channel, user=user, text=text, blocks=blocks)
            return
        except SlackApiError as exc:  # a channel the clicker is not in (or a forged one): say it in a DM
            log.warning("no ephemeral in %s for %s (%s); sending a DM", channel[:32], user[:32],
                        exc.response.get("error"))
    client.chat_postMessage(channel=user, text=text, blocks=blocks)


TRIGGER_EXPIRED = ("Slack did not let socialdesk open the window in time (the click is good for 3 seconds, "
                   "and socialdesk was busy), so nothing opened. Click again.")


WINDOW_REFUSED = "Slack did not open the window ({error}), so nothing opened and nothing changed. Click again."


def open_view(client: WebClient, body: dict[str, Any], view: Any) -> dict[str, Any] | None:
    """Open a modal for a click: the view as Slack holds it (its id and hash), or None when it did not open.

    A window Slack would not open (a trigger that expired while socialdesk was busy, an outage) is told,
    not raised: the click would otherwise do nothing, silently.
    """
    trigger = body.get("trigger_id")
    if not isinstance(trigger, str):
        return None
    try:
        opened = client.views_open(trigger_id=trigger, view=view).get("view")
    except SlackApiError as exc:
        error = str(exc.response.get("error") or "")[:64] if exc.response is not None else ""
        if error == "expired_trigger_id":
            log.warning("a modal for %s opened too late: Slack's trigger had expired", user_of(body)[:32])
            tell(client, channel=channel_of(body), user=user_of(body), text=TRIGGER_EXPIRED)
        else:  # an outage, a trigger already used: the click did nothing, and they should know
            log.warning("a modal for %s did not open (Slack said %s)", user_of(body)[:32], error or exc)
            tell(client, channel=channel_of(body), user=user_of(body), text=WINDOW_REFUSED.format(error=error or "no reason"))
        return None
    return opened if isinstance(opened, dict) and opened else {"id": None}  # opened, though Slack did not say as what


def load_view(deps: Deps, case_id: int) -> CaseView | None:
    try:
        with read_scope(deps.engine) as session:
            return case_store.case_view(session=session, case_id=case_id, policy=deps.sla_policy)
    except case_store.CaseNotFound:
        return None


def refresh(client: WebClient, deps: Deps, case_id: int, thread_text: str | None = None) -> CaseView | None:
    """Show everyone the case as it is now; add a line to the card's thread.

    What Slack refuses here (an archived channel, a deleted card, an outage) is logged and skipped:
    the change is stored, and the caller still tells the person who made it what happened (a reply
    that failed, say), which it does after this."""
    try:
        view = cards.redraw(client, lambda: load_view(deps, case_id))
    except SlackApiError as exc:  # the thread line still goes: a card Slack won't edit can still be replied to
        _not_shown(case_id, "its card could not be redrawn", exc)
        view = load_view(deps, case_id)
    else:
        try:
            if view is not None and view.in_incident_thread:  # the incident card lists its members' states
                cards.redraw(client, lambda: load_view(deps, view.incident.anchor_case_id))  # type: ignore[union-attr]
        except SlackApiError as exc:
            _not_shown(case_id, "its incident card could not be redrawn", exc)
    if view is not None and thread_text:
        try:
            cards.thread_note(client, view, thread_text)
        except SlackApiError as exc:
            _not_shown(case_id, "its thread could not be written to", exc)
    return view


def _not_shown(case_id: int, what: str, exc: SlackApiError) -> None:
    error = exc.response.get("error") if exc.response is not None else None
    log.warning("case %s: %s (Slack said %s); the change is stored and shows at the card's next update",
                case_id, what, error or exc, extra=about(case_id=case_id))


NO_CASE = ("This button does not name a case socialdesk knows, so nothing was done. "
           "Use the buttons on the case's card, or `/social case <id>` to find it.")


def missing(client: WebClient, body: dict[str, Any], case_id: int | str | None) -> None:
    """Tell the clicker the case is gone; a value that is no case id is never echoed back."""
    known = id_from(case_id)
    text = messages.case_missing(str(known)) if known is not None else NO_CASE
    tell(client, channel=channel_of(body), user=user_of(body), text=text)


def on_its_card(view: CaseView, body: dict[str, Any]) -> bool:
    """Whether a click came from the case's own card (any click will do while the case has none)."""
    if not view.message_ts:
        return True
    return channel_of(body) == view.channel_id and message_ts_of(body) == view.message_ts


def other_card(case_id: int) -> str:
    return (f"This button belongs to another card: it names case #{case_id}, whose card is elsewhere, so nothing "
            f"was done. Use the buttons on case #{case_id}'s own card (`/social case {case_id}` links to it).")


def clicked_case(deps: Deps, client: WebClient, body: dict[str, Any]) -> CaseView | None:
    """The case a card button was clicked for, checked against the card it is on.

    None (and the clicker is told why) when the value names no case, the case is gone,
    or the click came from another card than the case's.
    """
    case_id = action_case_id(body)
    view = load_view(deps, case_id) if case_id is not None else None
    if view is None:
        missing(client, body, case_id)
        return None
    if not on_its_card(view, body):
        log.warning("click on case %s from message %s in %s, not its card", case_id,
                    str(message_ts_of(body))[:32], str(channel_of(body))[:32], extra=about(case_id=case_id))
        tell(client, channel=channel_of(body), user=user_of(body), text=other_card(view.case_id))
        return None
    return view
