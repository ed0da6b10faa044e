"""Answers at hand in the reply modal: suggestions, "Use this", and drafted replies.

The modal opens first (`replies.reply_clicked`, right after the ack), then `offer` looks
up the suggestions and draws them in with one views.update: a slow database never delays
the opening. Each update goes with the hash of the view it was made from, so it never
undoes what the agent did meanwhile (typed, chose a saved reply): it loses cleanly.

A draft (only with SOCIALDESK_LLM_URL): the click is acked, the modal shows that a draft
is on its way, the language model is asked in the background (prompt: drafting.prompt),
the prompt and the draft go into the case history (`reply_drafted`), and the draft lands
in the reply box for the agent to edit. It is never sent: only the agent's Send does
that. If the agent changed the modal while the model wrote, their text stays and the
draft (or what went wrong) comes as a direct message instead.
"""

from __future__ import annotations

import functools
import logging
import threading
from typing import Any, Literal

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from socialdesk.domain import CaseView, EventKind
from socialdesk.drafting import prompt
from socialdesk.drafting.client import DraftError
from socialdesk.listeners.binding import after_ack
from socialdesk.listeners.common import action_value, load_view, meta_id, tell, user_of, view_metadata
from socialdesk.listeners.deps import Deps
from socialdesk.listeners.reply_rules import modal_rules
from socialdesk.listeners.views import state_value
from socialdesk.networks.base import NetworkInfo
from socialdesk.slack import ids
from socialdesk.slack.blocks import modals
from socialdesk.slack.blocks.answers import DraftLine
from socialdesk.slack.text import escape_within
from socialdesk.store import suggestions
from socialdesk.store.curated import without_leading_mentions
from socialdesk.store.db import read_scope, session_scope
from socialdesk.store.events import record_event
from socialdesk.logs import about

log = logging.getLogger(__name__)
SUGGESTIONS = 3
MAX_DRAFTS = 4  # drafts written at once: each holds one of the listeners' threads while the model writes
GONE = ("That answer is not there any more (its FAQ entry was withdrawn, or its case deleted), so nothing was put "
        "in the reply box. Use another one, or write the reply yourself.")
Landed = Literal["drawn", "changed", "closed"]


class DraftsInFlight:
    """The reply modals with a draft on its way (this process's): a second click on the same modal
    is dropped, and past `most` at once a click is told to wait, so slow models never take every
    thread that acknowledged clicks' work runs on."""

    def __init__(self, most: int = MAX_DRAFTS) -> None:
        self.most = most
        self._lock = threading.Lock()
        self._views: set[str] = set()

    def take(self, view_id: str) -> Literal["taken", "same", "full"]:
        with self._lock:
            if view_id in self._views:
                return "same"
            if len(self._views) >= self.most:
                return "full"
            self._views.add(view_id)
            return "taken"

    def release(self, view_id: str) -> None:
        with self._lock:
            self._views.discard(view_id)


def draft_line(deps: Deps, case_id: int) -> DraftLine | None:
    """The draft's button for a new reply modal; None (no button) without a language model."""
    if deps.drafter is None:
        return None
    return DraftLine("ready", case_id, deps.drafter.model, timeout=deps.drafter.timeout)


def offer(client: WebClient, deps: Deps, *, opened: dict[str, Any], view: CaseView, rules: NetworkInfo) -> None:
    """The open reply modal gets its suggestions (no update when there are none)."""
    if not opened.get("id") or view.post_removed:  # a removed post's text is a notice: nothing to match
        return
    with read_scope(deps.engine) as session:
        found = _suggestions(session, view)
    if found:
        _draw(client, opened, modals.redrawn(opened, rules, answers=found))


def use_clicked(body: dict[str, Any], client: WebClient, *, deps: Deps) -> None:
    """ "Use this": the suggestion's answer, as it is now, into the reply box, after what was typed there."""
    modal, case_id, rules = _modal(body, deps)
    key = action_value(body)
    view = load_view(deps, case_id) if case_id is not None else None
    if modal is None or rules is None or view is None or not key:
        return
    with read_scope(deps.engine) as session:
        chosen = suggestions.answer_for(session=session, key=key)
    if chosen is None:
        tell(client, channel=None, user=user_of(body), text=GONE)
        return
    typed = state_value(modal, ids.REPLY_INPUT, ids.REPLY_INPUT).get("value")  # the box as it is now: kept
    text = modals.with_answer(typed if isinstance(typed, str) else "", without_leading_mentions(chosen.answer),
                              rules.reply_opening(view.post.author.handle))
    updated = modals.redrawn(modal, rules, text=text)
    if _draw(client, modal, updated)[0] == "changed":
        # A count redraw landed since the click (the usual cause: it changes no text), so the answer goes in
        # anyway, after the text as it was at the click; as a saved reply does (listeners.replies).
        _draw(client, modal, updated, check_hash=False)


def draft_clicked(body: dict[str, Any], client: WebClient, *, deps: Deps,
                  drafts: DraftsInFlight | None = None) -> None:
    """ "✨ Draft a reply": say it is on its way, ask the model, keep prompt and draft, show the draft."""
    modal, case_id, rules = _modal(body, deps)
    drafter = deps.drafter
    view = load_view(deps, case_id) if case_id is not None else None
    if modal is None or rules is None or view is None or drafter is None:  # forged, or the setting was removed
        return
    drafts = drafts or DraftsInFlight()
    taken = drafts.take(modal["id"])
    if taken == "same":  # a second click before the first one's "drafting…" showed
        return
    if taken == "full":
        busy = DraftLine("failed", view.case_id, drafter.model, timeout=drafter.timeout, message=(
            f"{drafts.most} {'draft is' if drafts.most == 1 else 'drafts are'} being written right now, the most "
            "socialdesk writes at once. Try again in a few seconds, or write the reply yourself."))
        _draw(client, modal, modals.redrawn(modal, rules, draft=busy))
        return
    try:
        _draft(client, deps, modal, view, rules, user_of(body))
    finally:
        drafts.release(modal["id"])


