"""Public replies from the card: permission, modal, collision marker, sending, approval, fallbacks."""

from __future__ import annotations

import functools
import logging
import time
from datetime import datetime
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import ActionsBlock, ButtonElement, MarkdownTextObject, SectionBlock

from socialdesk.domain import EventKind, Post
from socialdesk.listeners import answers
from socialdesk.listeners.binding import ack_only, after_ack, with_deps
from socialdesk.listeners.common import (action_value, channel_of, clicked_case, id_from, load_view, meta_id, missing,
                                         open_view, refresh, tell, view_metadata)
from socialdesk.listeners.deps import Deps
from socialdesk.listeners.redraws import Redraws
from socialdesk.listeners.reply_refusals import closed_meanwhile, permissions_of, refused_after_ack
from socialdesk.listeners.reply_modal import action_ts, input_text, opened_when, revision_of
from socialdesk.listeners.reply_rules import modal_network, modal_rules, reply_rules
from socialdesk.listeners.views import state_value
from socialdesk.replying import Outcome, ReplyDesk
from socialdesk.slack import ids, messages
from socialdesk.slack.blocks import modals
from socialdesk.slack.text import escape
from socialdesk.networks import registry
from socialdesk.networks.base import NetworkInfo
from socialdesk.store import lifecycle
from socialdesk.store import replies as reply_store
from socialdesk.store.db import read_scope, session_scope
from socialdesk.store.events import record_event

log = logging.getLogger(__name__)
NO_REPLY = "That reply is not in socialdesk's database, so nothing was done. Look for it in the card's thread."
VIAS = ("manual", "intent")  # how a reply marked as replied went out (the button's value says)
# views.update errors a count redraw expects: a newer redraw (or a saved reply) won, or the modal was closed.
STALE_VIEW = ("hash_conflict", "not_found")
NOT_APPROVER = "Only the approvers an admin named can approve or reject replies."

def length_error(text: str, network: NetworkInfo) -> str | None:
    if len(text) > modals.REPLY_MAX_INPUT:  # bounded before the network counts it (a forged 200,000 characters)
        return (f"That is {len(text):,} characters, more than a reply box holds ({modals.REPLY_MAX_INPUT:,}); "
                f"{network.label} takes far fewer. Shorten it.")
    if not text.strip():
        return "Write the reply, or press Cancel."
    length = network.text_length(text)
    if length > network.text_limit:
        return (f"That is {length:,} characters as {network.label} counts them ({network.text_hint.rstrip('.')}): "
                f"{length - network.text_limit:,} too many ({length:,}/{network.text_limit:,}). Shorten it, then send.")
    return None


def agent_name(client: WebClient, user: str) -> str:
    try:
        profile = client.users_info(user=user)["user"]
        return profile.get("profile", {}).get("display_name") or profile.get("real_name") or profile["name"]
    except Exception:  # noqa: BLE001 - a name is a nicety; the template still works without it
        return "the team"


def announce(client: WebClient, deps: Deps, outcome: Outcome, *, agent: str, approver: str | None = None) -> None:
    """Tell the case (thread + card) and the agent how a send went."""
    case_id = outcome.case_id
    view = load_view(deps, case_id) if case_id else None
    if view is None:
        return
    if outcome.status == "sent":
        refresh(client, deps, case_id, messages.reply_sent(agent, outcome.text or "", outcome.url or "", approver,
                                                           network=registry.label(view.post.network)))
    elif outcome.status in ("failed", "busy"):
        refresh(client, deps, case_id)
        blocks = [SectionBlock(text=MarkdownTextObject(text=escape(messages.reply_failed(outcome.error or ""))))]
        network = registry.info(view.post.network)
        compose = network.compose_url(outcome.text or "", outcome.in_reply_to or "") if outcome.in_reply_to else None
        if outcome.kind == "not_allowed" and compose:
            blocks.append(ActionsBlock(elements=[
                ButtonElement(text=f"Open in {network.label}", action_id=ids.OPEN_IN_NETWORK, value=str(case_id),
                              url=compose, style="primary"),
                ButtonElement(text="Mark as replied", action_id=ids.MARK_REPLIED, value=f"intent:{case_id}"),
            ]))
        tell(client, channel=view.channel_id, user=agent, text=messages.reply_failed(outcome.error or ""),
             blocks=[b.to_dict() for b in blocks])


