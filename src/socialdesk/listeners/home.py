"""App Home: publishing the tab, the viewer's saved view of the queue, and what admins do there (pause, resume
and edit rules; add and remove digests).

Every click is acked first. Whether the clicker may manage things is checked again on
every action and submission (a Home published for an admin stays on screen after they
stop being one). A refusal, or a rule that vanished meanwhile, is shown as a line at
the top of the re-published Home: the Home tab has no channel for an ephemeral message.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from socialdesk import queue_filter
from socialdesk import rules as rule_rules
from socialdesk.listeners.binding import after_ack, with_deps
from socialdesk.health import resume_notice
from socialdesk.listeners.deps import Deps
from socialdesk.listeners.home_page import publish
from socialdesk.listeners.views import as_shown, state_value, text_input
from socialdesk.schedules import canonical_spec
from socialdesk.listeners.common import action_value, id_from, meta_id, metadata_of, open_view
from socialdesk.slack import ids
from socialdesk.slack.blocks import queue as queue_blocks
from socialdesk.slack.blocks.admin import digest_modal, route_block_id, rule_modal
from socialdesk.slack.text import escape
from socialdesk.store import digests as digest_store
from socialdesk.store import rules as rule_store
from socialdesk.store import saved_views
from socialdesk.store.db import read_scope, session_scope
from socialdesk.store.views import rule_view
from socialdesk.logs import about

log = logging.getLogger(__name__)

NOT_ADMIN = ("Only socialdesk admins can {what}. Ask a workspace admin, or someone listed in "
             "SOCIALDESK_ADMINS, to do it or to add you there.")
MAX_FOLLOWERS = 10**12
MAX_INPUT = 3000  # Slack's most for a text box


def _action_id_value(body: dict[str, Any]) -> int | None:
    return id_from(action_value(body))


def _user(body: dict[str, Any]) -> str:
    return (body.get("user") or {}).get("id", "")


def _selected(view: dict[str, Any], block: str, key: str) -> Any:
    """A submitted value as Slack sends it (text, or a list of ids); None for anything else (a forged view)."""
    value = state_value(view, block, block).get(key)
    if not key.endswith("s") and isinstance(value, str) and len(value) <= MAX_INPUT:
        return value
    if (key.endswith("s") and isinstance(value, list) and len(value) <= 100
            and all(isinstance(v, str) and len(v) < 40 for v in value)):
        return value
    return None


def _ids(value: Any) -> list[str]:
    return value if isinstance(value, list) else []


def rule_errors(view: dict[str, Any], rule: Any, *, streamed: int = 0) -> tuple[dict[str, str], dict[str, Any]]:
    """The rule editor's values checked like `socialdesk rules add`: (errors per block, the new values).

    `streamed`: how many of the network's other rules are marked for its stream (its limit)."""
    errors: dict[str, str] = {}
    query = rule.query if rule.kind == "mentions" else (_selected(view, ids.RULE_QUERY_INPUT, "value") or "").strip()
    channel = _selected(view, ids.RULE_CHANNEL_INPUT, "selected_conversation")
    channel = channel if isinstance(channel, str) else ""
    every_text = (_selected(view, ids.RULE_EVERY_INPUT, "value") or "").strip()
    followers_text = (_selected(view, ids.RULE_FOLLOWERS_INPUT, "value") or "").strip().replace(",", "")
    keywords = rule_rules.parse_keywords(_selected(view, ids.RULE_KEYWORDS_INPUT, "value"))
    every = int(every_text) if every_text.isascii() and every_text.isdigit() else None
    if every is None:
        errors[ids.RULE_EVERY_INPUT] = f"Give a whole number of seconds, {rule_rules.POLL_RANGE}."
    elif every < rule_rules.MIN_POLL_SECONDS:
        errors[ids.RULE_EVERY_INPUT] = (f"{every} s is too often; the minimum is {rule_rules.MIN_POLL_SECONDS} "
                                        "seconds.")
    elif every > rule_rules.MAX_POLL_SECONDS:
        errors[ids.RULE_EVERY_INPUT] = f"{every} s is longer than a day; give an interval {rule_rules.POLL_RANGE}."
    try:
        sla_targets = rule_rules.parse_rule_sla(_selected(view, ids.RULE_SLA_INPUT, "value"))
    except ValueError as exc:
        sla_targets = None
        errors[ids.RULE_SLA_INPUT] = f"{str(exc)[:200]}. Write targets like high=15m, normal=1h, or leave it empty."
    followers = None
    if followers_text:
        if followers_text.isascii() and followers_text.isdigit() and int(followers_text) < MAX_FOLLOWERS:
            followers = int(followers_text)
        else:
            errors[ids.RULE_FOLLOWERS_INPUT] = "Give a number of followers, like 10000, or leave it empty."
    if not errors:
        try:
            rule_rules.validate(rule.network, query, every or 0, channel, kind=rule.kind)
        except rule_rules.RuleInvalid as exc:
            block = ids.RULE_CHANNEL_INPUT if "channel" in str(exc) else ids.RULE_QUERY_INPUT
            if rule.kind == "mentions":
                block = ids.RULE_CHANNEL_INPUT
            errors[block] = rule_rules.spelled(str(exc), "/social")[:2000]
    values = dict(query=query, channel_id=channel, every_seconds=every or 0, priority_keywords=keywords,
                  priority_followers=followers, sla_targets=sla_targets)
    stream = _stream_choice(view) if rule.kind == "search" else None  # a forged box on another kind: ignored
    if stream is not None and not errors:
        if stream:
            try:
                rule_rules.validate_stream(rule.network, query, streamed=streamed)
            except rule_rules.RuleInvalid as exc:
                said = rule_rules.spelled(str(exc), "/social")
                for flag, box in (("leave out --stream", "untick the live stream"),
                                  ("Leave out --stream", "Untick the live stream"), ("--stream", "the live stream")):
                    said = said.replace(flag, box)
                errors[ids.RULE_STREAM_INPUT] = said[:2000]
        values["stream"] = stream
    values["ignore_spam"] = _box_ticked(view, ids.RULE_SPAM_INPUT, ids.RULE_SPAM_ON)
    try:
        values["routes"] = _routes(view)
    except rule_rules.RuleInvalid as exc:
        errors[ids.RULE_TAG_ROUTES_INPUT] = f"{str(exc)[:1000]}."
    return errors, values


