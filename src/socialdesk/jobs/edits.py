"""Posts edited at the source: the new text is stored and its card, or thread message, redrawn.

Streams that report edits (a `StreamEvent` of kind "update") hand them here. A post
socialdesk never stored is no concern of ours; one removed at the source stays removed.
"""

from __future__ import annotations

import logging
from datetime import datetime

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import Engine

from socialdesk.domain import Post
from socialdesk.jobs.retention import refresh_card
from socialdesk.slack import cards
from socialdesk.store import cases as case_store
from socialdesk.store import edits as store
from socialdesk.store.db import session_scope

log = logging.getLogger(__name__)


class EditMarker:
    """Stores one network's edits and rewrites what Slack shows of the edited posts."""

    def __init__(self, *, engine: Engine, slack: WebClient) -> None:
        self._engine, self._slack = engine, slack

    def mark(self, post: Post, now: datetime) -> store.EditedPost | None:
        with session_scope(self._engine) as session:
            edited = store.record_edit(session=session, post=post, now=now)
        if edited is not None:
            log.info("post %s edited at the source; case %s updated", post.external_id, edited.case_id)
        return edited

    def refresh(self, edited: store.EditedPost, post: Post) -> None:
        """Redraw the card (the case's first post) or the follow-up's message in the card's thread."""
        try:
            if edited.case_id is None:
                return
            if edited.first_post and edited.card_ts:
                refresh_card(self._slack, self._engine, edited.case_id)
            elif edited.thread_ts and edited.channel_id:
                message = cards.follow_up_message(case_id=edited.case_id, post_id=edited.post_id, post=post)
                self._slack.chat_update(channel=edited.channel_id, ts=edited.thread_ts, **message)
        except (SlackApiError, OSError, case_store.CaseNotFound) as exc:
            error = exc.response.get("error") if isinstance(exc, SlackApiError) else exc
            log.error("case %s: the Slack message of edited post %s still shows the old text (%s); the "
                      "database has the new one, and the next change to the case redraws the card",
                      edited.case_id, edited.external_id, error)
