"""Modal submissions for notes, assignment, ignoring, tags and priority."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from socialdesk.domain import CaseStatus, CaseView
from socialdesk.listeners.common import (
    load_view,
    meta_id,
    metadata_of,
    refresh,
    tell,
    user_of,
)
from socialdesk.listeners import home_page
from socialdesk.listeners.binding import with_deps
from socialdesk.listeners.deps import Deps
from socialdesk.slack import ids, messages
from socialdesk.slack.blocks import modals
from socialdesk.slack.text import escape
from socialdesk.store import lifecycle
from socialdesk.store.db import session_scope

MAX_SELECTED = 100  # a multi-select offers at most 100 options
SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,20}$")
SLACKBOT = "USLACKBOT"
BAD_METADATA = ("socialdesk can't tell which case this window is for, so nothing was saved. "
                "Close it and open it again from the case's card.")


def state_value(view: dict[str, Any], block_prefix: str, action_id: str) -> dict[str, Any]:
    """The submitted element, whatever revision suffix its block id carries; {} for anything malformed."""
    state = view.get("state") if isinstance(view, dict) else None
    values = state.get("values") if isinstance(state, dict) else None
    if not isinstance(values, dict):
        return {}
    for block_id, actions in values.items():
        if isinstance(block_id, str) and (block_id == block_prefix or block_id.startswith(block_prefix + "-")):
            element = actions.get(action_id) if isinstance(actions, dict) else None
            return element if isinstance(element, dict) else {}
    return {}


def text_input(view: dict[str, Any], block_prefix: str, action_id: str) -> str:
    """A plain_text_input's value, "" when absent or not text."""
    value = state_value(view, block_prefix, action_id).get("value")
    return value if isinstance(value, str) else ""


def selected_value(view: dict[str, Any], block_prefix: str, action_id: str, key: str = "selected_option") -> str | None:
    """A single select's chosen value (or `selected_user` etc. when `key` says so), None when absent."""
    chosen = state_value(view, block_prefix, action_id).get(key)
    if isinstance(chosen, dict):
        chosen = chosen.get("value")
    return chosen if isinstance(chosen, str) else None


def selected_values(view: dict[str, Any], block_prefix: str, action_id: str) -> list[str] | None:
    """A multi-select's chosen values, in order; None when they are not the list of options Slack sends."""
    chosen = state_value(view, block_prefix, action_id).get("selected_options")
    if chosen is None:
        return []
    if not isinstance(chosen, list) or len(chosen) > MAX_SELECTED:
        return None
    values = [o.get("value") if isinstance(o, dict) else None for o in chosen]
    return values if all(isinstance(v, str) for v in values) else None  # type: ignore[return-value]


def length_problem(text: str, limit: int, what: str) -> str | None:
    if len(text) > limit:
        return f"That {what} is {len(text):,} characters; the most is {limit:,}. Shorten it, or split it in two."
    return None


def tags_problem(chosen: list[str] | None, known: Sequence[str], care: Sequence[str] = ()) -> str | None:
    """Why the submitted tags can't be kept, or None: only the team's tags (SOCIALDESK_TAGS) are, and
    the care topics triage tags cases with (`care`)."""
    if chosen is None:
        return "Choose tags from the list."
    allowed = {modals.tag_value(t) for t in [*known, *care]}
    unknown = [t for t in dict.fromkeys(chosen) if t not in allowed]
    if not unknown:
        return None
    shown = ", ".join(f"“{t[:30]}{'…' if len(t) > 30 else ''}”" for t in unknown[:3])
    more = f" and {len(unknown) - 3} more" if len(unknown) > 3 else ""
    listed = ", ".join(known[:20]) if known else "none are configured"
    topics = f" or the care topics ({', '.join(care[:20])})" if care else ""
    return (f"{shown}{more} {'is' if len(unknown) == 1 else 'are'} not one of the team's tags "
            f"(SOCIALDESK_TAGS: {listed}){topics}. Choose from the list; an admin adds new tags.")[:2000]


def case_of(body: dict[str, Any]) -> int | None:
    return meta_id(metadata_of(body.get("view")))


def changed_since(view: CaseView, shown: object) -> str | None:
    """Why a window's submission is not applied: the case's status or owner is not what it showed
    (`modals.seen`), so a teammate acted meanwhile; None when it is (or the window kept no such record)."""
    if not isinstance(shown, dict) or (shown.get("status"), shown.get("assignee")) == (view.status.value, view.assignee):
        return None
    owner = f" and <@{view.assignee}> owns it" if view.assignee else ""
    return (f"Case #{view.case_id} changed while your window was open: it is {messages.NOW_IS[view.status]} now"
            f"{owner}. Nothing was done; look at its card, then try again if it still needs it.")