def _box_ticked(view: dict[str, Any], block: str, option: str) -> bool | None:
    """Whether a one-option checkbox was ticked; None when the view had no such block (nothing to change)."""
    if block not in ((view.get("state") or {}).get("values") or {}):
        return None
    chosen = state_value(view, block, block).get("selected_options")
    return isinstance(chosen, list) and any(isinstance(o, dict) and o.get("value") == option for o in chosen[:5])


def _routes(view: dict[str, Any]) -> dict[str, str] | None:
    """The editor's routes: a channel per intent and "tag=channel" pairs; None when the view had none of them."""
    submitted = (view.get("state") or {}).get("values") or {}
    blocks = [route_block_id(i) for i in rule_rules.route_names()]
    if ids.RULE_TAG_ROUTES_INPUT not in submitted and not any(b in submitted for b in blocks):
        return None
    specs = []
    for intent, block in zip(rule_rules.route_names(), blocks):
        chosen = state_value(view, block, ids.RULE_ROUTE_INPUT).get("selected_conversations")
        if isinstance(chosen, list) and chosen and isinstance(chosen[0], str):
            specs.append(f"{intent}={chosen[0][:40]}")
    tags = _selected(view, ids.RULE_TAG_ROUTES_INPUT, "value") or ""
    specs += [f"{rule_rules.TAG_ROUTE}{pair.strip()}" for pair in tags.split(",") if pair.strip()]
    return rule_rules.parse_routes(specs)


def _stream_choice(view: dict[str, Any]) -> bool | None:
    """The editor's "Live stream" box: ticked or not; None when the editor had none (the network's stream takes every rule)."""
    return _box_ticked(view, ids.RULE_STREAM_INPUT, ids.RULE_STREAM_ON)


def refused(client: WebClient, deps: Deps, user: str, what: str) -> bool:
    """Publish the refusal and say so, unless `user` may manage things."""
    if deps.is_admin(user):
        return False
    publish(deps, client, user, notice=NOT_ADMIN.format(what=what))
    return True


def admin_click(body: dict[str, Any], client: WebClient, deps: Deps, what: str) -> tuple[str, int] | None:
    """(who clicked, the id on the button) when they may `what`; else None, with the refusal shown."""
    user = _user(body)
    if refused(client, deps, user, what):
        return None
    return user, _action_id_value(body) or 0


def refresh_clicked(body: dict[str, Any], client: WebClient, *, deps: Deps) -> None:
    publish(deps, client, _user(body))


def set_paused(body: dict[str, Any], client: WebClient, deps: Deps, paused: bool) -> None:
    clicked = admin_click(body, client, deps, "pause or resume rules")
    if clicked is None:
        return
    user, rule_id = clicked
    notice = None
    try:
        with session_scope(deps.engine) as session:
            now = deps.clock()
            rule = rule_store.set_paused(session=session, rule_id=rule_id, paused=paused, now=now)
            if not paused and (lost := resume_notice(rule, network=deps.networks.get(rule.network), now=now)):
                notice = f"Rule {rule_id} resumed. {lost}"
        log.info("rule %s %s by %s from App Home", rule_id, "paused" if paused else "resumed", user,
                 extra=about(rule_id=rule_id))
    except rule_store.RuleNotFound:
        notice = f"Rule {rule_id or '?'} no longer exists; someone removed it. The list below is current."
    publish(deps, client, user, notice=notice)