def reply_clicked(body: dict[str, Any], client: WebClient, *, deps: Deps) -> None:
    user = body["user"]["id"]
    view = clicked_case(deps, client, body)
    if view is None:
        return
    case_id = view.case_id
    if not permissions_of(deps).allowed(user, view.channel_id):
        with session_scope(deps.engine) as session:
            record_event(session, case_id, EventKind.REPLY_REFUSED, user, deps.clock(), reason="not allowed")
        tell(client, channel=channel_of(body), user=user, text=messages.not_allowed_to_reply(case_id))
        return
    rules = reply_rules(deps, view.post.network)
    opened = open_view(client, body, modals.reply_modal(
        view, brand=deps.brand(view.post.network), saved=deps.saved_replies, rules=rules,
        text=rules.reply_opening(view.post.author.handle), opened_at=time.time(),
        draft=answers.draft_line(deps, case_id), answering=answered_post(deps, case_id), viewer=user))
    if not opened:
        return
    deps.later(answers.offer, client, deps, opened=opened, view=view, rules=rules)  # open first, suggest after
    with session_scope(deps.engine) as session:
        lifecycle.set_replying(session=session, case_id=case_id, user_id=user, now=deps.clock())
    refresh(client, deps, case_id)


def saved_reply_chosen(body: dict[str, Any], client: WebClient, *, deps: Deps) -> None:
    modal, meta = body["view"], view_metadata(body["view"])
    chosen, case_id = action_value(body), meta_id(meta)  # options are "0", "1", … (at most 100)
    index = int(chosen) if chosen.isascii() and chosen.isdigit() and len(chosen) < 4 else -1
    view = load_view(deps, case_id) if case_id is not None else None
    if view is None or not 0 <= index < len(deps.saved_replies):
        return
    author = f"@{view.post.author.handle}" if view.post.author.handle else "there"
    saved = deps.saved_replies[index].text.replace("{author}", author).replace("{agent}", agent_name(client, body["user"]["id"]))
    rules = reply_rules(deps, view.post.network)
    typed = state_value(modal, ids.REPLY_INPUT, ids.REPLY_INPUT).get("value")  # the box as it is now: kept
    text = modals.with_saved(typed if isinstance(typed, str) else "", saved, rules.reply_opening(view.post.author.handle))
    # The modal as Slack holds it with the text in a new box: its suggestions and draft line stay.
    updated = modals.redrawn(modal, rules, text=text)
    if updated is None:
        return
    try:
        client.views_update(view_id=modal["id"], hash=modal.get("hash"), view=updated)
    except SlackApiError as exc:
        if exc.response.get("error") == "not_found":  # closed meanwhile: nothing to put it in
            return
        if exc.response.get("error") != "hash_conflict":
            raise
        # A count redraw landed since the click: it changes the count, never the text, so the choice goes in.
        client.views_update(view_id=modal["id"], view=updated)


def reply_typed(body: dict[str, Any], client: WebClient, *, deps: Deps, redraws: Redraws | None = None) -> None:
    """The agent typed in the reply box (after the ack): redraw the count under it, as the network counts.

    Only the count block changes, so Slack keeps the typed text. The view's hash makes a redraw
    that lost the race (to a saved reply, or a newer keystroke) fail cleanly; it is dropped
    quietly. `redraws` (one per app) sends a modal's redraws one at a time, the newest last.
    """
    modal = body.get("view")
    view_id = modal.get("id") if isinstance(modal, dict) else None
    if not isinstance(view_id, str) or len(view_id) > 40:
        return
    rules = modal_rules(deps, view_metadata(modal))
    text = input_text(modal)
    if rules is None or len(text) > modals.REPLY_MAX_INPUT:  # forged: the box holds no more, nothing to count
        return
    updated = modals.with_count(modal, text, rules)
    if updated is None:
        return

    def send(hash_: str | None) -> str | None:
        try:
            answer = client.views_update(view_id=view_id, hash=hash_, view=updated)
        except SlackApiError as exc:
            if exc.response.get("error") not in STALE_VIEW:
                raise
            log.debug("a stale count redraw for view %s was dropped (%s)", view_id, exc.response.get("error"))
            return None
        made = (answer.get("view") or {}).get("hash")
        return made if isinstance(made, str) else None

    hash_ = modal.get("hash")
    (redraws or Redraws()).draw(view_id, action_ts(body), hash_ if isinstance(hash_, str) else None, send)