def apply(body: dict[str, Any], client: WebClient, deps: Deps, change, thread_text: str, action: str,  # type: ignore[no-untyped-def]
          **extra: Any) -> None:
    """`change` the case the window or button names, unless a window's `seen` says it changed since (then
    only if it is still as seen: `expected_version`)."""
    user, case_id = user_of(body), case_of(body)
    view = load_view(deps, case_id) if case_id is not None else None
    if view is None:
        tell(client, channel=None, user=user, text=messages.case_missing(str(case_id)))
        return
    shown = metadata_of(body.get("view")).get("seen")
    if isinstance(shown, dict):
        problem = changed_since(view, shown)
        if problem:
            tell(client, channel=view.channel_id, user=user, text=problem)
            return
        extra["expected_version"] = view.version  # and no change between this read and the write
    with session_scope(deps.engine) as session:
        result = change(session=session, case_id=case_id, user_id=user, now=deps.clock(), **extra)
    if result.ok:
        refresh(client, deps, case_id, thread_text)
    else:
        tell(client, channel=view.channel_id, user=user,
             text=messages.transition_refused(action, CaseStatus(result.case.status), result.case.assignee, case_id))


def refused(ack: Ack, body: dict[str, Any], block: str, problem: str | None) -> bool:
    """Answer the submission with `problem` inline (that is its ack); also when the modal names no case.

    Checked without the database, before the ack: a missing case is told after it.
    """
    if problem is None and case_of(body) is None:
        problem = BAD_METADATA
    if problem is None:
        return False
    ack(response_action="errors", errors={block: problem})
    return True


def note_submitted(ack: Ack, body: dict[str, Any], client: WebClient, *, deps: Deps) -> None:
    text = text_input(body.get("view") or {}, ids.NOTE_INPUT, ids.NOTE_INPUT)
    problem = length_problem(text, modals.NOTE_MAX_LENGTH, "note")  # before anything else reads all of it
    text = text.strip() if problem is None else ""
    if problem is None and not text:
        problem = "Write something, or press Cancel."
    if refused(ack, body, ids.NOTE_INPUT, problem):
        return
    ack()
    user = user_of(body)
    deps.later(apply, body, client, deps, lifecycle.add_note, messages.note(user, text), "noted", text=text)


def assign_submitted(ack: Ack, body: dict[str, Any], client: WebClient, *, deps: Deps) -> None:
    assignee = selected_value(body.get("view") or {}, ids.ASSIGNEE_INPUT, ids.ASSIGNEE_INPUT, "selected_user")
    valid = assignee is not None and SLACK_USER.match(assignee) is not None
    problem = None if valid else "Choose someone."
    if assignee == SLACKBOT:  # the picker offers it; a case it holds leaves the queue and nobody works it
        problem = "Choose a person, not Slackbot."
    if refused(ack, body, ids.ASSIGNEE_INPUT, problem):
        return
    ack()
    deps.later(assign, body, client, deps, assignee)


def assign(body: dict[str, Any], client: WebClient, deps: Deps, assignee: str) -> None:
    """Assign, then send the assignee's DM at once (lifecycle.assign queued it with the change); when
    the modal was opened from App Home's queue, the Home follows (the case leaves it)."""
    user, case_id = user_of(body), case_of(body)
    # The DM (lifecycle.assign queues one unless they assign themselves or already own it) tells the
    # assignee; then the thread names them without a mention, so they are told once.
    before = load_view(deps, case_id) if case_id is not None else None
    if deps.names is not None and before is not None and deps.names.is_person(assignee) is False:
        # The picker offers bots, apps and deactivated accounts too: a case one held would leave the queue unworked.
        tell(client, channel=before.channel_id, user=user, text=(
            f"{escape(deps.names.name(assignee))} is a bot, an app or a deactivated account, so case #{before.case_id} "
            "was not assigned. Assign it to a person."))
        return
    dm = assignee != user and (before is None or before.assignee != assignee)
    told_as = deps.names.name(assignee) if deps.names is not None and dm else None
    apply(body, client, deps, lifecycle.assign, messages.assigned(user, assignee, told_as=told_as), "assigned",
          assignee=assignee)
    deps.notify()
    if metadata_of(body.get("view")).get("home") is True:
        home_page.publish(deps, client, user)


def ignore_submitted(ack: Ack, body: dict[str, Any], client: WebClient, *, deps: Deps) -> None:
    reason = selected_value(body.get("view") or {}, ids.IGNORE_REASON_INPUT, ids.IGNORE_REASON_INPUT)
    if refused(ack, body, ids.IGNORE_REASON_INPUT, None if reason in lifecycle.IGNORE_REASONS else "Choose a reason."):
        return
    ack()
    user = user_of(body)
    deps.later(apply, body, client, deps, lifecycle.ignore, messages.ignored(user, reason), "ignored", reason=reason)