def _draft(client: WebClient, deps: Deps, modal: dict[str, Any], view: CaseView, rules: NetworkInfo,
           user: str) -> None:
    drafter = deps.drafter
    assert drafter is not None
    waiting = DraftLine("drafting", view.case_id, drafter.model, timeout=drafter.timeout)
    landed, current = _draw(client, modal, modals.redrawn(modal, rules, draft=waiting))
    if landed == "closed":  # sent or closed before the model was even asked: nobody waits for a draft
        return
    messages = _prompt(deps, view, rules)
    text: str | None = None
    try:
        done = drafter.complete(messages, max_tokens=prompt.max_tokens(rules.text_limit))
    except DraftError as exc:
        log.warning("no draft for case %s from %s: %s", view.case_id, drafter.where, type(exc).__name__,
                    extra=about(case_id=view.case_id))
        line = DraftLine("failed", view.case_id, drafter.model, message=str(exc), timeout=drafter.timeout)
    else:
        with session_scope(deps.engine) as session:
            record_event(session, view.case_id, EventKind.REPLY_DRAFTED, user, deps.clock(), model=done.model,
                         prompt=messages, draft=done.text, cut=done.cut)
        text = addressed(done.text, view, rules)
        note = "The model stopped at the length limit: finish the last sentence." if done.cut else ""
        line = DraftLine("drafted", view.case_id, drafter.model, message=note, timeout=drafter.timeout)
    if landed == "drawn" and current is not None:
        landed, _ = _draw(client, current, modals.redrawn(current, rules, draft=line, text=text))
    if landed == "changed":  # the agent changed the modal meanwhile: their text stays
        tell(client, channel=None, user=user, text=_by_message(view.case_id, line, text))


def addressed(answer: str, view: CaseView, rules: NetworkInfo) -> str:
    """An answer as a reply to this customer: the network's opening ("@dana " where replies name
    whom they answer), not another customer's mention."""
    opening = rules.reply_opening(view.post.author.handle)
    return opening + without_leading_mentions(answer)


def _prompt(deps: Deps, view: CaseView, rules: NetworkInfo) -> list[dict[str, str]]:
    with read_scope(deps.engine) as session:
        thread = suggestions.thread(session=session, case_id=view.case_id)
        found = _suggestions(session, view) if not view.post_removed else []
    case = prompt.Case(case_id=view.case_id, brand=deps.brand(view.post.network).lstrip("@"), network=rules.label,
                       text_limit=rules.text_limit, text_hint=rules.text_hint, customer=view.post.author.handle,
                       lang=view.post.lang, thread=thread)
    return prompt.messages(case, found)


def _suggestions(session: Any, view: CaseView) -> list[suggestions.Suggestion]:
    # The rule's words are in every post it found: they tell nothing about this one.
    return suggestions.suggest(session=session, case_id=view.case_id, post_text=view.post.text, limit=SUGGESTIONS,
                               common=view.rule_query or "")


def _by_message(case_id: int, line: DraftLine, text: str | None) -> str:
    if text is None:
        return f"✨ No draft for case #{case_id}: {escape_within(line.message, 2500)[0]}"
    draft, cut = escape_within(text, 2500)
    quoted = ">" + (draft + ("…" if cut else "")).replace("\n", "\n>")
    return (f"✨ Your drafted reply for case #{case_id} is ready, but the reply window changed while it was being "
            "written, so it was not put in and your text is kept. Here it is, to copy what helps:\n" + quoted)


def _modal(body: dict[str, Any], deps: Deps) -> tuple[dict[str, Any] | None, int | None, NetworkInfo | None]:
    """The reply modal a click came from, its case id and how replies are counted there (None: not ours)."""
    modal = body.get("view")
    if not isinstance(modal, dict) or not isinstance(modal.get("id"), str) or len(modal["id"]) > 40:
        return None, None, None
    meta = view_metadata(modal)
    return modal, meta_id(meta), modal_rules(deps, meta)


def _draw(client: WebClient, modal: dict[str, Any], updated: dict[str, Any] | None,
          check_hash: bool = True) -> tuple[Landed, dict | None]:
    """views.update from the view `modal` as it was: "drawn" (with the view Slack holds now), or
    "changed" / "closed" when the agent changed or closed it since (nothing drawn)."""
    if updated is None:
        return "changed", None
    hash_ = modal.get("hash") if check_hash else None
    try:
        answer = client.views_update(view_id=modal["id"], hash=hash_ if isinstance(hash_, str) else None,
                                     view=updated)
    except SlackApiError as exc:
        error = exc.response.get("error")
        if error not in ("hash_conflict", "not_found"):
            raise
        log.debug("the reply modal %s was not redrawn (%s)", str(modal["id"])[:40], error)
        return ("changed" if error == "hash_conflict" else "closed"), None
    drawn = answer.get("view")
    return "drawn", drawn if isinstance(drawn, dict) else None


def register(app: App, deps: Deps) -> None:
    app.action(ids.USE_ANSWER)(after_ack(use_clicked, deps))
    drafting = functools.update_wrapper(functools.partial(draft_clicked, drafts=DraftsInFlight()), draft_clicked)
    app.action(ids.DRAFT_REPLY)(after_ack(drafting, deps))