def reply_submitted(ack: Ack, body: dict[str, Any], client: WebClient, *, deps: Deps) -> None:
    modal, user = body["view"], body["user"]["id"]
    meta = view_metadata(modal)
    case_id = meta_id(meta)
    revision = revision_of(meta)
    block = f"{ids.REPLY_INPUT}-{revision}"
    text = input_text(modal)
    view = load_view(deps, case_id) if case_id is not None else None
    rules = reply_rules(deps, view.post.network) if view is not None else None
    error = "This case no longer exists." if view is None or rules is None else length_error(text, rules)
    # From the cache only (opening the modal filled it): the ack never waits on Slack; send_reply asks it.
    if error is None and permissions_of(deps).known(user, view.channel_id) is False:  # type: ignore[union-attr]
        error = "You are not allowed to send public replies for this case."
    if error is None:
        error = closed_meanwhile(view, opened_when(meta))
    if error is None:
        others = [r for r in desk_of(deps).replies_since(case_id=case_id, since=opened_when(meta)) if r.agent != user]
        if others:
            error = ("A teammate replied to this customer while you were writing. Read the card's thread "
                     "first; close this and reply again if you still need to.")
    if error:
        ack(response_action="errors", errors={block: error})
        return
    pinned = meta.get("answering")
    latest = answered_post(deps, case_id) if isinstance(pinned, str) else None  # type: ignore[arg-type]
    if latest is not None and latest.external_id != pinned:
        # The customer wrote again since the modal quoted their post: the reply would go to the new one unseen.
        updated = modals.reanswered(modal, view, latest, rules, text)  # type: ignore[arg-type]
        if updated is not None:
            ack(response_action="update", view=updated)
            return
    ack()
    deps.later(send_reply, client, deps, case_id=case_id, user=user, text=text, key=f"view:{modal['id']}",
               since=opened_when(meta))


def send_reply(client: WebClient, deps: Deps, *, case_id: int, user: str, text: str, key: str,
               since: datetime) -> None:
    with session_scope(deps.engine) as session:
        lifecycle.set_replying(session=session, case_id=case_id, user_id=None, now=deps.clock(), only_if=user)
    view = load_view(deps, case_id)
    if view is not None and refused_after_ack(client, deps, view, user=user, text=text):
        refresh(client, deps, case_id)  # no longer "replying"
        return
    outcome = desk_of(deps).request(case_id=case_id, agent=user, text=text, key=key, since=since)
    if outcome.status == "awaiting_approval":
        ask_approval(client, deps, outcome, agent=user)
    elif outcome.status != "duplicate":
        announce(client, deps, outcome, agent=user)


def reply_closed(body: dict[str, Any], client: WebClient, *, deps: Deps) -> None:
    case_id = meta_id(view_metadata(body.get("view")))
    if case_id is not None:
        with session_scope(deps.engine) as session:
            lifecycle.set_replying(session=session, case_id=case_id, user_id=None, now=deps.clock(),
                                   only_if=body["user"]["id"])
        refresh(client, deps, case_id)


