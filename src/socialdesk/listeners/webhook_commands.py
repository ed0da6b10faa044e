"""`/social webhooks …`: admins see and manage the webhooks that send case events to a CRM."""

from __future__ import annotations

import logging
from dataclasses import replace

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from socialdesk.jobs.webhooks import send_test_ping
from socialdesk.listeners.deps import Deps
from socialdesk.slack.blocks.lookup import Reply, plain
from socialdesk.slack.blocks.webhooks import delivery_log_reply, webhook_list_reply
from socialdesk.slack.text import ECHO_CHARS, escape, plain_cut
from socialdesk.store import webhook_deliveries as outbox
from socialdesk.store import webhooks as store
from socialdesk.store.db import read_scope, session_scope
from socialdesk.store.views import delivery_view, webhook_summary_view

log = logging.getLogger(__name__)

HELP = (
    "• `/social webhooks` — the webhooks that send case events to a CRM, with their last delivery (admins)\n"
    "• `/social webhooks test <id>` — send a test ping now and hear how it went (admins)\n"
    "• `/social webhooks add <https url> [case.opened,case.resolved]` — add one; its signing secret "
    "is shown once (admins)\n"
    "• `/social webhooks log|retry|pause|resume|remove <id>` — recent deliveries; send the failed ones again; "
    "stop, restart or delete one (admins)\n"
)
USAGE = ("Usage: `/social webhooks [list]`, `/social webhooks test <id>`, `/social webhooks log <id>`, "
         "`/social webhooks retry <id>`, `/social webhooks add <https url> [events]`, "
         "`/social webhooks pause|resume|remove <id>`.")
NOT_ADMIN = ("Only socialdesk admins can manage webhooks: they send case data out of Slack. Ask a workspace admin, "
             "or someone listed in SOCIALDESK_ADMINS, to do it or to add you there.")
LOG_LIMIT = 10
ADD_RESOLVE_SECONDS = 1.0  # `add` answers in the ack: DNS slower than this is left to the send-time check
MAX_ID = 2**31 - 1
VERBS = ("list", "add", "test", "log", "retry", "pause", "resume", "remove")


def _id(args: list[str]) -> int | None:
    raw = args[0].lstrip("#") if len(args) == 1 else ""
    return int(raw) if raw.isascii() and raw.isdigit() and int(raw) <= MAX_ID else None


def run(deps: Deps, client: WebClient | None, *, user_id: str, args: list[str], text: str,
        channel_id: str = "") -> Reply:
    if not deps.is_admin(user_id):
        return plain(NOT_ADMIN)
    verb, rest = (args[0].lower(), args[1:]) if args else ("list", [])
    if verb not in VERBS:
        return plain(f"`{escape(plain_cut(args[0], ECHO_CHARS))}` is not a webhooks command.\n{USAGE}")
    if verb == "list":
        if rest:
            return plain(USAGE)
        with read_scope(deps.engine) as session:
            return webhook_list_reply([webhook_summary_view(s) for s in outbox.summaries(session=session)])
    if verb == "add" and rest:
        return add(deps, user_id=user_id, url=rest[0], events=",".join(rest[1:]))
    webhook_id = _id(rest)
    if webhook_id is None:
        problem = f"`{escape(plain_cut(rest[0], ECHO_CHARS))}` is not a webhook number.\n" if len(rest) == 1 else ""
        return plain(problem + USAGE)
    try:
        if verb == "test":
            return test(deps, client, user_id=user_id, channel_id=channel_id, webhook_id=webhook_id)
        if verb == "log":
            with read_scope(deps.engine) as session:
                rows = [delivery_view(d) for d in outbox.deliveries(session=session, webhook_id=webhook_id, limit=LOG_LIMIT)]
            return delivery_log_reply(webhook_id, rows)
        if verb == "retry":
            with session_scope(deps.engine) as session:
                count = outbox.retry_failed(session=session, webhook_id=webhook_id, now=deps.clock())
            if not count:
                return plain(f"Webhook {webhook_id} has no failed deliveries.")
            return plain(f"Webhook {webhook_id}: {count} failed deliver{'y' if count == 1 else 'ies'} queued again; "
                         f"`/social webhooks log {webhook_id}` shows how it goes.")
        if verb in ("pause", "resume"):
            with session_scope(deps.engine) as session:
                store.set_active(session=session, webhook_id=webhook_id, active=verb == "resume")
            return plain(f"Webhook {webhook_id} {'resumed: what happened while it was paused goes out first' if verb == 'resume' else 'paused: events wait until you resume it'}.")
        if verb == "remove":
            with session_scope(deps.engine) as session:
                store.remove_webhook(session=session, webhook_id=webhook_id)
            return plain(f"Webhook {webhook_id} removed, with its delivery log.")
    except store.WebhookNotFound:
        return plain(f"There is no webhook {webhook_id}. `/social webhooks` lists them.")
    return plain(USAGE)


