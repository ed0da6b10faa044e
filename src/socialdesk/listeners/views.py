"""Modal submissions for notes, assignment, ignoring, tags and priority."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from socialdesk.domain import CaseStatus
from socialdesk.listeners.common import load_view, refresh, tell, view_metadata
from socialdesk.listeners.deps import Deps
from socialdesk.slack import ids, messages
from socialdesk.store import lifecycle
from socialdesk.store.db import session_scope


def state_value(view: dict[str, Any], block_prefix: str, action_id: str) -> dict[str, Any]:
    """The submitted element, whatever revision suffix its block id carries."""
    for block_id, actions in (view.get("state") or {}).get("values", {}).items():
        if block_id == block_prefix or block_id.startswith(block_prefix + "-"):
            return actions.get(action_id) or {}
    return {}


def register(app: App, deps: Deps) -> None:
    def case_of(view: dict[str, Any]) -> int | None:
        case_id = view_metadata(view).get("case_id")
        return case_id if isinstance(case_id, int) else None

    def apply(body: dict[str, Any], client: WebClient, change, thread_text: str, action: str, **extra: Any) -> None:  # type: ignore[no-untyped-def]
        user, case_id = body["user"]["id"], case_of(body["view"])
        view = load_view(deps, case_id) if case_id is not None else None
        if view is None:
            tell(client, channel=None, user=user, text=messages.case_missing(str(case_id)))
            return
        with session_scope(deps.engine) as session:
            result = change(session=session, case_id=case_id, user_id=user, now=deps.clock(), **extra)
        if result.ok:
            refresh(client, deps, case_id, thread_text)
        else:
            tell(client, channel=view.channel_id, user=user,
                 text=messages.transition_refused(action, CaseStatus(result.case.status), result.case.assignee, case_id))

    @app.view(ids.NOTE_MODAL)
    def note_submitted(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        text = (state_value(body["view"], ids.NOTE_INPUT, ids.NOTE_INPUT).get("value") or "").strip()
        if not text:
            ack(response_action="errors", errors={ids.NOTE_INPUT: "Write something, or press Cancel."})
            return
        ack()
        user = body["user"]["id"]
        apply(body, client, lifecycle.add_note, messages.note(user, text), "noted", text=text)

    @app.view(ids.ASSIGN_MODAL)
    def assign_submitted(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        assignee = state_value(body["view"], ids.ASSIGNEE_INPUT, ids.ASSIGNEE_INPUT).get("selected_user")
        if not assignee:
            ack(response_action="errors", errors={ids.ASSIGNEE_INPUT: "Choose someone."})
            return
        ack()
        user = body["user"]["id"]
        apply(body, client, lifecycle.assign, messages.assigned(user, assignee), "assigned", assignee=assignee)

    @app.view(ids.IGNORE_MODAL)
    def ignore_submitted(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        reason = (state_value(body["view"], ids.IGNORE_REASON_INPUT, ids.IGNORE_REASON_INPUT).get("selected_option") or {}).get("value")
        if reason not in lifecycle.IGNORE_REASONS:
            ack(response_action="errors", errors={ids.IGNORE_REASON_INPUT: "Choose a reason."})
            return
        ack()
        user = body["user"]["id"]
        apply(body, client, lifecycle.ignore, messages.ignored(user, reason), "ignored", reason=reason)

    @app.view(ids.TAGS_MODAL)
    def tags_submitted(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        view = body["view"]
        tags = [o["value"] for o in state_value(view, ids.TAGS_INPUT, ids.TAGS_INPUT).get("selected_options") or []]
        priority = (state_value(view, ids.PRIORITY_INPUT, ids.PRIORITY_INPUT).get("selected_option") or {}).get("value")
        if priority not in lifecycle.PRIORITIES:
            ack(response_action="errors", errors={ids.PRIORITY_INPUT: "Choose a priority."})
            return
        ack()
        user = body["user"]["id"]
        apply(body, client, lifecycle.set_tags, messages.tagged(user, tags, priority), "tagged", tags=tags, priority=priority)