def ask_approval(client: WebClient, deps: Deps, outcome: Outcome, *, agent: str) -> None:
    view = load_view(deps, outcome.case_id)  # type: ignore[arg-type]
    if view is None or not view.message_ts:
        return
    value = str(outcome.reply_id)
    approvers = sorted(desk_of(deps).approvers)
    text = messages.awaiting_approval(agent, approvers, outcome.text or "")
    client.chat_postMessage(channel=view.channel_id, thread_ts=view.thread_ts, text=text, blocks=[
        SectionBlock(text=MarkdownTextObject(text=text)).to_dict(),
        ActionsBlock(elements=[
            ButtonElement(text="Approve and send", action_id=ids.APPROVE_REPLY, value=value, style="primary"),
            ButtonElement(text="Edit…", action_id=ids.EDIT_REPLY, value=value),
            ButtonElement(text="Reject", action_id=ids.REJECT_REPLY, value=value, style="danger"),
        ]).to_dict(),
    ])
    refresh(client, deps, view.case_id)
    tell(client, channel=view.channel_id, user=agent,
         text="Your reply waits for approval; it goes out when an approver accepts it. It is in the card's thread.")


def decide(body: dict[str, Any], client: WebClient, deps: Deps, verb: str, text: str | None = None) -> None:
    user = body["user"]["id"]
    reply_id = id_from(action_value(body)) if body.get("actions") else meta_id(view_metadata(body.get("view")), "reply_id")
    reply = desk_of(deps).reply(reply_id) if reply_id is not None else None
    if reply is None:
        tell(client, channel=channel_of(body), user=user, text=NO_REPLY)
        return
    if not desk_of(deps).is_approver(user):
        view = load_view(deps, reply.case_id)
        tell(client, channel=view.channel_id if view else None, user=user, text=NOT_APPROVER)
        return
    outcome = desk_of(deps).reject(reply_id=reply_id, approver=user) if verb == "rejected" else \
        desk_of(deps).approve(reply_id=reply_id, approver=user, text=text)
    view = load_view(deps, reply.case_id)
    if outcome.status == "stale":
        tell(client, channel=view.channel_id if view else None, user=user, text=f"Nothing done: {outcome.error}.")
        return
    message = body.get("message") or {}
    if message.get("ts") and view:
        done = messages.approval_decided(verb, user, reply.agent, text or reply.text)
        client.chat_update(channel=view.channel_id, ts=message["ts"], text=done, blocks=[])
    if verb == "rejected":
        tell(client, channel=view.channel_id if view else None, user=reply.agent,
             text=f"<@{user}> rejected your reply to case #{reply.case_id}; it was not sent.")
    else:
        announce(client, deps, outcome, agent=reply.agent, approver=user)


def approve_clicked(body: dict[str, Any], client: WebClient, *, deps: Deps) -> None:
    decide(body, client, deps, "approved")


def reject_clicked(body: dict[str, Any], client: WebClient, *, deps: Deps) -> None:
    decide(body, client, deps, "rejected")


def edit_clicked(body: dict[str, Any], client: WebClient, *, deps: Deps) -> None:
    reply_id = id_from(action_value(body))
    reply = desk_of(deps).reply(reply_id) if reply_id is not None else None
    view = load_view(deps, reply.case_id) if reply else None
    if reply is None or view is None:
        tell(client, channel=channel_of(body), user=body["user"]["id"], text=NO_REPLY)
        return
    if not desk_of(deps).is_approver(body["user"]["id"]):  # before the modal: an edit they cannot send is lost work
        tell(client, channel=view.channel_id, user=body["user"]["id"], text=NOT_APPROVER)
        return
    open_view(client, body, modals.reply_modal(
        view, brand=deps.brand(view.post.network), saved=(), text=reply.text, opened_at=time.time(),
        rules=reply_rules(deps, view.post.network), answering=answered_post(deps, view.case_id),
        callback_id=ids.APPROVE_EDIT_MODAL, submit="Approve and send", notify_on_close=False,
        reply_id=reply.id, message_ts=body["message"]["ts"]))