def pause_clicked(body: dict[str, Any], client: WebClient, *, deps: Deps) -> None:
    set_paused(body, client, deps, True)


def resume_clicked(body: dict[str, Any], client: WebClient, *, deps: Deps) -> None:
    set_paused(body, client, deps, False)


def edit_clicked(body: dict[str, Any], client: WebClient, *, deps: Deps) -> None:
    clicked = admin_click(body, client, deps, "edit rules")
    if clicked is None:
        return
    user, rule_id = clicked
    try:
        with read_scope(deps.engine) as session:
            rule = rule_view(rule_store.get_rule(session=session, rule_id=rule_id))
    except rule_store.RuleNotFound:
        publish(deps, client, user, notice=f"Rule {rule_id} no longer exists; someone removed it.")
        return
    open_view(client, body, rule_modal(rule))


def rule_submitted(ack: Ack, body: dict[str, Any], client: WebClient, *, deps: Deps) -> None:
    user, view = _user(body), body["view"]
    first_block = next((b.get("block_id") for b in view.get("blocks") or [] if b.get("type") == "input"),
                       ids.RULE_CHANNEL_INPUT)
    if deps.admin_known(user) is False:  # the cache only (the ack never waits on Slack): save_rule asks it
        ack(response_action="errors", errors={first_block: NOT_ADMIN.format(what="edit rules")})
        return
    rule_id = meta_id(metadata_of(view), "rule_id")
    try:
        with read_scope(deps.engine) as session:
            rule = rule_store.get_rule(session=session, rule_id=rule_id or 0)
            streamed = rule_store.streamed_count(session=session, network=rule.network, excluding=rule.id)
    except rule_store.RuleNotFound:
        ack(response_action="errors", errors={first_block: "This rule no longer exists; close this window."})
        return
    errors, values = rule_errors(view, rule, streamed=streamed)
    if errors:
        ack(response_action="errors", errors=errors)
        return
    ack()
    # Only what the admin changed in the window is saved: its whole form would undo another admin's
    # edit made since it opened.
    shown = rule_errors(as_shown(view), rule, streamed=streamed)[1]
    changed = {key: value for key, value in values.items() if key not in shown or shown[key] != value}
    deps.later(save_rule, client, deps, user=user, rule_id=rule.id, values=changed)


def save_rule(client: WebClient, deps: Deps, *, user: str, rule_id: int, values: dict[str, Any]) -> None:
    if not deps.is_admin(user):
        publish(deps, client, user, notice=f"Rule {rule_id} was not changed. " + NOT_ADMIN.format(what="edit rules"))
        return
    notice = None
    try:
        stream = values.pop("stream", None)
        with session_scope(deps.engine) as session:
            now = rule_store.get_rule(session=session, rule_id=rule_id)  # what `values` does not change stays
            kept = dict(query=now.query, channel_id=now.channel_id, every_seconds=now.every_seconds,
                        priority_keywords=now.priority_keywords, priority_followers=now.priority_followers,
                        sla_targets=now.sla_targets)
            rule_store.update_rule(session=session, rule_id=rule_id, **(kept | values))
            if stream is not None:
                rule_store.set_stream(session=session, rule_id=rule_id, stream=stream)
        log.info("rule %s edited by %s from App Home", rule_id, user, extra=about(rule_id=rule_id))
    except rule_store.RuleNotFound:
        notice = f"Rule {rule_id} was removed while you edited it; nothing was saved."
    publish(deps, client, user, notice=notice)


def add_digest_clicked(body: dict[str, Any], client: WebClient, *, deps: Deps) -> None:
    if refused(client, deps, _user(body), "schedule digests"):
        return
    open_view(client, body, digest_modal(timezone=deps.tz.key))