def loopback_allowed(deps: Deps) -> bool:
    return deps.settings is not None and deps.settings.webhooks_allow_loopback


def add(deps: Deps, *, user_id: str, url: str, events: str) -> Reply:
    url = url.strip("<>").split("|", 1)[0]  # Slack turns a typed URL into <https://…> (or <https://…|label>)
    url = url.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")  # and escapes these three
    try:
        with session_scope(deps.engine) as session:
            hook = store.add_webhook(session=session, url=url, events=events or None, created_by=user_id,
                                     now=deps.clock(), allow_loopback=loopback_allowed(deps),
                                     resolve_timeout=ADD_RESOLVE_SECONDS)
    except store.WebhookInvalid as exc:
        return plain(f"{escape(str(exc))}\n{USAGE}")
    return plain(f"Webhook {hook.id} added: `{escape(store.display_url(hook.url))}` "
                 f"({escape(', '.join(hook.events) or 'all case events')}).\n"
                 f"Signing secret — shown only this once, give it to the receiver: `{escape(hook.secret)}`\n"
                 f"`/social webhooks test {hook.id}` checks that it works.")


def test(deps: Deps, client: WebClient | None, *, user_id: str, channel_id: str, webhook_id: int) -> Reply:
    with read_scope(deps.engine) as session:
        store.get_webhook(session=session, webhook_id=webhook_id)  # raises WebhookNotFound: answered in the ack
    sending = plain(f"Sending a test ping to webhook {webhook_id}… I will tell you how it went.")
    if client is None:
        return sending
    return replace(sending, after=lambda: send_and_tell(deps, client, user_id=user_id, channel_id=channel_id,
                                                       webhook_id=webhook_id))


def test_outcome_text(webhook_id: int, outcome: str, description: str) -> str:
    icon = "✅" if outcome == "delivered" else "❌"
    text = f"{icon} Test ping to webhook {webhook_id}: {escape(description)}"
    if outcome != "delivered":
        text += (". Check that the receiver is up, answers 2xx within 10 s, and checks the signature with the "
                 "secret it was given; `/social webhooks log " + str(webhook_id) + "` shows past attempts.")
    return text


def send_and_tell(deps: Deps, client: WebClient, *, user_id: str, channel_id: str, webhook_id: int) -> None:
    try:
        result = send_test_ping(engine=deps.engine, clock=deps.clock, webhook_id=webhook_id,
                                allow_loopback=loopback_allowed(deps))
        text = test_outcome_text(webhook_id, result.outcome, result.describe())
    except store.WebhookNotFound:
        text = f"Webhook {webhook_id} was removed before the test ping went out."
    tell(client, user_id=user_id, channel_id=channel_id, text=text)


def tell(client: WebClient, *, user_id: str, channel_id: str, text: str) -> None:
    """An ephemeral line where the command was typed; a DM when that channel does not take one."""
    if channel_id:
        try:
            client.chat_postEphemeral(channel=channel_id, user=user_id, text=text)
            return
        except SlackApiError as exc:
            log.info("webhook test outcome not shown in %s (%s); sending a DM", channel_id,
                     exc.response.get("error") if exc.response is not None else exc)
    dm = client.conversations_open(users=user_id)["channel"]["id"]
    client.chat_postMessage(channel=dm, text=text)