def edited_approval(ack: Ack, body: dict[str, Any], client: WebClient, *, deps: Deps) -> None:
    text = input_text(body["view"])
    meta = view_metadata(body["view"])
    rules = modal_rules(deps, meta)
    error = "This case's network is not known here." if rules is None else length_error(text, rules)
    if error is None and meta_id(meta, "reply_id") is None:
        error = NO_REPLY
    if error is None and not desk_of(deps).is_approver(body["user"]["id"]):
        error = NOT_APPROVER  # in the modal, with the text still there (an approver can be named meanwhile)
    if error:
        ack(response_action="errors", errors={f"{ids.REPLY_INPUT}-0": error})
        return
    ack()
    ts = meta.get("message_ts")
    body = dict(body, message={"ts": ts if isinstance(ts, str) and len(ts) < 40 else None})
    deps.later(decide, body, client, deps, "approved", text=text)


def mark_clicked(body: dict[str, Any], client: WebClient, *, deps: Deps) -> None:
    via, _, case = action_value(body).rpartition(":")
    case_id = id_from(case)
    view = load_view(deps, case_id) if case_id is not None else None
    if view is None:
        missing(client, body, case)
        return
    open_view(client, body, modals.mark_replied_modal(view, via=via if via in VIAS else "manual"))


def marked(ack: Ack, body: dict[str, Any], client: WebClient, *, deps: Deps) -> None:
    meta, user = view_metadata(body["view"]), body["user"]["id"]
    url = state_value(body["view"], ids.REPLY_URL_INPUT, ids.REPLY_URL_INPUT).get("value")
    url = url.strip() if isinstance(url, str) and len(url) <= 3000 else ""
    network = modal_network(meta)
    if meta.get("via") not in VIAS:
        meta["via"] = "manual"
    if network is None or meta_id(meta) is None:
        ack(response_action="errors", errors={ids.REPLY_URL_INPUT: "This case's network is not known here."})
        return
    if network.reply_link_id(url) is None:
        ack(response_action="errors", errors={
            ids.REPLY_URL_INPUT: f"Paste the link of a post on {network.label}, like {network.post_url_example}"})
        return
    ack()
    deps.later(mark_replied, client, deps, case_id=meta["case_id"], user=user, url=url,
               via=meta.get("via", "manual"), network=network)


def mark_replied(client: WebClient, deps: Deps, *, case_id: int, user: str, url: str, via: str,
                 network: NetworkInfo) -> None:
    outcome = desk_of(deps).mark_replied(case_id=case_id, agent=user, url=url, via=via)
    if outcome.status == "marked":
        refresh(client, deps, case_id, messages.reply_marked(user, url, via, network=network.label))


def answered_post(deps: Deps, case_id: int) -> Post | None:
    """The post a reply sent now goes to (the customer's latest in the case), for the modal to quote."""
    with read_scope(deps.engine) as session:
        return reply_store.answered_post(session=session, case_id=case_id)


def desk_of(deps: Deps) -> ReplyDesk:
    assert deps.desk is not None, "replies need the reply desk (app.build sets it)"
    return deps.desk


def register(app: App, deps: Deps) -> None:
    for action_id, work in ((ids.REPLY, reply_clicked), (ids.SAVED_REPLY, saved_reply_chosen),
                            (ids.APPROVE_REPLY, approve_clicked), (ids.REJECT_REPLY, reject_clicked),
                            (ids.EDIT_REPLY, edit_clicked), (ids.MARK_REPLIED, mark_clicked)):
        app.action(action_id)(after_ack(work, deps))
    typed = functools.update_wrapper(functools.partial(reply_typed, redraws=Redraws()), reply_typed)
    app.action(ids.REPLY_INPUT)(after_ack(typed, deps))  # every keystroke: ack, then redraw the count
    app.action(ids.OPEN_IN_NETWORK)(ack_only)  # a link button; "Mark as replied" records the way it went out
    app.view_closed(ids.REPLY_MODAL)(after_ack(reply_closed, deps))
    for callback_id, handler in ((ids.REPLY_MODAL, reply_submitted), (ids.APPROVE_EDIT_MODAL, edited_approval),
                                 (ids.MARK_REPLIED_MODAL, marked)):
        app.view(callback_id)(with_deps(handler, deps))