def digest_submitted(ack: Ack, body: dict[str, Any], client: WebClient, *, deps: Deps) -> None:
    user, view = _user(body), body["view"]
    if deps.admin_known(user) is False:  # the cache only: save_digest asks Slack
        ack(response_action="errors", errors={ids.DIGEST_SPEC_INPUT: NOT_ADMIN.format(what="schedule digests")})
        return
    spec = (_selected(view, ids.DIGEST_SPEC_INPUT, "value") or "").strip()
    targets = [*_ids(_selected(view, ids.DIGEST_CHANNELS_INPUT, "selected_conversations")),
               *_ids(_selected(view, ids.DIGEST_USERS_INPUT, "selected_users"))]
    errors: dict[str, str] = {}
    try:
        canonical_spec(spec)
    except ValueError as exc:
        errors[ids.DIGEST_SPEC_INPUT] = f"{str(exc)[:1900]} Write e.g. daily 09:00 or weekly mon 09:00."
    try:
        digest_store.check_targets(targets)
    except ValueError as exc:
        errors[ids.DIGEST_CHANNELS_INPUT] = str(exc)[:2000]
    if errors:
        ack(response_action="errors", errors=errors)
        return
    ack()
    deps.later(save_digest, client, deps, user=user, spec=spec, targets=targets)


def save_digest(client: WebClient, deps: Deps, *, user: str, spec: str, targets: list[str]) -> None:
    if not deps.is_admin(user):
        publish(deps, client, user, notice=f"The digest ({escape(spec)}) was not scheduled. "
                                           + NOT_ADMIN.format(what="schedule digests"))
        return
    with session_scope(deps.engine) as session:
        row = digest_store.add_schedule(session=session, spec=spec, targets=targets, created_by=user,
                                        now=deps.clock())
    log.info("digest schedule %s (%s) added by %s from App Home", row.id, row.spec, user)
    publish(deps, client, user)


def remove_digest_clicked(body: dict[str, Any], client: WebClient, *, deps: Deps) -> None:
    clicked = admin_click(body, client, deps, "remove digests")
    if clicked is None:
        return
    user, schedule_id = clicked
    with session_scope(deps.engine) as session:
        removed = digest_store.remove_schedule(session=session, schedule_id=schedule_id)
    if removed:
        log.info("digest schedule %s removed by %s from App Home", schedule_id, user)
    publish(deps, client, user, notice=None if removed else "That digest was already removed.")


def filter_clicked(body: dict[str, Any], client: WebClient, *, deps: Deps) -> None:
    """"Filter…" above the backlog: the viewer's saved view, to change (anyone may: it is their own)."""
    with read_scope(deps.engine) as session:
        saved = saved_views.queue_filter(session=session, user_id=_user(body))
    open_view(client, body, queue_blocks.filter_modal(saved))


def clear_clicked(body: dict[str, Any], client: WebClient, *, deps: Deps) -> None:
    save_filter(client, deps, user=_user(body), text="")


def filter_submitted(ack: Ack, body: dict[str, Any], client: WebClient, *, deps: Deps) -> None:
    """The filter modal: checked before the ack (a mistake is shown under the box), then saved and shown."""
    typed = text_input(body.get("view") or {}, ids.QUEUE_FILTER_INPUT, ids.QUEUE_FILTER_INPUT)
    try:
        filters = queue_filter.parse(typed, tags=deps.case_tags)
    except queue_filter.FilterError as exc:
        # A modal's errors are plain text: the message's mrkdwn escapes are undone there.
        shown = str(exc).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
        ack(response_action="errors", errors={ids.QUEUE_FILTER_INPUT: shown[:2000]})
        return
    ack()
    deps.later(save_filter, client, deps, user=_user(body), text=filters.text())


def save_filter(client: WebClient, deps: Deps, *, user: str, text: str) -> None:
    with session_scope(deps.engine) as session:
        saved_views.save_queue_filter(session=session, user_id=user, text=text, now=deps.clock())
    publish(deps, client, user)


def home_opened(body: dict[str, Any], client: WebClient, *, deps: Deps) -> None:
    """app_home_opened (listeners.events registers it): the Home as it is now."""
    event = body.get("event") or {}
    if event.get("tab") not in (None, "home") or not isinstance(event.get("user"), str):
        return
    publish(deps, client, event["user"])


def register(app: App, deps: Deps) -> None:
    for action_id, work in ((ids.HOME_REFRESH, refresh_clicked), (ids.HOME_RULE_PAUSE, pause_clicked),
                            (ids.HOME_RULE_RESUME, resume_clicked), (ids.HOME_RULE_EDIT, edit_clicked),
                            (ids.HOME_DIGEST_ADD, add_digest_clicked), (ids.HOME_DIGEST_REMOVE, remove_digest_clicked)):
        app.action(action_id)(after_ack(work, deps))
    for action_id, work in ((ids.HOME_QUEUE_FILTER, filter_clicked), (ids.HOME_QUEUE_CLEAR, clear_clicked)):
        app.action(action_id)(after_ack(work, deps))
    app.view(ids.QUEUE_FILTER_MODAL)(with_deps(filter_submitted, deps))
    app.view(ids.RULE_MODAL)(with_deps(rule_submitted, deps))
    app.view(ids.DIGEST_MODAL)(with_deps(digest_submitted, deps))