def tags_submitted(ack: Ack, body: dict[str, Any], client: WebClient, *, deps: Deps) -> None:
    view = body.get("view") or {}
    chosen = selected_values(view, ids.TAGS_INPUT, ids.TAGS_INPUT)
    priority = selected_value(view, ids.PRIORITY_INPUT, ids.PRIORITY_INPUT)
    problem = tags_problem(chosen, deps.tags, [t for t in deps.case_tags if t not in deps.tags])
    if problem is not None:
        ack(response_action="errors", errors={ids.TAGS_INPUT: problem})
        return
    if refused(ack, body, ids.PRIORITY_INPUT, None if priority in lifecycle.PRIORITIES else "Choose a priority."):
        return
    ack()
    by_value = {modals.tag_value(t): t for t in deps.case_tags}
    tags = [by_value[v] for v in chosen or []]
    # What the window showed (its blocks come back as we sent them): the change is the difference.
    shown_tags = [by_value[v] for v in shown_values(view, ids.TAGS_INPUT) if v in by_value]
    shown_priority = shown_values(view, ids.PRIORITY_INPUT)
    deps.later(save_tags, body, client, deps, added=[t for t in tags if t not in shown_tags],
               removed=[t for t in shown_tags if t not in tags],
               priority=None if shown_priority == [priority] else priority)


def shown_values(view: dict[str, Any], block_id: str) -> list[str]:
    """The options a window's select started with (`initial_options`, or its `initial_option`)."""
    block = next((b for b in view.get("blocks") or [] if isinstance(b, dict) and b.get("block_id") == block_id), {})
    element = block.get("element") if isinstance(block.get("element"), dict) else {}
    options = element.get("initial_options") or ([element["initial_option"]] if element.get("initial_option") else [])
    return [o["value"] for o in options[:MAX_SELECTED] if isinstance(o, dict) and isinstance(o.get("value"), str)]


# An element's initial value, and the key Slack's submitted state holds it under.
_INITIAL_AS_STATE = (("initial_value", "value"), ("initial_conversation", "selected_conversation"),
                     ("initial_conversations", "selected_conversations"), ("initial_channel", "selected_channel"),
                     ("initial_user", "selected_user"), ("initial_users", "selected_users"),
                     ("initial_option", "selected_option"), ("initial_options", "selected_options"))


def as_shown(view: dict[str, Any]) -> dict[str, Any]:
    """`view` as if submitted untouched: its state built from its blocks' initial values (the blocks come
    back as we sent them), so what a window showed reads like what it submitted."""
    values: dict[str, Any] = {}
    for block in view.get("blocks") or []:
        element = block.get("element") if isinstance(block, dict) else None
        if not isinstance(element, dict) or not isinstance(block.get("block_id"), str):
            continue
        state: dict[str, Any] = {"type": element.get("type")}
        if element.get("type") in ("checkboxes", "multi_static_select"):
            state["selected_options"] = []  # nothing ticked is a state too
        for initial, key in _INITIAL_AS_STATE:
            if initial in element:
                state[key] = element[initial]
        values[block["block_id"]] = {str(element.get("action_id")): state}
    return dict(view, state={"values": values})


def save_tags(body: dict[str, Any], client: WebClient, deps: Deps, *, added: list[str], removed: list[str],
              priority: str | None) -> None:
    user, case_id = user_of(body), case_of(body)
    view = load_view(deps, case_id) if case_id is not None else None
    if view is None:
        tell(client, channel=None, user=user, text=messages.case_missing(str(case_id)))
        return
    with session_scope(deps.engine) as session:
        result = lifecycle.change_tags(session=session, case_id=view.case_id, user_id=user, added=added,
                                       removed=removed, known=deps.case_tags, priority=priority, now=deps.clock())
    if result.ok:
        refresh(client, deps, view.case_id, messages.tagged(user, list(result.case.tags or []), result.case.priority))
    else:  # a teammate's change landed between the read and the write: nothing is lost, try again
        tell(client, channel=view.channel_id, user=user, text=(
            f"Case #{view.case_id} changed as you saved its tags, so nothing was saved. Open Tags & priority again."))


def register(app: App, deps: Deps) -> None:
    for callback_id, handler in ((ids.NOTE_MODAL, note_submitted), (ids.ASSIGN_MODAL, assign_submitted),
                                 (ids.IGNORE_MODAL, ignore_submitted), (ids.TAGS_MODAL, tags_submitted)):
        app.view(callback_id)(with_deps(handler, deps))
